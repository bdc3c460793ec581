"""Hypothesis strategies for tastypy's data: JSON values, keys and mutations.

Shared by every test module (``from strategies import json_values``). Two
kinds of values:

- ``json_values()``: data in JSON normal form, exactly what reads back after
  a restart (lists, dicts with ``str`` keys, finite floats).
- ``loose_values()``: what a user may assign: tuples, and dict keys that are
  ``int``, ``float``, ``bool`` or ``None`` (never two that collide once made
  strings). ``to_json(v)`` is what such a value must read back as.

``Owner`` stands in for a POD over plain data, for tests of the proxies
alone. ``mutations(value)`` draws a mutation of some container inside ``value``
(any mutating method of ``dict`` / ``list``, or an augmented assignment
``c[k] += x`` of an item); ``perform(m, root)`` carries it out on plain data or
on a proxy, with the user's arguments or, with ``model=True``, the arguments
as they read back (for a plain model of what the proxy must do).
"""

from __future__ import annotations

import decimal
import enum
import functools
import json
import operator
from typing import Any, NamedTuple

from hypothesis import strategies as st

from tastypy.observe import WRITABLE, Op, normalize, unwrap

# Strategy factories are cached: building a recursive strategy anew for each
# draw (as ``mutations`` does many times a step) is what makes tests slow.
_cached = functools.lru_cache(maxsize=None)

# -- plain JSON data -----------------------------------------------------------


def to_json(value: Any) -> Any:
    """``value`` as it reads back from JSON: the oracle of the normal form."""
    return json.loads(json.dumps(value, allow_nan=False))


def json_key(key: Any) -> str:
    """The string a dict key becomes in JSON (``1`` -> ``'1'``, ``None`` -> ``'null'``)."""
    return next(iter(to_json({key: 0})))


@_cached
def finite_floats(**kwargs: Any) -> st.SearchStrategy:
    return st.floats(allow_nan=False, allow_infinity=False, **kwargs)


@_cached
def json_scalars() -> st.SearchStrategy:
    """``None``, ``bool``, ``int``, finite ``float`` or ``str``."""
    return st.none() | st.booleans() | st.integers() | finite_floats() | st.text(max_size=8)


@_cached
def json_values(max_leaves: int = 12) -> st.SearchStrategy:
    """Any JSON value in normal form (dicts with ``str`` keys, no tuples)."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4),
        max_leaves=max_leaves,
    )


@_cached
def json_containers(max_leaves: int = 12) -> st.SearchStrategy:
    """A ``dict`` or ``list`` in JSON normal form."""
    inner = json_values(max_leaves)
    return st.lists(inner, max_size=4) | json_dicts(max_leaves)


@_cached
def json_dicts(max_leaves: int = 12) -> st.SearchStrategy:
    """A ``dict`` in JSON normal form."""
    return st.dictionaries(st.text(max_size=4), json_values(max_leaves), max_size=4)


# -- what users give -----------------------------------------------------------


@_cached
def dict_keys() -> st.SearchStrategy:
    """A key a user may put in a dict value: ``str``, ``int``, ``float``, ``bool``, ``None``."""
    return st.text(max_size=4) | st.integers(-5, 5) | st.booleans() | st.none() | finite_floats()


def _no_collision(d: dict) -> bool:
    return len({json_key(k) for k in d}) == len(d)


@_cached
def loose_dicts(inner: st.SearchStrategy, max_size: int = 4) -> st.SearchStrategy:
    """Dicts with any ``dict_keys()`` whose JSON strings are distinct."""
    return st.dictionaries(dict_keys(), inner, max_size=max_size).filter(_no_collision)


@_cached
def loose_values(max_leaves: int = 8) -> st.SearchStrategy:
    """Valid data as users write it: tuples and non-``str`` dict keys allowed."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | loose_dicts(inner, max_size=3),
        max_leaves=max_leaves,
    )


