"""JSON normal form: validate a value and copy it in one walk.

A value is stored exactly as it will read back after a restart: tuples become
lists and non-string dict keys become strings at once, like ``json`` does.
Anything that would not survive that round trip unchanged is refused with an
error that names where in the value it sits.
"""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Callable
from typing import Any

import wrapt

from tastypy.keys import INT_CEILING, INT_FLOOR, unwritable_message, writable

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)


def _c_encoder() -> Callable[[Any, int], Any]:
    # JSONEncoder.encode builds a fresh C encoder on every call, a large part
    # of encoding one small value; build it once (same options as _ENCODER).
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return lambda value, _level: (_ENCODER.encode(value),)
    return make(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False)  # type: ignore[no-any-return]


#: ``"".join(_chunks(value, 0))`` is the compact JSON text of ``value``.
_chunks = _c_encoder()


def encode(value: Any) -> str:
    """The compact JSON text of a value already in normal form."""
    return "".join(_chunks(value, 0))


# The stub wants a make_scanner as context; the C scanner reads a JSONDecoder's settings.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def decode(text: str) -> Any:
    """The value of a text ``text_if_normal`` gave (no check: it is JSON)."""
    return _scan(text, 0)[0]


_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})


def text_if_normal(value: Any) -> str | None:
    """The compact JSON text of ``value`` when that text alone keeps it
    exactly, else None (``normalize`` then copies it, or names what is wrong).

    The C encoder checks most of what ``normalize`` checks (types, NaN, ints
    too long to print, cycles) in one call; what it lets through is looked
    for here: subclasses of the JSON types, dict keys that are not ``str``
    (which it would make strings, maybe colliding) and text UTF-8 cannot
    write. The walk only reads types: no copy, no call per scalar.
    """
    try:
        text = "".join(_chunks(value, 0))
        if not _exact(value, 0):
            return None
    except Exception:  # noqa: BLE001 -- any refusal (or too deep): normalize names it
        return None
    return text if text.isascii() or writable(text) else None


#: Deeper values go through ``normalize``, whose depth limit decides.
_DEPTH = 100


def _exact(value: Any, depth: int) -> bool:
    """True when ``value`` holds only the exact JSON types, and ``str`` dict keys."""
    if depth > _DEPTH:
        return False
    t = type(value)
    if t is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            t = type(item)
            if t not in _SCALARS and (t not in _CONTAINERS or not _exact(item, depth + 1)):
                return False
        return True
    if t is not list and t is not tuple:
        return t in _SCALARS
    for item in value:
        t = type(item)
        if t not in _SCALARS and (t not in _CONTAINERS or not _exact(item, depth + 1)):
            return False
    return True


