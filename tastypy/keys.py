"""What a top-level key is: ``str``, ``int`` (not ``bool``) or tuples of them.

One home for the rule, used by ``observe`` (at assignment), ``store`` (at
encoding and reading) and the command line; it imports nothing of tastypy.
"""

from __future__ import annotations

from typing import Any, Union

Key = Union[str, int, tuple]


def check_key(key: Any) -> Any:
    """Return ``key`` if it is a valid top-level key, else raise ``TypeError`` naming the bad part."""
    t = type(key)
    if t is str or t is int or (t is tuple and _parts_ok(key)):
        return key
    raise TypeError(
        f"key {key!r}: {_bad_part(key)} cannot be (part of) a tastypy key; "
        "use str, int, or a tuple of them"
    )


def key_from_json(obj: Any) -> Any:
    """The key a decoded JSON value stands for (arrays become tuples), None if none."""
    t = type(obj)
    if t is str or t is int:
        return obj
    if t is list:
        parts = tuple(key_from_json(part) for part in obj)
        return None if None in parts else parts
    return None


def _parts_ok(key: tuple) -> bool:
    for part in key:
        t = type(part)
        if not (t is str or t is int or (t is tuple and _parts_ok(part))):
            return False
    return True


def _bad_part(key: Any) -> str:
    if type(key) is tuple:
        for part in key:
            if not (type(part) in (str, int) or (type(part) is tuple and _parts_ok(part))):
                return _bad_part(part)
    return type(key).__name__
