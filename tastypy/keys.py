"""What a top-level key is: ``str``, ``int`` (not ``bool``) or tuples of them.

One home for the rule, used by ``observe`` (at assignment), ``store`` (at
encoding and reading) and the command line; it imports nothing of tastypy.
It also says which ``str`` and ``int`` could never be written (``writable``),
for keys and values alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

#: A top-level key, as far as a type checker can tell (not ``bool``: see ``check_key``).
Key = str | int | tuple[Any, ...]
#: A value, as far as a type checker can tell (``tastypy.observe.normal`` has the full rule).
Value = None | bool | int | float | str | Sequence[Any] | Mapping[Any, Any]

# The type parameters of the faces: ``POD[str, dict[str, int]]``. Unparameterized,
# a face is ``POD[Any, Any]`` as before (a default: PEP 696, seen by type checkers only).
if TYPE_CHECKING:
    from typing_extensions import TypeVar as TypeVarWithDefault

    K = TypeVarWithDefault("K", bound=Key, default=Any)
    V = TypeVarWithDefault("V", bound=Value, default=Any)
else:
    K = TypeVar("K", bound=Key)
    V = TypeVar("V", bound=Value)

#: Ints strictly between these (up to 640 digits) always print: the lowest
#: limit ``sys.set_int_max_str_digits()`` accepts. Two constants, as negating
#: one or testing ``in`` a range would build a big int at each check.
INT_FLOOR = -(10**640)
INT_CEILING = 10**640


def writable(value: str | int) -> bool:
    """False for a ``str`` UTF-8 cannot encode (a lone surrogate, ``'\\ud800'``)
    or an ``int`` too long for Python to print (over ``sys.get_int_max_str_digits()``
    digits, a setting of the process): JSON-looking data no sync could write.
    """
    try:
        if type(value) is str:
            value.encode("utf-8")
        else:
            int.__repr__(value)
    except ValueError:  # UnicodeEncodeError is one
        return False
    return True


def unwritable_message(value: str | int) -> str:
    """Why ``writable(value)`` is False."""
    if isinstance(value, str):
        return f"{value!r} holds a lone surrogate, which UTF-8 cannot write"
    return (
        f"an int of {value.bit_length():,} bits has more decimal digits than "
        "sys.get_int_max_str_digits() lets Python write"
    )


def check_key(key: Any) -> Any:
    """Return ``key`` if it is a valid top-level key, else raise naming the bad part.

    ``TypeError`` for a part of another type, ``ValueError`` for a ``str`` or
    ``int`` that could never be written (see ``writable``).
    """
    t = type(key)
    if (t is str and key.isascii()) or (t is int and INT_FLOOR < key < INT_CEILING):
        return key
    problem = _problem(key)
    if problem is None:
        return key
    error, why = problem
    raise error(f"key {_shown(key)}: {why}")


def key_from_json(obj: Any) -> Any:
    """The key a decoded JSON value stands for (arrays become tuples), None if none."""
    t = type(obj)
    if t is str or t is int:
        return obj
    if t is list:
        parts = tuple(key_from_json(part) for part in obj)
        return None if None in parts else parts
    return None


def _problem(key: Any) -> tuple[type[Exception], str] | None:
    """``(error class, reason)`` for the first bad part of ``key``, or None."""
    t = type(key)
    if t is tuple:
        for part in key:
            problem = _problem(part)
            if problem is not None:
                return problem
        return None
    if t is str or t is int:
        if writable(key):
            return None
        return ValueError, f"{unwritable_message(key)}, so it cannot be a tastypy key"
    return TypeError, (
        f"{t.__name__} cannot be (part of) a tastypy key; use str, int, or a tuple of them"
    )


def _shown(key: Any) -> str:
    try:
        return repr(key)
    except ValueError:  # it holds an int too long to print
        return f"({type(key).__name__} holding a very long int)"
