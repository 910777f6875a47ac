"""Fast JSON for the validation path: orjson when installed, the standard library otherwise.

orjson is stricter than `json` in a few corners (NaN, integers over 64 bits), so a line orjson refuses
is parsed again with `json`, which decides and explains: results never depend on which one is installed.
"""

from __future__ import annotations

import json

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.txt
    orjson = None


def loads(text: str | bytes):
    """Parse one JSON document; raises ValueError or RecursionError like `json.loads`."""
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # let `json` decide: it accepts NaN and big integers, and gives the reason
    return json.loads(text)


def dumps_sorted(value) -> bytes:
    """A canonical byte string of a JSON-like value (sorted keys), for hashing rows."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass
    try:
        return json.dumps(value, sort_keys=True, default=str).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        return repr(value).encode("utf-8", "surrogatepass")