@_cached
def top_keys() -> st.SearchStrategy:
    """A valid top-level key: ``str``, ``int`` (not ``bool``) or nested tuples of them."""
    return st.recursive(
        st.text(max_size=6) | st.integers(),
        lambda inner: st.lists(inner, max_size=3).map(tuple),
        max_leaves=6,
    )


@_cached
def bad_top_keys() -> st.SearchStrategy:
    """Keys a POD refuses with ``TypeError``: ``bool``, ``float``, ``None``, lists, …"""
    return st.sampled_from([True, False, 1.5, float("nan"), None, [1], {"a": 1}, b"k", {1}]) | (
        st.tuples(st.text(max_size=2), st.sampled_from([True, 2.5, None, b"x"]))
    )


class Color(enum.IntEnum):
    """An ``int`` subclass: not JSON data, though ``json`` would write it."""

    RED = 1


@_cached
def non_json_leaves() -> st.SearchStrategy:
    """Objects that are not JSON data at all: ``TypeError`` wherever they sit."""
    return st.sampled_from(
        [{1, 2}, frozenset(), b"bytes", bytearray(b"x"), object(), 1j, Color.RED,
         decimal.Decimal("1.5"), range(3), type]
    )


@_cached
def poison_leaves() -> st.SearchStrategy:
    """JSON-looking data that could never be written: ``ValueError`` at assignment.

    A ``str`` holding a lone surrogate (UTF-8 cannot encode it) or an ``int``
    longer than ``sys.get_int_max_str_digits()`` (Python refuses to print it).
    """
    surrogate = st.integers(0xD800, 0xDFFF).map(chr)
    text = st.text(max_size=3)
    return st.tuples(text, surrogate, text).map("".join) | st.integers(4301, 5000).map(
        lambda digits: -(10 ** (digits - 1))
    ) | st.integers(4301, 5000).map(lambda digits: 10 ** (digits - 1))


@_cached
def non_finite_floats() -> st.SearchStrategy:
    """JSON cannot write these back: ``ValueError``."""
    return st.sampled_from([float("nan"), float("inf"), float("-inf")])


# -- paths inside a value ------------------------------------------------------


def walk(root: Any, path: tuple) -> Any:
    for step in path:
        root = root[step]
    return root


def container_paths(value: Any, path: tuple = ()) -> list:
    """The paths of every ``dict`` and ``list`` inside ``value`` (``()`` first)."""
    found = [path] if isinstance(value, (dict, list)) else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += container_paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += container_paths(item, path + (index,))
    return found


# -- mutations -----------------------------------------------------------------


class Mutation(NamedTuple):
    """``walk(root, path).method(*args, **kwargs)``, or ``root[path] op= arg``.

    ``model_args`` / ``model_kwargs`` are the same arguments as they read back
    (``to_json``), for a plain model. ``augmented`` marks ``c[k] op= x``:
    ``path`` then ends with ``k`` and ``method`` is the in-place dunder.
    """

    path: tuple
    method: str
    args: tuple = ()
    kwargs: tuple = ()
    model_args: tuple = ()
    model_kwargs: tuple = ()
    augmented: bool = False

    def __repr__(self) -> str:
        where = "".join(f"[{p!r}]" for p in self.path)
        if self.augmented:
            return f"<v{where} {self.method} {self.args[0]!r}>"
        call = ", ".join([repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs])
        return f"<v{where}.{self.method}({call})>"


def may_report_unchanged(m: Mutation) -> bool:
    """Whether ``m`` may report an ``Op`` although the value stays equal.

    Assigning an equal value, sorting a sorted list or ``n += 0`` is reported
    (telling costs more than it saves); every other mutation that changes
    nothing (``clear()`` of an empty dict, ``extend([])``, ``*= 1``, …)
    reports nothing.
    """
    return m.augmented or m.method in {"__setitem__", "update", "__ior__", "sort", "reverse"}

_INPLACE = {
    name: getattr(operator, name.strip("_"))
    for name in ("__iadd__", "__isub__", "__imul__", "__ior__")
}


