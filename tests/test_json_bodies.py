"""Request bodies are parsed by orjson; only what orjson would get wrong or refuse goes to the
stdlib parser (integers beyond int64, bare NaN/Infinity)."""

from __future__ import annotations

import json
import math
import re

import pytest

from swan_server.api import common


@pytest.fixture
def stdlib_refused(monkeypatch):
    """Makes the stdlib fallback fail loudly, to show a body took orjson's path."""
    def refuse(raw):
        raise AssertionError("the stdlib parser was used")
    monkeypatch.setattr(common.json, "loads", refuse)


def test_floats_with_long_fractions_take_the_fast_path(stdlib_refused):
    values = [0.0012345678901234567, 1.2345678901234567e-05, 0.025010755222666936, -0.00012345678901234567]
    raw = json.dumps({"metrics": [{"value": v, "step": 1, "timestamp": 1_700_000_000_000} for v in values]}).encode()
    assert re.search(rb"\d{19}", raw)  # digit runs as long as an out-of-range integer's
    assert [m["value"] for m in common.loads_lenient(raw)["metrics"]] == values


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**25, 2**64 + 1])
def test_integers_beyond_int64_stay_exact(number):
    raw = json.dumps({"step": number, "value": 0.0012345678901234567}).encode()
    parsed = common.loads_lenient(raw)
    assert parsed["step"] == number and isinstance(parsed["step"], int)


def test_bare_nan_and_infinity_are_read():
    parsed = common.loads_lenient(b'{"a": NaN, "b": Infinity, "c": -Infinity}')
    assert math.isnan(parsed["a"]) and parsed["b"] == math.inf and parsed["c"] == -math.inf


@pytest.mark.parametrize("raw, long_integer", [
    (b'{"a":12345678901234567890}', True),
    (b'{"a":-12345678901234567890}', True),
    (b'[1, 12345678901234567890]', True),
    (b'12345678901234567890', True),
    (b'{"a": 1234567890123456789}', True),  # 19 digits: may still be beyond int64
    (b'{"a":123456789012345678}', False),
    (b'{"a":0.12345678901234567890}', False),
    (b'{"a":1.5e1234567890123456789}', False),
    (b'{"a":1234567890123456789012.5}', False),
    (b'{"a":0.0012345678901234567, "b": 99999999999999999999}', True),
])
def test_long_integer_detection(raw, long_integer):
    assert common._has_long_integer(raw) is long_integer
