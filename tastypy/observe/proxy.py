"""Observable proxies: a ``dict`` or ``list`` that reports every mutation.

A proxy wraps the owner's own container (no copy on read) and knows its path
from the top-level key, the owner's ``report(op, root)`` callback and the
top-level container ``root`` it hangs from, so the owner can tell a live proxy
from one whose key has since been replaced. Each mutator normalizes its
arguments first (bad data changes nothing), applies the change, then reports
one ``Op`` -- and only when something changed. Containers read through a proxy
come back as proxies one level deeper, made on access and cached while the
object at that place stays the same.
"""

from __future__ import annotations

import collections.abc
from typing import Any, Callable

import wrapt

from tastypy.errors import ReadOnlyError
from tastypy.observe.normal import copy, dict_key, format_path, normalize
from tastypy.observe.op import Op

_MISSING = object()

#: Immutable JSON scalars: already in normal form, nothing to copy (the hot
#: path of ``append`` and ``d[k] = v``; floats still go through the check).
_PLAIN = frozenset((str, int, bool, type(None)))

Report = Callable[[Op, Any], None]


def _emit(proxy: _Observable, ctx: list, method: str, args: tuple) -> None:
    """Report ``Op(path, method, args)`` for the proxy of ``ctx`` to its owner.

    ``args`` must not be objects now held by the wrapped data: an Op is
    immutable, and later mutations would otherwise change it too.

    A proxy kept in a variable outlives moves around it: after
    ``inner = l[0]; l.insert(0, x)`` its list sits at index 1, and after
    ``d['a'] = []`` the old list is gone. An ``Op`` with the old path would
    change another element when replayed, so the path is checked (one lookup
    a level) and, only when stale, looked for again; a container no longer in
    the owner's data reports nothing.
    """
    path = ctx[1]
    root = ctx[3]
    if len(path) > 1:
        node = root
        try:
            for step in path[1:]:
                node = node[step]
        except (LookupError, TypeError):
            node = _MISSING
        if node is not ctx[0] and isinstance(root, (dict, list)):
            found = _find(root, ctx[0], path[:1])
            if found is None:
                return
            # Later reports (and new children) start from where it is now.
            ctx[1] = found
            ctx[4] = None
            path = found
    ctx[2](Op(path, method, args), root)


def _find(node: Any, target: Any, path: tuple) -> tuple | None:
    """The path of ``target`` (by identity) inside ``node``, or None."""
    if node is target:
        return path
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return None
    for where, child in items:
        if isinstance(child, (dict, list)):
            found = _find(child, target, path + (where,))
            if found is not None:
                return found
    return None


def _child(ctx: list, where: Any, value: Any) -> Any:
    """``value``, found at ``where`` in the proxy of ``ctx``, as it is read."""
    kind = ctx[5].get(type(value))
    if kind is None:
        return value
    kids = ctx[4]
    if kids is None:
        kids = ctx[4] = {}
    else:
        known = kids.get(where)
        if known is not None and known[0] is value:
            return known[1]
    kid = kind(value, ctx[1] + (where,), ctx[2], ctx[3])
    kids[where] = (value, kid)
    return kid


class _Observable(wrapt.BaseObjectProxy):
    # BaseObjectProxy: wrapt.ObjectProxy adds a Python-level __new__ that
    # costs a third of every proxy's creation. All state sits in one list:
    # each attribute read on a wrapt proxy is a full generic lookup (~0.25 us
    # here), and these run on every access.
    __slots__ = ("_self_ctx",)
    _kinds: dict = {}

    def __init__(self, wrapped: Any, path: tuple, report: Report, root: Any) -> None:
        _proxy_init(self, wrapped)
        # [wrapped, path, report, root, children (made on first read), kinds]:
        # a list, so a moved proxy can update its path in place.
        _set_ctx(self, [wrapped, path, report, root, None, self._kinds])

    def __iter__(self) -> Any:
        return iter(self._self_ctx[0])

    def _self_child(self, where: Any, value: Any) -> Any:
        return _child(self._self_ctx, where, value)

    def _self_emit(self, method: str, *args: Any) -> None:
        _emit(self, self._self_ctx, method, args)

    @property
    def _self_path(self) -> tuple:
        return self._self_ctx[1]

    def _self_is_here(self, where: Any, value: Any) -> bool:
        """True when ``value`` is a proxy of the object already at ``where``.

        ``pod['k']['l'] += [1]`` mutates in place, then assigns the same list
        back; copying it would orphan the proxies users hold.
        """
        if not isinstance(value, _Observable):
            return False
        try:
            return self.__wrapped__[where] is value.__wrapped__
        except (KeyError, IndexError, TypeError):
            return False

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __copy__(self) -> Any:
        return copy(self.__wrapped__)

    def __deepcopy__(self, memo: dict) -> Any:
        return copy(self.__wrapped__)

    def __reduce_ex__(self, protocol: int) -> Any:
        # The plain value, as pickle writes a list or dict (``list.__reduce_ex__``
        # itself refuses protocols 0 and 1).
        wrapped = self.__wrapped__
        if isinstance(wrapped, dict):
            return (dict, (), None, None, iter(wrapped.items()))
        return (list, (), None, iter(wrapped))

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(0)

    def copy(self) -> Any:
        """A plain deep copy: changing it never touches the owner."""
        return copy(self.__wrapped__)


