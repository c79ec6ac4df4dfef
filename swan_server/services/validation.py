"""Input rules and limits shared by every face (MLflow's values, from its validation module)."""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from swan_server.entities import Metric
from swan_server.errors import SwanError, invalid

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_RUN_NAME_LENGTH = 250
MAX_DATASETS_PER_REQUEST = 1000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16777215
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500

_NAME_RE = re.compile(r"^[/\w.\- :]*$")


def validate_key(kind: str, key) -> str:
    """Metric, param and tag names: alphanumerics and `_ - . space / :`, as a normalised
    relative path (names can become file names)."""
    if key == "" or key is None:
        raise invalid("Missing value for required parameter 'key'")
    if not isinstance(key, str):
        raise invalid(f"Invalid value {key!r} for parameter 'key' supplied")
    return _checked_key(kind, key)


# A run logs the same few keys thousands of times; remember the ones that passed.
@lru_cache(maxsize=65536)
def _checked_key(kind: str, key: str) -> str:
    if len(key) > MAX_KEY_LENGTH:
        raise invalid(f"{kind.capitalize()} '{key[:50]}...' had length {len(key)}, which exceeded length limit of {MAX_KEY_LENGTH}")
    if not _NAME_RE.match(key):
        raise invalid(
            f"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), "
            "dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise invalid(
            f"Invalid {kind} name: '{key}'. Names may be treated as files in certain cases, and must "
            f"not resolve to other names when treated as such. This name would resolve to '{norm}'"
        )
    return key


def validate_metric(m: Metric) -> Metric:
    validate_key("metric", m.key)
    if isinstance(m.value, bool) or not isinstance(m.value, (int, float)):
        raise invalid(
            f"Got invalid value {m.value} for metric '{m.key}' (timestamp={m.timestamp}). "
            "Please specify value as a valid double (64-bit floating point)"
        )
    for field in ("timestamp", "step"):
        v = getattr(m, field)
        if type(v) is int and -(2**63) <= v < 2**63:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise invalid(f"Got invalid {field} {v!r} for metric '{m.key}' (value={m.value}). {field} must be an integer")
        if not -(2**63) <= v < 2**63:
            raise invalid(f"Got invalid {field} {v} for metric '{m.key}': out of the 64-bit integer range")
    if m.timestamp < 0:
        raise invalid(
            f"Invalid value {m.timestamp} for parameter 'timestamp' supplied: metric '{m.key}' "
            f"(value={m.value}). Timestamp must be a nonnegative long (64-bit integer)"
        )
    try:
        m.value = float(m.value)
    except OverflowError:
        raise invalid(
            f"Got invalid value {m.value} for metric '{m.key}' (timestamp={m.timestamp}). "
            "Please specify value as a valid double (64-bit floating point)"
        ) from None
    return m


def metric_columns_valid(keys: list[str], steps: list[int], timestamps: list[int], values: list[float]) -> bool:
    """Whether `validate_metric` would accept every point of these columns, whose types the
    caller has checked (str keys, int steps and timestamps, float values), decided with builtins
    over whole columns instead of point by point."""
    if not values:
        return True
    if min(timestamps) < 0 or max(timestamps) >= 2**63 or min(steps) < -(2**63) or max(steps) >= 2**63:
        return False
    try:
        for key in set(keys):
            validate_key("metric", key)
    except SwanError:
        return False
    return True


def validate_param(key, value) -> tuple[str, str]:
    validate_key("param", key)
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter 'value' supplied")
    if len(value) > MAX_PARAM_VALUE_LENGTH:
        raise invalid(
            f"Param value '{value[:100]}...' had length {len(value)}, which exceeded length limit of {MAX_PARAM_VALUE_LENGTH}"
        )
    return key, value


def validate_tag(key, value) -> tuple[str, str]:
    validate_key("tag", key)
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter 'value' supplied")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise invalid(
            f"Tag value '{value[:100]}...' had length {len(value)}, which exceeded length limit of {MAX_TAG_VALUE_LENGTH}"
        )
    return key, value


def validate_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
    for kind, n, limit in (
        ("metrics", n_metrics, MAX_METRICS_PER_BATCH),
        ("params", n_params, MAX_PARAMS_PER_BATCH),
        ("tags", n_tags, MAX_TAGS_PER_BATCH),
    ):
        if n > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {kind}. Got {n} {kind}. "
                f"Please split up {kind} across multiple requests and try again."
            )
    total = n_metrics + n_params + n_tags
    if total > MAX_ENTITIES_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params, and tags in total. "
            f"Received {n_metrics} metrics, {n_params} params, and {n_tags} tags. Please split up "
            "entities across multiple requests and try again."
        )


def unique_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    dupes = []
    for k, v in pairs:
        if k in out and out[k] != v:
            dupes.append(k)
        out[k] = v
    if dupes:
        raise invalid(
            f"Duplicate parameter keys have been submitted: {sorted(set(dupes))}. Please ensure the "
            "request contains only one param value per param key."
        )
    return out


def validate_experiment_name(name) -> str:
    if not isinstance(name, str):
        raise invalid(f"Invalid value {name!r} for parameter 'name' supplied")
    if name.strip() == "":
        raise invalid(f"Invalid experiment name: '{name}'. Experiment name cannot be empty.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise invalid(f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters")
    return name


def validate_experiment_tag(key, value) -> tuple[str, str]:
    validate_key("tag", key)
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter 'value' supplied")
    if len(value) > MAX_EXPERIMENT_TAG_VALUE_LENGTH:
        raise invalid(
            f"Tag value '{value[:100]}...' had length {len(value)}, which exceeded length limit of {MAX_EXPERIMENT_TAG_VALUE_LENGTH}"
        )
    return key, value


def validate_run_name(name) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise invalid(f"Invalid value {name!r} for parameter 'run_name' supplied")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise invalid(f"Run name '{name[:50]}...' had length {len(name)}, which exceeded length limit of {MAX_RUN_NAME_LENGTH}")
    return name

