"""Observable proxies: a ``dict`` or ``list`` that reports every mutation.

A proxy wraps the owner's own container (no copy on read) and knows its path
from the top-level key, the owner's ``report(op, root)`` callback and the
top-level container ``root`` it hangs from, so the owner can tell a live proxy
from one whose key has since been replaced. Each mutator normalizes its
arguments first (bad data changes nothing), applies the change, then reports
one ``Op`` -- and only when something changed. Containers read through a proxy
come back as proxies one level deeper, made on access and cached while the
object at that place stays the same.

A change and its report happen under the owner's lock, so that an owner
shared by threads never writes (or forgets) a change between the two.
"""

from __future__ import annotations

import collections.abc
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, SupportsIndex

import wrapt

from tastypy.errors import ReadOnlyError
from tastypy.keys import INT_CEILING, INT_FLOOR
from tastypy.observe.normal import copy, dict_key, format_path, normalize
from tastypy.observe.op import Op

if TYPE_CHECKING:
    from typing_extensions import Self

    # The stubs make the proxy generic over what it wraps; wrapt's runtime class is not subscriptable.
    _Proxy = wrapt.BaseObjectProxy[Any]
else:
    _Proxy = wrapt.BaseObjectProxy

_MISSING = object()

#: The fields of a proxy's state list (see ``_Observable.__init__``).
WRAPPED, PATH, REPORT, ROOT, KIDS, KINDS, LOCK = range(7)

Report = Callable[[Op, Any], None]

#: ``Op`` without ``NamedTuple.__new__``'s Python frame: one is made per mutation.
_new_op = tuple.__new__


def _notify(ctx: list[Any], method: str, args: tuple[Any, ...]) -> None:
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
    path = ctx[PATH]
    root = ctx[ROOT]
    if len(path) > 1:
        try:
            node = root[path[1]]
            if len(path) > 2:
                for step in path[2:]:
                    node = node[step]
        except (LookupError, TypeError):
            node = _MISSING
        if node is not ctx[WRAPPED] and isinstance(root, (dict, list)):
            found = _find(root, ctx[WRAPPED], path[:1])
            if found is None:
                return
            # Later reports (and new children) start from where it is now.
            ctx[PATH] = found
            ctx[KIDS] = None
            path = found
    ctx[REPORT](_new_op(Op, (path, method, args, ())), root)


def _find(node: Any, target: Any, path: tuple[Any, ...]) -> tuple[Any, ...] | None:
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


def _child(ctx: list[Any], where: Any, value: Any) -> Any:
    """``value``, found at ``where`` in the proxy of ``ctx``, as it is read."""
    proxy_class = ctx[KINDS].get(type(value))
    if proxy_class is None:
        return value
    kids = ctx[KIDS]
    if kids is None:
        kids = ctx[KIDS] = {}
    else:
        known = kids.get(where)
        if known is not None and known[0] is value:
            return known[1]
    kid = proxy_of(proxy_class, value, ctx[PATH] + (where,), ctx[REPORT], ctx[ROOT], ctx[LOCK])
    kids[where] = (value, kid)
    return kid


def _plain(value: Any) -> bool:
    """True for a scalar already in normal form: nothing to copy or check."""
    # `value` stays Any (a typed copy would cost the hot path), so its tests are Any too.
    t = type(value)
    if t is str:
        return value.isascii()  # type: ignore[no-any-return]
    if t is int:
        return INT_FLOOR < value < INT_CEILING  # type: ignore[no-any-return]
    return t is bool or value is None