def perform(m: Mutation, root: Any, *, model: bool = False) -> Any:
    """Carry out ``m`` on ``root`` (plain data or a proxy) and return the result."""
    args = m.model_args if model else m.args
    kwargs = dict(m.model_kwargs if model else m.kwargs)
    if m.augmented:
        parent = walk(root, m.path[:-1])
        where = m.path[-1]
        # What ``parent[where] += x`` does: get, in-place operator, set back.
        parent[where] = _INPLACE[m.method](parent[where], *args)
        return None
    return getattr(walk(root, m.path), m.method)(*args, **kwargs)


def _same(*args: Any, **kwargs: Any) -> tuple:
    """(user args, user kwargs, model args, model kwargs) for arguments that are not data."""
    kw = tuple(kwargs.items())
    return args, kw, args, kw


def _index(draw: Any, n: int) -> int:
    return draw(st.integers(-n - 2, n + 2))


def _slice(draw: Any, n: int) -> slice:
    bound = st.none() | st.integers(-n - 2, n + 2)
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, None, 1, 2, -1, -2])))


@st.composite
def mutation_of(draw: Any, container: Any, path: tuple = ()) -> Mutation:
    """A mutation of ``container`` itself (at ``path``) or an augmented one of an item."""
    value = loose_values(max_leaves=4)
    items = list(container.items()) if isinstance(container, dict) else list(enumerate(container))
    augmentable = [(k, v) for k, v in items if _augments(v)]
    if augmentable and draw(st.integers(0, 5)) == 0:
        key, item = draw(st.sampled_from(augmentable))
        method, arg = draw(_augment(item))
        return Mutation(path + (key,), method, (arg,), (), (to_json(arg),), (), True)
    n = len(container)
    if isinstance(container, dict):
        keys = list(container)
        present = st.sampled_from(keys) if keys else st.text(max_size=2)
        some_key = present | st.text(max_size=2)
        method = draw(st.sampled_from(
            "__setitem__ __delitem__ clear pop popitem setdefault update __ior__".split()
        ))
        if method == "__setitem__":
            key, v = draw(present | dict_keys()), draw(value)
            return Mutation(path, method, (key, v), (), (json_key(key), to_json(v)))
        if method in ("__delitem__", "pop"):
            key = draw(some_key)
            extra = (draw(json_scalars()),) if method == "pop" and draw(st.booleans()) else ()
            return Mutation(path, method, *_same(key, *extra))
        if method in ("clear", "popitem"):
            return Mutation(path, method)
        if method == "setdefault":
            key = draw(present | dict_keys())
            if draw(st.booleans()):
                return Mutation(path, method, (key,), (), (json_key(key),))
            v = draw(value)
            return Mutation(path, method, (key, v), (), (json_key(key), to_json(v)))
        given = draw(loose_dicts(value, max_size=3))
        if method == "update" and draw(st.booleans()):
            kw = draw(st.dictionaries(st.text(max_size=3), value, max_size=2))
            return Mutation(
                path, method, (given,), tuple(kw.items()),
                (to_json(given),), tuple((k, to_json(v)) for k, v in kw.items()),
            )
        return Mutation(path, method, (given,), (), (to_json(given),))
    method = draw(st.sampled_from(
        "append extend insert remove pop clear sort reverse __setitem__ __setitem__ "
        "__delitem__ __delitem__ __iadd__ __imul__".split()
    ))
    if method == "append":
        v = draw(value)
        return Mutation(path, method, (v,), (), (to_json(v),))
    if method in ("extend", "__iadd__"):
        vs = draw(st.lists(value, max_size=3))
        given = tuple(vs) if draw(st.booleans()) else vs
        return Mutation(path, method, (given,), (), (to_json(vs),))
    if method == "insert":
        i, v = _index(draw, n), draw(value)
        return Mutation(path, method, (i, v), (), (i, to_json(v)))
    if method == "remove":
        # The elements themselves (in normal form): a tuple never equals a list.
        present = st.sampled_from(container).map(to_json) if container else json_scalars()
        return Mutation(path, method, *_same(draw(present | json_scalars())))
    if method == "pop":
        index = draw(st.just(()) | st.tuples(st.integers(-n - 1, n)))
        return Mutation(path, method, *_same(*index))
    if method in ("clear", "reverse"):
        return Mutation(path, method)
    if method == "sort":
        kwargs = {}
        if draw(st.booleans()):
            kwargs["reverse"] = draw(st.booleans())
        if draw(st.booleans()):  # mixed types only sort with a key
            kwargs["key"] = _sort_key
        return Mutation(path, method, *_same(**kwargs))
    if method == "__imul__":
        return Mutation(path, method, *_same(draw(st.integers(-1, 3 if n < 8 else 1))))
    if method == "__setitem__":
        if draw(st.booleans()):
            s = _slice(draw, n)
            vs = draw(st.lists(value, max_size=4))
            given = tuple(vs) if draw(st.booleans()) else vs
            return Mutation(path, method, (s, given), (), (s, to_json(vs)))
        i, v = _index(draw, n), draw(value)
        return Mutation(path, method, (i, v), (), (i, to_json(v)))
    # __delitem__
    where = _slice(draw, n) if draw(st.booleans()) else _index(draw, n)
    return Mutation(path, method, *_same(where))


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _augments(item: Any) -> bool:
    return type(item) in (int, float, str, list, dict)


