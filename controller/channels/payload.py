"""Reading untrusted webhook JSON: strict loading, and accessors that never raise on odd shapes."""

from __future__ import annotations

import json
import math
from typing import Any

from .base import ParseError

DETAIL_BYTES = 8192  # an unknown payload kept in an event's detail is cut off beyond this


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # one: json.loads with a keyword builds one per call


def load(body: bytes) -> dict[str, Any]:
    """The body as a JSON object. Integers stay exact (Viber's 64-bit tokens never pass a float)."""
    try:
        # what json.loads does with bytes: UTF-8, -16 or -32, told apart by the first bytes
        value = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except RecursionError:
        raise ParseError("the body nests JSON too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ParseError(f"the body is JSON but not an object (it is a {type(value).__name__})")
    return value


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def arr(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def objs(value: Any) -> list[dict[str, Any]]:
    """The objects of a list; anything else in it is skipped."""
    return [item for item in arr(value) if isinstance(item, dict)]


def text(value: Any) -> str | None:
    """A string field. A lone surrogate escape (`"\\ud83d"` without its other half) becomes `?`:
    no database or channel takes one, and a webhook must not fail on it (it would be retried for days)."""
    if not isinstance(value, str):
        return None
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def ident(value: Any) -> str | None:
    """An id as an exact string: strings as they are, integers in full; anything else is None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def epoch(value: Any, per_second: int) -> float | None:
    """Seconds since the epoch from a stamp counted in 1/per_second units (1 or 1000)."""
    stamp = number(value)
    return None if stamp is None else stamp / per_second


def bounded(value: Any) -> Any:
    """`value` for an event's detail, or a marker when it would be too large to record."""
    try:
        size = len(json.dumps(value, ensure_ascii=False))
    except (ValueError, TypeError, RecursionError):
        return {"unrecordable": True}
    return value if size <= DETAIL_BYTES else {"truncated": True, "size": size}