class _Observable(_Proxy):
    # BaseObjectProxy: wrapt.ObjectProxy adds a Python-level __new__ that
    # costs a third of every proxy's creation. All state sits in one list
    # (fields WRAPPED … KINDS), read through the slot's descriptor (``_ctx``):
    # every access reads it, and one slot per field costs +75 % on reads.
    __slots__ = ("_self_ctx",)
    _kinds: ClassVar[dict[type, type[_Observable]]] = {}

    def __init__(
        self, wrapped: Any, path: tuple[Any, ...], report: Report, root: Any, lock: Any = None
    ) -> None:
        # The __wrapped__ setter, not BaseObjectProxy.__init__: that one also
        # copies __module__ and __doc__ of the wrapped object into the proxy's
        # own dict (reads of both are forwarded anyway), and for a dict or a
        # list the __module__ lookup raises and clears an AttributeError:
        # 1-2 us of each proxy's creation, the floor of every first read.
        _set_wrapped(self, wrapped)
        # A list, so a moved proxy can update its path in place; the
        # children's proxies are made on first read. ``lock`` is the owner's
        # (a POD's, so a sync never runs between a change and its report);
        # without one, the value gets its own.
        if lock is None:
            lock = threading.RLock()
        _set_ctx(self, [wrapped, path, report, root, None, self._kinds, lock])

    # wrapt's __wrapped__ setter calls this hook to adapt the proxy to a new
    # wrapped object; ours need nothing (any C callable without arguments).
    __wrapped_setattr_fixups__ = tuple

    def __iter__(self) -> Any:
        return iter(_ctx(self)[WRAPPED])

    @property
    def _self_path(self) -> tuple[Any, ...]:
        """The path from the top-level key (for subclasses' messages)."""
        return _ctx(self)[PATH]  # type: ignore[no-any-return]  # (the state list holds Any)

    def _self_is_here(self, where: Any, value: Any) -> bool:
        """True when ``value`` is a proxy of the object already at ``where``.

        ``pod['k']['l'] += [1]`` mutates in place, then assigns the same list
        back; copying it would orphan the proxies users hold.
        """
        if not isinstance(value, _Observable):
            return False
        try:
            return _ctx(self)[WRAPPED][where] is _ctx(value)[WRAPPED]
        except (KeyError, IndexError, TypeError):
            return False

    def __repr__(self) -> str:
        return repr(_ctx(self)[WRAPPED])

    def __copy__(self) -> Any:
        return copy(_ctx(self)[WRAPPED])

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy(_ctx(self)[WRAPPED])

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        # The plain value, as pickle writes a list or dict (``list.__reduce_ex__``
        # itself refuses protocols 0 and 1).
        wrapped = _ctx(self)[WRAPPED]
        if isinstance(wrapped, dict):
            return (dict, (), None, None, iter(wrapped.items()))
        return (list, (), None, iter(wrapped))

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(0)

    def copy(self) -> Any:
        """A plain deep copy: changing it never touches the owner."""
        return copy(_ctx(self)[WRAPPED])


# Bound once: attribute reads and writes on a wrapt proxy go through its
# generic getattr / setattr (~130 ns a read); the slot's own descriptor takes
# half that, and every access of a proxy reads its state.
# (wrapt's stubs declare __wrapped__ an instance variable, and mypy does not
# model a slot's descriptor: the ignores below.)
_set_wrapped = wrapt.BaseObjectProxy.__wrapped__.__set__  # type: ignore[misc]
_set_ctx: Callable[[_Observable, list[Any]], None] = _Observable._self_ctx.__set__  # type: ignore[attr-defined]
_ctx: Callable[[_Observable], list[Any]] = _Observable._self_ctx.__get__  # type: ignore[attr-defined]
_new = wrapt.BaseObjectProxy.__new__


def proxy_of(
    cls: type[_Observable], wrapped: Any, path: tuple[Any, ...], report: Report, root: Any, lock: Any
) -> Any:
    """``cls(wrapped, path, report, root, lock)`` (``lock`` given) without the
    Python frame of ``__init__``: an owner makes one at each first read."""
    proxy = _new(cls)
    _set_wrapped(proxy, wrapped)
    _set_ctx(proxy, [wrapped, path, report, root, None, cls._kinds, lock])
    return proxy