@st.composite
def _augment(draw: Any, item: Any) -> tuple:
    t = type(item)
    if t is int:
        return draw(st.sampled_from(["__iadd__", "__isub__", "__imul__"])), draw(st.integers(-3, 3))
    if t is float:
        method = draw(st.sampled_from(["__iadd__", "__isub__"]))
        return method, draw(finite_floats(min_value=-1e6, max_value=1e6))
    if t is str:
        if draw(st.booleans()):
            return "__imul__", draw(st.integers(0, 2))
        return "__iadd__", draw(st.text(max_size=3))
    if t is list:
        if draw(st.booleans()):
            return "__imul__", draw(st.integers(0, 2 if len(item) < 8 else 1))
        return "__iadd__", draw(st.lists(loose_values(max_leaves=3), max_size=2))
    return "__ior__", draw(loose_dicts(loose_values(max_leaves=3), max_size=2))


@st.composite
def mutations(draw: Any, value: Any) -> Mutation:
    """A mutation of some container inside ``value`` (``value`` itself included)."""
    path = draw(st.sampled_from(container_paths(value)))
    return draw(mutation_of(walk(value, path), path))


# -- a stand-in owner ----------------------------------------------------------

_ABSENT = object()


class Owner:
    """A POD in miniature: top-level values in a dict, proxies over them, their ``Op``s.

    Like a POD it hands out a proxy per read (``kinds`` chooses writable or
    read-only ones) and drops the reports of a proxy whose top-level value has
    since been replaced or deleted. Assigning records ``Op((), '__setitem__', …)``.
    """

    def __init__(self, data: dict | None = None, kinds: dict = WRITABLE) -> None:
        self.data = dict(data or {})
        self.kinds = kinds
        self.ops: list = []

    def report(self, op: Op, root: Any) -> None:
        if self.data.get(op.path[0], _ABSENT) is root:
            self.ops.append(op)

    def __getitem__(self, key: Any) -> Any:
        value = self.data[key]
        kind = self.kinds.get(type(value))
        return value if kind is None else kind(value, (key,), self.report, value)

    def __setitem__(self, key: Any, value: Any) -> None:
        if unwrap(value) is self.data.get(key, _ABSENT):
            return  # ``owner[k] += [x]`` changed it in place already
        value = normalize(value, (key,))
        self.data[key] = value
        self.ops.append(Op((), "__setitem__", (key, normalize(value))))