# Bound once: a proxy is made on every first read of a container, and plain
# attribute assignment on a wrapt proxy goes through its slower setattr.
_proxy_init = wrapt.BaseObjectProxy.__init__
_set_ctx = _Observable._self_ctx.__set__  # type: ignore[attr-defined]


class ObservableDict(_Observable):
    """A ``dict`` whose every mutation, at any depth, is reported as an ``Op``."""

    def __getitem__(self, key: Any) -> Any:
        ctx = self._self_ctx
        return _child(ctx, key, ctx[0][key])

    def get(self, key: Any, default: Any = None) -> Any:
        value = self.__wrapped__.get(key, _MISSING)
        if value is _MISSING:
            return default
        return self._self_child(key, value)

    def values(self) -> collections.abc.ValuesView:
        return collections.abc.ValuesView(self)

    def items(self) -> collections.abc.ItemsView:
        return collections.abc.ItemsView(self)

    def __or__(self, other: Any) -> Any:
        return copy(self.__wrapped__) | other

    def __ror__(self, other: Any) -> Any:
        return other | copy(self.__wrapped__)

    def __setitem__(self, key: Any, value: Any) -> None:
        ctx = self._self_ctx
        path = ctx[1]
        if type(key) is not str:
            key = dict_key(key, path)
        if isinstance(value, _Observable) and self._self_is_here(key, value):
            return
        if type(value) in _PLAIN:
            ctx[0][key] = value
        else:
            value = normalize(value, path + (key,))
            ctx[0][key] = value
            value = copy(value)
        _emit(self, ctx, "__setitem__", (key, value))

    def __delitem__(self, key: Any) -> None:
        del self.__wrapped__[key]
        self._self_emit("__delitem__", key)

    def clear(self) -> None:
        if self.__wrapped__:
            self.__wrapped__.clear()
            self._self_emit("clear")

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        if key in self.__wrapped__:
            value = self.__wrapped__.pop(key)
            self._self_emit("pop", key)
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple:
        item = self.__wrapped__.popitem()
        self._self_emit("pop", item[0])
        return item

    def setdefault(self, key: Any, default: Any = None) -> Any:
        key = dict_key(key, self._self_path)
        if key not in self.__wrapped__:
            default = normalize(default, self._self_path + (key,))
            self.__wrapped__[key] = default
            self._self_emit("__setitem__", key, copy(default))
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = self._self_changes(dict(*args, **kwargs))
        if changes:
            self.__wrapped__.update(changes)
            self._self_emit("update", copy(changes))

    def __ior__(self, other: Any) -> ObservableDict:
        self.update(other)
        return self

    def _self_changes(self, given: dict) -> dict:
        # Validate everything before changing anything.
        path = self._self_path
        changes = {}
        names: dict = {}
        for key, value in given.items():
            name = dict_key(key, path)
            if name in names:
                raise ValueError(
                    f"value at {format_path(path) or 'top level'}: keys {names[name]!r} "
                    f"and {key!r} both become {name!r} in JSON; make the keys distinct "
                    "strings"
                )
            names[name] = key
            key = name
            if not self._self_is_here(key, value):
                changes[key] = normalize(value, path + (key,))
        return changes