class ObservableDict(_Observable):
    """A ``dict`` whose every mutation, at any depth, is reported as an ``Op``."""

    def __getitem__(self, key: Any) -> Any:
        ctx = _ctx(self)
        value = ctx[WRAPPED][key]
        if type(value) not in ctx[KINDS]:  # _child's first test, inlined: most reads are scalars
            return value
        return _child(ctx, key, value)

    def get(self, key: Any, default: Any = None) -> Any:
        ctx = _ctx(self)
        value = ctx[WRAPPED].get(key, _MISSING)
        if value is _MISSING:
            return default
        return _child(ctx, key, value)

    def values(self) -> collections.abc.ValuesView[Any]:
        return collections.abc.ValuesView(self)

    def items(self) -> collections.abc.ItemsView[Any, Any]:
        return collections.abc.ItemsView(self)

    def __or__(self, other: Any) -> Any:
        return copy(_ctx(self)[WRAPPED]) | other

    def __ror__(self, other: Any) -> Any:
        return other | copy(_ctx(self)[WRAPPED])

    def __setitem__(self, key: Any, value: Any) -> None:
        ctx = _ctx(self)
        if type(key) is not str or not key.isascii():
            key = dict_key(key, ctx[PATH])
        if isinstance(value, _Observable) and self._self_is_here(key, value):
            return
        if _plain(value):
            lock = ctx[LOCK]
            lock.acquire()  # not ``with``: half the cost, on every nested update
            try:
                ctx[WRAPPED][key] = value
                _notify(ctx, "__setitem__", (key, value))
            finally:
                lock.release()
        else:
            value = normalize(value, ctx[PATH] + (key,))
            with ctx[LOCK]:
                ctx[WRAPPED][key] = value
                _notify(ctx, "__setitem__", (key, copy(value)))

    def __delitem__(self, key: Any) -> None:
        ctx = _ctx(self)
        with ctx[LOCK]:
            del ctx[WRAPPED][key]
            _notify(ctx, "__delitem__", (key,))

    def clear(self) -> None:
        ctx = _ctx(self)
        with ctx[LOCK]:
            if ctx[WRAPPED]:
                ctx[WRAPPED].clear()
                _notify(ctx, "clear", ())

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        ctx = _ctx(self)
        with ctx[LOCK]:
            if key in ctx[WRAPPED]:
                value = ctx[WRAPPED].pop(key)
                _notify(ctx, "pop", (key,))
                return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[Any, Any]:
        ctx = _ctx(self)
        with ctx[LOCK]:
            item: tuple[Any, Any] = ctx[WRAPPED].popitem()
            _notify(ctx, "pop", (item[0],))
        return item

    def setdefault(self, key: Any, default: Any = None) -> Any:
        ctx = _ctx(self)
        key = dict_key(key, ctx[PATH])
        with ctx[LOCK]:
            if key not in ctx[WRAPPED]:
                default = normalize(default, ctx[PATH] + (key,))
                ctx[WRAPPED][key] = default
                _notify(ctx, "__setitem__", (key, copy(default)))
            return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = self._self_changes(dict(*args, **kwargs))
        if changes:
            ctx = _ctx(self)
            with ctx[LOCK]:
                ctx[WRAPPED].update(changes)
                _notify(ctx, "update", (copy(changes),))

    def __ior__(self, other: Any) -> Self:
        self.update(other)
        return self

    def _self_changes(self, given: dict[Any, Any]) -> dict[str, Any]:
        # Validate everything before changing anything.
        path = _ctx(self)[PATH]
        changes: dict[str, Any] = {}
        names: dict[str, Any] = {}
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
        ctx = _ctx(self)
        if type(index) is slice:
            return copy(ctx[WRAPPED][index])
        value = ctx[WRAPPED][index]
        if index < 0:
            index += len(ctx[WRAPPED])
        return _child(ctx, index, value)

    def __iter__(self) -> Any:
        ctx = _ctx(self)
        kinds = ctx[KINDS]
        for index, value in enumerate(ctx[WRAPPED]):
            yield value if type(value) not in kinds else _child(ctx, index, value)

    def __reversed__(self) -> Any:
        ctx = _ctx(self)
        for index in range(len(ctx[WRAPPED]) - 1, -1, -1):
            yield _child(ctx, index, ctx[WRAPPED][index])

    # Any: ``other.__radd__`` may answer instead.
    def __add__(self, other: Any) -> Any:
        return copy(_ctx(self)[WRAPPED]) + other

    def __radd__(self, other: Any) -> Any:
        return other + copy(_ctx(self)[WRAPPED])

    def __mul__(self, times: Any) -> list[Any]:
        return [copy(v) for _ in range(times) for v in _ctx(self)[WRAPPED]]

    __rmul__ = __mul__

    def append(self, value: Any) -> None:
        ctx = _ctx(self)
        t = type(value)
        # _plain(value), inlined: the hot path of the profiling use case.
        if (
            (t is str and value.isascii())
            or (t is int and INT_FLOOR < value < INT_CEILING)
            or t is bool
            or value is None
        ):
            with ctx[LOCK]:
                ctx[WRAPPED].append(value)
                _notify(ctx, "append", (value,))
        else:
            value = normalize(value, ctx[PATH] + (len(ctx[WRAPPED]),))
            with ctx[LOCK]:
                ctx[WRAPPED].append(value)
                _notify(ctx, "append", (copy(value),))

    def extend(self, values: Any) -> None:
        ctx = _ctx(self)
        start = len(ctx[WRAPPED])
        path = ctx[PATH]
        values = [normalize(v, path + (start + i,)) for i, v in enumerate(values)]
        if values:
            with ctx[LOCK]:
                ctx[WRAPPED].extend(values)
                _notify(ctx, "extend", (copy(values),))

    def __iadd__(self, values: Any) -> Self:
        self.extend(values)
        return self

    def __imul__(self, times: Any) -> Self:
        ctx = _ctx(self)
        with ctx[LOCK]:
            before = len(ctx[WRAPPED])
            ctx[WRAPPED] *= times
            if len(ctx[WRAPPED]) != before:
                # ``*=`` repeats references; JSON data is a tree, each copy its own.
                ctx[WRAPPED][before:] = [copy(v) for v in ctx[WRAPPED][before:]]
                _notify(ctx, "__imul__", (times,))
        return self

    def insert(self, index: Any, value: Any) -> None:
        ctx = _ctx(self)
        value = normalize(value, ctx[PATH] + (index,))
        with ctx[LOCK]:
            ctx[WRAPPED].insert(index, value)
            _notify(ctx, "insert", (index, copy(value)))

    def remove(self, value: Any) -> None:
        ctx = _ctx(self)
        # Check first: a non-JSON value equal to an element (Decimal(1) == 1)
        # must not remove it and then fail to be recorded.
        normal = normalize(value, ctx[PATH])
        with ctx[LOCK]:
            ctx[WRAPPED].remove(value)
            _notify(ctx, "remove", (normal,))

    def pop(self, index: Any = -1) -> Any:
        ctx = _ctx(self)
        with ctx[LOCK]:
            value = ctx[WRAPPED].pop(index)
            _notify(ctx, "pop", (index,))
        return value

    def clear(self) -> None:
        ctx = _ctx(self)
        with ctx[LOCK]:
            if ctx[WRAPPED]:
                ctx[WRAPPED].clear()
                _notify(ctx, "clear", ())

    def sort(self, *, key: Any = None, reverse: bool = False) -> None:
        ctx = _ctx(self)
        with ctx[LOCK]:
            if len(ctx[WRAPPED]) > 1:
                # A failed sort (``[2, 1, 'a']``) leaves a list partly sorted: sort a
                # copy, so that an error changes nothing.
                items = list(ctx[WRAPPED])
                items.sort(key=key, reverse=reverse)
                ctx[WRAPPED][:] = items
                # A key function cannot travel in an Op: record the outcome.
                _notify(ctx, "__setitem__", (slice(None), copy(items)))

    def reverse(self) -> None:
        ctx = _ctx(self)
        with ctx[LOCK]:
            if len(ctx[WRAPPED]) > 1:
                ctx[WRAPPED].reverse()
                _notify(ctx, "reverse", ())

    def __setitem__(self, index: Any, value: Any) -> None:
        ctx = _ctx(self)
        path = ctx[PATH]
        if type(index) is slice:
            value = normalize(list(value), path)
        elif self._self_is_here(index, value):
            return
        else:
            value = normalize(value, path + (index,))
        with ctx[LOCK]:
            ctx[WRAPPED][index] = value
            _notify(ctx, "__setitem__", (index, copy(value)))

    def __delitem__(self, index: Any) -> None:
        ctx = _ctx(self)
        with ctx[LOCK]:
            before = len(ctx[WRAPPED])
            del ctx[WRAPPED][index]
            if len(ctx[WRAPPED]) != before:
                _notify(ctx, "__delitem__", (index,))


MUTATORS = {
    dict: (
        "__setitem__ __delitem__ clear pop popitem setdefault update __ior__"
    ).split(),
    list: (
        "append extend insert remove pop clear sort reverse "
        "__setitem__ __delitem__ __iadd__ __imul__"
    ).split(),
}


def _refuse(name: str) -> Callable[..., None]:
    def refuse(self: _Observable, *args: Any, **kwargs: Any) -> None:
        raise ReadOnlyError(
            f"value at {format_path(_ctx(self)[PATH]) or 'top level'}: {name}() "
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

    It is the owner's live data: read it (``json.dumps(unwrap(v))``, or
    ``json.dumps(v, default=tastypy.unwrap)``, since ``json`` refuses a
    proxy); change it through the proxy, or the change is not recorded.
    """
    while isinstance(value, _Observable):
        value = _ctx(value)[WRAPPED]
    return value