class _Bad(Exception):
    """Raised inside the walk; carries the path back up to the caller."""

    def __init__(self, error: type[Exception], message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.path: list[Any] = []


def format_path(path: tuple[Any, ...] | list[Any]) -> str:
    """``('k', 'tags', 3)`` -> ``"['k']['tags'][3]"``."""
    return "".join(f"[{p!r}]" for p in path)


def normalize(value: Any, path: tuple[Any, ...] = ()) -> Any:
    """Return a fresh copy of ``value`` in JSON normal form.

    Raises ``TypeError`` for data JSON cannot hold and ``ValueError`` for JSON
    data that would change on the round trip (NaN, keys that collide once made
    strings, or a ``str`` or ``int`` no sync could write: see
    ``tastypy.keys.writable``); the message names the place, e.g.
    ``['k']['tags'][3]``.
    """
    try:
        return _normal(value)
    except _Bad as bad:
        where = format_path(tuple(path) + tuple(reversed(bad.path)))
        raise bad.error(f"value at {where or 'top level'}: {bad.message}") from None
    except RecursionError:
        raise ValueError(
            f"value at {format_path(path) or 'top level'}: nested too deep "
            "(or it contains itself); JSON data must be a finite tree"
        ) from None


def _normal(value: Any) -> Any:
    t = type(value)
    # isascii() is a flag read: only other text pays for the encode check.
    if t is str:
        return value if value.isascii() else _text(value)
    if t is int:
        return value if INT_FLOOR < value < INT_CEILING else _long_int(value)
    if t is bool or value is None:
        return value
    if t is float:
        if math.isfinite(value):
            return value
        raise _Bad(ValueError, f"{value!r} is not valid JSON; store it as a string or None")
    if t is dict:
        return _normal_dict(value)
    if t is list or t is tuple:
        return _normal_list(value)
    if isinstance(value, wrapt.BaseObjectProxy):
        return _normal(value.__wrapped__)
    if isinstance(value, dict):
        return _normal_dict(value)
    if isinstance(value, (list, tuple)):
        return _normal_list(value)
    raise _Bad(
        TypeError,
        f"{type(value).__name__} is not JSON data; use dict, list, tuple, str, "
        "int, float, bool or None",
    )


def _text(value: str) -> str:
    if writable(value):
        return value
    raise _Bad(ValueError, f"{unwritable_message(value)}; store valid text")


def _long_int(value: int) -> int:
    if writable(value):
        return value
    raise _Bad(ValueError, f"{unwritable_message(value)}; store it as a string")


def _normal_list(value: Any) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for i, item in enumerate(value):
        t = type(item)
        # Common scalars inline (as in _normal): a call per item is most of
        # the walk's cost.
        if (
            (t is str and item.isascii())
            or (t is int and INT_FLOOR < item < INT_CEILING)
            or t is bool
            or item is None
        ):
            append(item)
            continue
        try:
            append(_normal(item))
        except _Bad as bad:
            bad.path.append(i)
            raise
    return out


def _normal_dict(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, item in value.items():
        if type(k) is not str or not k.isascii():
            k = _other_key(k, value, out)
        t = type(item)
        if (
            (t is str and item.isascii())
            or (t is int and INT_FLOOR < item < INT_CEILING)
            or t is bool
            or item is None
        ):
            out[k] = item
            continue
        try:
            out[k] = _normal(item)
        except _Bad as bad:
            bad.path.append(k)
            raise
    return out


def _other_key(key: Any, given: Any, out: dict[str, Any]) -> str:
    """The JSON name of ``key``, a key of ``given`` that is not ASCII text."""
    if type(key) is str:
        return _key_text(key)
    name = normal_key(key)
    if name in out or name in given:
        raise _Bad(
            ValueError,
            f"key {key!r} becomes {name!r} in JSON, which collides with "
            "another key; make the keys distinct strings",
        )
    return name


def dict_key(key: Any, path: tuple[Any, ...] = ()) -> str:
    """The string ``key`` becomes as a key of a dict value, or ``TypeError`` / ``ValueError``."""
    if type(key) is str and key.isascii():
        return key
    try:
        return normal_key(key)
    except _Bad as bad:
        raise bad.error(f"value at {format_path(path) or 'top level'}: {bad.message}") from None


def normal_key(key: Any) -> str:
    """The string a dict key becomes in JSON (``1`` -> ``'1'``, ``True`` -> ``'true'``)."""
    t = type(key)
    if t is str:
        return _key_text(key)
    if t is int:
        if INT_FLOOR < key < INT_CEILING or writable(key):
            return int.__repr__(key)
        raise _Bad(ValueError, f"dict key: {unwritable_message(key)}; use a string key")
    if key is None or t is bool:
        return json.dumps(key)
    if t is float:
        if math.isfinite(key):
            return repr(key)
        # Like a NaN value: JSON data, but the encoder cannot write it back.
        raise _Bad(ValueError, f"dict key {key!r} is not valid JSON; use a string key")
    raise _Bad(
        TypeError,
        f"dict key {key!r} of type {t.__name__} is not allowed in JSON; "
        "use str (or int, float, bool, None, which become strings)",
    )


def _key_text(key: str) -> str:
    if writable(key):
        return key
    raise _Bad(ValueError, f"dict key {unwritable_message(key)}; fix the text")


def copy(value: Any) -> Any:
    """A deep copy of data that is already in normal form."""
    t = type(value)
    if t is dict:
        return {k: copy(v) for k, v in value.items()}
    if t is list:
        return [copy(v) for v in value]
    return value