class ObservableList(_Observable):
    """A ``list`` whose every mutation, at any depth, is reported as an ``Op``."""

    def __getitem__(self, index: Any) -> Any:
        if type(index) is slice:
            return copy(self.__wrapped__[index])
        wrapped = self._self_ctx[0]
        value = wrapped[index]
        if index < 0:
            index += len(wrapped)
        return self._self_child(index, value)

    def __iter__(self) -> Any:
        ctx = self._self_ctx
        kinds = ctx[5]
        for index, value in enumerate(ctx[0]):
            yield value if type(value) not in kinds else _child(ctx, index, value)

    def __reversed__(self) -> Any:
        wrapped = self.__wrapped__
        for index in range(len(wrapped) - 1, -1, -1):
            yield self._self_child(index, wrapped[index])

    def __add__(self, other: Any) -> list:
        return copy(self.__wrapped__) + other

    def __radd__(self, other: Any) -> list:
        return other + copy(self.__wrapped__)

    def __mul__(self, times: Any) -> list:
        return [copy(v) for _ in range(times) for v in self.__wrapped__]

    __rmul__ = __mul__

    def append(self, value: Any) -> None:
        ctx = self._self_ctx
        wrapped = ctx[0]
        if type(value) in _PLAIN:
            wrapped.append(value)
        else:
            value = normalize(value, ctx[1] + (len(wrapped),))
            wrapped.append(value)
            value = copy(value)
        _emit(self, ctx, "append", (value,))

    def extend(self, values: Any) -> None:
        start = len(self.__wrapped__)
        path = self._self_path
        values = [normalize(v, path + (start + i,)) for i, v in enumerate(values)]
        if values:
            self.__wrapped__.extend(values)
            self._self_emit("extend", copy(values))

    def __iadd__(self, values: Any) -> ObservableList:
        self.extend(values)
        return self

    def __imul__(self, times: Any) -> ObservableList:
        wrapped = self.__wrapped__
        before = len(wrapped)
        wrapped *= times
        if len(wrapped) != before:
            # ``*=`` repeats references; JSON data is a tree, each copy its own.
            wrapped[before:] = [copy(v) for v in wrapped[before:]]
            self._self_emit("__imul__", times)
        return self

    def insert(self, index: Any, value: Any) -> None:
        value = normalize(value, self._self_path + (index,))
        self.__wrapped__.insert(index, value)
        self._self_emit("insert", index, copy(value))

    def remove(self, value: Any) -> None:
        # Check first: a non-JSON value equal to an element (Decimal(1) == 1)
        # must not remove it and then fail to be recorded.
        normal = normalize(value, self._self_path)
        self.__wrapped__.remove(value)
        self._self_emit("remove", normal)

    def pop(self, index: Any = -1) -> Any:
        value = self.__wrapped__.pop(index)
        self._self_emit("pop", index)
        return value

    def clear(self) -> None:
        if self.__wrapped__:
            self.__wrapped__.clear()
            self._self_emit("clear")

    def sort(self, *, key: Any = None, reverse: bool = False) -> None:
        wrapped = self.__wrapped__
        if len(wrapped) > 1:
            # A failed sort (``[2, 1, 'a']``) leaves a list partly sorted: sort a
            # copy, so that an error changes nothing.
            items = list(wrapped)
            items.sort(key=key, reverse=reverse)
            wrapped[:] = items
            # A key function cannot travel in an Op: record the outcome.
            self._self_emit("__setitem__", slice(None), copy(items))

    def reverse(self) -> None:
        if len(self.__wrapped__) > 1:
            self.__wrapped__.reverse()
            self._self_emit("reverse")

    def __setitem__(self, index: Any, value: Any) -> None:
        path = self._self_path
        if type(index) is slice:
            value = normalize(list(value), path)
        elif self._self_is_here(index, value):
            return
        else:
            value = normalize(value, path + (index,))
        self.__wrapped__[index] = value
        self._self_emit("__setitem__", index, copy(value))

    def __delitem__(self, index: Any) -> None:
        before = len(self.__wrapped__)
        del self.__wrapped__[index]
        if len(self.__wrapped__) != before:
            self._self_emit("__delitem__", index)


MUTATORS = {
    dict: (
        "__setitem__ __delitem__ clear pop popitem setdefault update __ior__"
    ).split(),
    list: (
        "append extend insert remove pop clear sort reverse "
        "__setitem__ __delitem__ __iadd__ __imul__"
    ).split(),
}


def _refuse(name: str) -> Callable:
    def refuse(self: _Observable, *args: Any, **kwargs: Any) -> None:
        raise ReadOnlyError(
            f"value at {format_path(self._self_path) or 'top level'}: {name}() "
            "on a store opened with mode='r'; open it with mode='w' to change it"
        )

    refuse.__name__ = name
    return refuse


class ReadOnlyDict(ObservableDict):
    """An ``ObservableDict`` of a read-only store: every mutator raises."""


class ReadOnlyList(ObservableList):
    """An ``ObservableList`` of a read-only store: every mutator raises."""


for _cls, _base in ((ReadOnlyDict, dict), (ReadOnlyList, list)):
    for _name in MUTATORS[_base]:
        setattr(_cls, _name, _refuse(_name))

ObservableDict._kinds = {dict: ObservableDict, list: ObservableList}
ObservableList._kinds = ObservableDict._kinds
ReadOnlyDict._kinds = {dict: ReadOnlyDict, list: ReadOnlyList}
ReadOnlyList._kinds = ReadOnlyDict._kinds

#: Proxy classes by plain type, for owners that wrap their top-level values.
WRITABLE = ObservableDict._kinds
READ_ONLY = ReadOnlyDict._kinds


def unwrap(value: Any) -> Any:
    """The plain object behind a proxy (any other value is returned as is).

    It is the owner's live data: read it (``json.dumps(unwrap(v))``); change
    it through the proxy, or the change is not recorded.
    """
    while isinstance(value, _Observable):
        value = value.__wrapped__
    return value
