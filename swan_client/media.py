"""Media types for `run.log`: `Image`, `Audio`, `Text`, `Table`.

Each object is encoded once, when it is created (the caller may reuse its array afterwards),
into the bytes of one file: PNG (or the file given), WAV, UTF-8 text, or JSON for tables. The
run stores the file under `media/<kind>/<key>/...` among its artifacts and indexes it."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import wave
from pathlib import Path

MAX_TEXT_BYTES = 10 * 1024 * 1024
MAX_TABLE_CELLS = 1_000_000
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MediaError(ValueError):
    """A value that cannot become this media type (the message says why)."""


def media_path(kind: str, key: str, step: int, seq: int, ext: str, data: bytes) -> str:
    """`media/<kind>/<key, made path-safe>/<step>-<seq>-<hash>.<ext>`: stable for the same bytes,
    so a resend lands on the same file."""
    safe_key = "/".join(_SAFE.sub("_", part) or "_" for part in key.split("/") if part not in ("", ".", ".."))
    digest = hashlib.sha1(data).hexdigest()[:10]
    return f"media/{kind}/{safe_key or '_'}/{step}-{seq}-{digest}.{ext}"


class Media:
    kind = "file"
    ext = "bin"

    def __init__(self, caption: str | None = None):
        if caption is not None and not isinstance(caption, str):
            caption = str(caption)
        self.caption = caption
        self._data: bytes = b""

    def encode(self) -> bytes:
        return self._data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._data)} bytes{', ' + repr(self.caption) if self.caption else ''})"


def _read_path(path) -> tuple[bytes, str]:
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"no such file: {p}")
    return p.read_bytes(), (p.suffix.lstrip(".").lower() or "bin")


class Image(Media):
    """An image from a numpy array (H×W grey, H×W×3 RGB, H×W×4 RGBA; uint8, or floats in
    [0, 1]), a PIL image, or a path to an image file (stored as it is)."""

    kind = "image"

    def __init__(self, data, caption: str | None = None, file_type: str = "png"):
        super().__init__(caption)
        if isinstance(data, (str, os.PathLike)):
            self._data, self.ext = _read_path(data)
            return
        if type(data).__module__.startswith("PIL."):
            img = data
        else:
            img = _pil_from_array(data)
        fmt = file_type.lower()
        if fmt not in ("png", "jpeg", "jpg", "webp"):
            raise MediaError(f"unsupported image file_type {file_type!r}: use png, jpeg or webp")
        buf = io.BytesIO()
        if fmt in ("jpeg", "jpg") and img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(buf, format="JPEG" if fmt in ("jpeg", "jpg") else fmt.upper())
        self._data, self.ext = buf.getvalue(), ("jpg" if fmt == "jpeg" else fmt)


def _pil_from_array(data):
    try:
        import numpy as np
        from PIL import Image as PILImage
    except ImportError as exc:  # pragma: no cover - both are dependencies of the package
        raise MediaError(f"Image from an array needs numpy and pillow: {exc}") from None
    arr = np.asarray(data)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.transpose(arr, (1, 2, 0))  # CHW (torch) → HWC
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)) or arr.size == 0:
        raise MediaError(f"an image array must be H×W, H×W×3 or H×W×4, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.dtype.kind not in "iu":
            raise MediaError(f"unsupported image dtype {arr.dtype}")
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return PILImage.fromarray(arr)


class Audio(Media):
    """Sound from a numpy array (samples, or samples × channels; floats in [-1, 1] or int16)
    at `sample_rate`, stored as 16-bit PCM WAV; or a path to an audio file (stored as it is)."""

    kind = "audio"

    def __init__(self, data, sample_rate: int = 44100, caption: str | None = None):
        super().__init__(caption)
        if isinstance(data, (str, os.PathLike)):
            self._data, self.ext = _read_path(data)
            return
        import numpy as np

        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 1 <= sample_rate <= 1_000_000:
            raise MediaError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        arr = np.asarray(data)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.size == 0 or arr.shape[1] > 64:
            raise MediaError(f"audio must be samples or samples × channels, got shape {arr.shape}")
        if arr.dtype.kind == "f":
            arr = np.nan_to_num(arr, nan=0.0)
            pcm = (np.clip(arr, -1.0, 1.0) * 32767).astype("<i2")
        elif arr.dtype.kind in "iu":
            pcm = np.clip(arr, -32768, 32767).astype("<i2")
        else:
            raise MediaError(f"unsupported audio dtype {arr.dtype}")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(pcm.shape[1])
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(np.ascontiguousarray(pcm).tobytes())
        self._data, self.ext = buf.getvalue(), "wav"


class Text(Media):
    """A piece of text (stored as UTF-8; at most 10 MiB, longer text is cut with a marker)."""

    kind = "text"
    ext = "txt"

    def __init__(self, text, caption: str | None = None):
        super().__init__(caption)
        if not isinstance(text, str):
            text = str(text)
        data = text.encode("utf-8", errors="replace")
        if len(data) > MAX_TEXT_BYTES:
            data = data[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore").encode() + b"\n[... cut by swan: longer than 10 MiB]"
        self._data = data


def _cell(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item"):
        try:
            return _cell(value.item())
        except (ValueError, TypeError):
            pass
    return str(value)


class Table(Media):
    """A table: `Table(columns=[...], data=[[...], ...])`, or `Table(dataframe=df)` (pandas).
    Cells are numbers, strings, booleans or None; anything else is stored as its str()."""

    kind = "table"
    ext = "json"

    def __init__(self, columns=None, data=None, dataframe=None, caption: str | None = None):
        super().__init__(caption)
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.values.tolist()
        data = [list(row) for row in (data or [])]
        if columns is None:
            width = max((len(r) for r in data), default=0)
            columns = [f"c{i}" for i in range(width)]
        columns = [str(c) for c in columns]
        for i, row in enumerate(data):
            if len(row) != len(columns):
                raise MediaError(f"table row {i} has {len(row)} cells for {len(columns)} columns")
        if len(columns) * len(data) > MAX_TABLE_CELLS:
            raise MediaError(f"a table may have at most {MAX_TABLE_CELLS:,} cells")
        self.columns = columns
        self.data = [[_cell(c) for c in row] for row in data]
        self._data = json.dumps({"columns": self.columns, "data": self.data}, ensure_ascii=False).encode()
