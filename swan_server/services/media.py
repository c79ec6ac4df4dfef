"""Media items: rules for the index rows every face writes (the bytes are run artifacts)."""

from __future__ import annotations

from swan_server.artifacts.paths import safe_relative_path
from swan_server.errors import invalid
from swan_server.records import MEDIA_KINDS, MediaItem

MAX_KEY_LENGTH = 250
MAX_PATH_LENGTH = 1000
MAX_CAPTION_LENGTH = 20_000


def check_media_key(key) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise invalid(f"Invalid media key {key!r}: 1 to {MAX_KEY_LENGTH} characters, no control characters")
    return key


def kind_of_path(path: str) -> str:
    """`media/<kind>/<file>` names its kind; anything else is a plain file."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] == "media" and parts[1] in MEDIA_KINDS:
        return parts[1]
    return "file"


class MediaService:
    def __init__(self, store):
        self.store = store

    def add(self, run_id: str, items: list[MediaItem]) -> int:
        self.check(items)
        return self.store.add_media_items(run_id, items)

    @staticmethod
    def check(items: list[MediaItem]) -> None:
        """Validate items in place (paths normalised, captions trimmed); 400 on the first bad one."""
        for item in items:
            check_media_key(item.key)
            if isinstance(item.step, bool) or not isinstance(item.step, int) or not 0 <= item.step < 2**63:
                raise invalid(f"Invalid step {item.step!r} for media '{item.key}'")
            if item.kind not in MEDIA_KINDS:
                raise invalid(f"Invalid media kind {item.kind!r}; expected one of {list(MEDIA_KINDS)}")
            item.path = safe_relative_path(item.path, allow_empty=False)
            if len(item.path) > MAX_PATH_LENGTH:
                raise invalid(f"Media path '{item.path[:50]}...' is longer than {MAX_PATH_LENGTH} characters")
            if item.caption is not None:
                if not isinstance(item.caption, str):
                    raise invalid(f"Invalid caption {item.caption!r} for media '{item.key}'")
                item.caption = item.caption[:MAX_CAPTION_LENGTH]

    def list(self, run_id: str, key: str | None = None) -> list[MediaItem]:
        return self.store.list_media_items(run_id, key)

    def last_steps(self, run_id: str) -> dict[str, int]:
        return self.store.media_last_steps(run_id)
