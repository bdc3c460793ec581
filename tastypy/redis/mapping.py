"""The mapping operations of a RedisLink: the POD's methods, reading in chunks, ``.set`` ops."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from tastypy.keys import check_key
from tastypy.observe import Op, apply, encode, normalize, unwrap
from tastypy.records import RecordDict, absent_error, check_record, normal_record
from tastypy.redis import ops, plan
from tastypy.redis.calls import Scripts
from tastypy.redis.connection import BATCH
from tastypy.redis.plan import Plan
from tastypy.store.format import encode_key

_MISSING = object()


class MappingOps(Scripts):
    """A POD's methods, each the plan of one script or one command on the name's keys.

    The handler of operation ``name`` (``tastypy.operations``) is
    ``_<name>`` without its dunders (``__getitem__``: ``_getitem``).
    """

    #: Ops on the mapping itself (``.set['k'] = v``, ``.set.pop('k')``), by method (set in ``link.py``).
    TOP: ClassVar[dict[str, Callable[..., Any]]] = {}

    # -- keys and values -------------------------------------------------------

    def _key(self, key: Any) -> str:
        return encode_key(check_key(key))

    def _lookup(self, key: Any) -> str | None:
        """The key text to read ``key`` under; None for a key no POD can hold."""
        try:
            return encode_key(key)
        except TypeError:
            hash(key)  # unhashable: the TypeError a dict gives
            return None

    def _text(self, key: Any, value: Any) -> str:
        if self._tracker:
            return encode(self._record(key, value))
        return encode(normalize(value, (key,)))

    def _record(self, key: Any, value: Any) -> dict[str, Any]:
        return normal_record(key, value)

    def _absent(self, key: Any) -> KeyError:
        if self._tracker:
            return absent_error(key, self.where)
        return KeyError(key)

    # -- the POD's methods -------------------------------------------------------

    def _getitem(self, key: Any) -> Plan[Any]:
        found, value = yield from self._get(key)
        if not found:
            raise KeyError(key)
        return value

    def _get(self, key: Any) -> Plan[tuple[bool, Any]]:
        ktext = self._lookup(key)
        if ktext is None:
            return False, None
        text = yield plan.call("hget", self._values, ktext)
        if text is None:
            return False, None
        return True, self._value(ktext, text)

    def _setitem(self, key: Any, value: Any) -> Plan[None]:
        yield from self._run("SET", self._key(key), self._text(key, value))

    def _delitem(self, key: Any) -> Plan[None]:
        ktext = self._lookup(key)
        if ktext is None or (yield from self._run("DELETE", ktext, "")) is None:
            raise KeyError(key)

    def _contains(self, key: Any) -> Plan[bool]:
        ktext = self._lookup(key)
        return ktext is not None and bool((yield plan.call("hexists", self._values, ktext)))

    def _len(self) -> Plan[int]:
        count: int = yield plan.call("hlen", self._values)
        return count

    def _pop(self, key: Any, default: Any = _MISSING) -> Plan[Any]:
        ktext = self._lookup(key)
        got = None if ktext is None else (yield from self._run("DELETE", ktext, "1"))
        if ktext is None or got is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        if got[0] == 1:
            return self._value(ktext, got[1])
        value = self._value(ktext, got[1])  # what the engine could not vouch for
        if (yield from self._run("CAS", ktext, got[1], "")):
            return value
        return (yield from self._pop(key, default))  # changed meanwhile

    def _popitem(self) -> Plan[tuple[Any, Any]]:
        got = yield from self._run("POPITEM")
        if got is None:
            raise KeyError(f"popitem(): {self.where} is empty")
        key, ktext, text = self._key_of(got[1]), got[1], got[2]
        if got[0] == 1:
            return key, self._value(ktext, text)
        if not text:
            raise self._damaged(ktext, None, "")
        value = self._value(ktext, text)  # what the engine could not vouch for
        if (yield from self._run("CAS", ktext, text, "")):
            return key, value
        return (yield from self._popitem())  # changed meanwhile

    def _setdefault(self, key: Any, default: Any = None) -> Plan[Any]:
        ktext = self._key(key)
        try:
            text = self._text(key, default)
        except (TypeError, ValueError):
            # A default that could not be stored matters only if it must be.
            found, value = yield from self._get(key)
            if found:
                return value
            raise
        return self._value(ktext, (yield from self._run("SETDEFAULT", ktext, text)))

    def _update(self, pairs: Any = (), **kwargs: Any) -> Plan[None]:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        checked = []
        for pair in [*items, *kwargs.items()]:
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise TypeError(f"update() needs a mapping or (key, value) pairs, got {pair!r}") from None
            check_key(key)
            checked.append((key, unwrap(value)))
        if self._tracker:
            yield from self._merge(checked)
            return
        args: list[str] = []
        for key, value in checked:
            args += [self._key(key), self._text(key, value)]
        if args:
            yield from self._run("PUT_MANY", *args)

    def _merge(self, pairs: list[tuple[Any, Any]]) -> Plan[None]:
        """The tracker's update: each dict merged into its record, all or nothing."""
        for key, value in pairs:
            if not isinstance(value, dict):
                self._record(key, value)  # raises the TypeError that names the key
        ktexts = list(dict.fromkeys(self._key(key) for key, _ in pairs))
        while True:
            olds = dict(zip(ktexts, (yield plan.call("hmget", self._values, ktexts))))
            merged: dict[str, tuple[Any, dict[str, Any]]] = {}
            for key, value in pairs:
                ktext = self._key(key)
                if ktext not in merged:
                    old = olds[ktext]
                    merged[ktext] = (key, self._value(ktext, old) if old is not None else {})
                merged[ktext] = (key, {**merged[ktext][1], **value})
            args: list[str] = []
            for ktext, (key, record) in merged.items():
                args += [ktext, olds[ktext] or "", encode(self._record(key, record))]
            if not args or (yield from self._run("CAS", *args)):
                return

    def _clear(self) -> Plan[None]:
        yield from self._run("CLEAR")

    def _nothing(self, *args: Any) -> None:
        """Redis keeps no unsynced state in a client: nothing to write, hold or drop."""

    _sync = _sync_key = _hold = _unhold = _revert = _exit_sync = _close = _nothing

    def _mark_dirty(self, key: Any) -> Plan[None]:
        if not (yield from self._contains(key)):
            raise KeyError(key)

    def _dirty(self) -> set[Any]:
        return set()

    # -- reading in chunks -------------------------------------------------------

    def _keys(self, start: int, count: int) -> Plan[list[Any]]:
        ktexts = yield plan.call("zrange", self._order, start, start + count - 1)
        return [self._key_of(k) for k in ktexts]

    def _items(self, start: int, count: int) -> Plan[list[tuple[Any, Any]]]:
        while True:
            ktexts = yield plan.call("zrange", self._order, start, start + count - 1)
            texts = (yield plan.call("hmget", self._values, ktexts)) if ktexts else []
            if None not in texts:
                return [(self._key_of(k), self._value(k, t)) for k, t in zip(ktexts, texts)]
            # A key was deleted between the two reads: read the chunk again.

    def _equals(self, other: dict[Any, Any]) -> Plan[bool]:
        if len(other) != (yield from self._len()):
            return False
        pairs = list(other.items())
        for at in range(0, len(pairs), BATCH):
            chunk = pairs[at : at + BATCH]
            ktexts = []
            for key, _ in chunk:
                ktext = self._lookup(key)
                if ktext is None:
                    return False
                ktexts.append(ktext)
            texts = yield plan.call("hmget", self._values, ktexts)
            for (_, value), ktext, text in zip(chunk, ktexts, texts):
                if text is None or self._value(ktext, text) != value:
                    return False
        return True

    def _attr(self, name: str) -> Any:
        if name != "max_tries":
            raise AttributeError(name)
        return self.max_tries

    # -- operation records -------------------------------------------------------

    def _apply(self, op: Op) -> Plan[Any]:
        if not op.path:
            return (yield from self._apply_top(op))
        key = op.key
        ktext = self._lookup(key)
        if ktext is None:
            raise KeyError(key)
        got = yield from self._run("APPLY", ktext, *ops.op_args(op))
        if got[0] == 1:
            return ops.decode_result(op, got[1])
        if got[0] == 2:
            raise KeyError(key)
        if got[1] != ops.FALLBACK:
            raise ops.error(got[1], got[2])
        return (yield from self._apply_in_python(op, key, ktext))

    def _apply_many(self, records: list[Any]) -> Plan[None]:
        """Apply Op records in order, in one step: no other client's call lands between two.

        Read, applied here, written back by one compare-and-set script (read
        again and redone if another client changed those keys meanwhile).
        The first that fails raises; the ones before it are applied, none
        after it, as on the other hosts. A batch whose keys cannot be known
        ahead (``update``, ``clear``, ``popitem`` of the mapping itself), or
        that deletes a key and stores it again (its place moves to the end),
        runs op by op instead, each atomic on its own.
        """
        batch = [Op(*record) for record in records]
        ktexts: dict[Any, str] = {}
        for key in _keys_of(batch) or ():
            ktext = self._lookup(key)
            if ktext is None:
                break
            ktexts[key] = ktext
        else:
            if ktexts:
                yield from self._apply_together(batch, ktexts)
                return
        yield from self._apply_each(batch)  # also the error a key no POD can hold gets

    def _apply_together(self, batch: list[Op], ktexts: dict[Any, str]) -> Plan[None]:
        while True:
            olds = dict(zip(ktexts.values(), (yield plan.call("hmget", self._values, list(ktexts.values())))))
            box: dict[Any, Any] = {
                key: self._observed(key, self._value(ktext, olds[ktext]))
                for key, ktext in ktexts.items()
                if olds[ktext] is not None
            }
            error: Exception | None = None
            removed: set[Any] = set()
            for op in batch:
                if not op.path and op.method in ("__delitem__", "pop"):
                    removed.add(op.args[0])
                try:
                    apply(op, box)
                except Exception as exc:  # noqa: BLE001  (raised once what came before is written)
                    error = exc
                    break
            if removed & box.keys():
                yield from self._apply_each(batch)
                return
            args: list[str] = []
            for key, ktext in ktexts.items():
                old = olds[ktext] or ""
                new = self._text(key, unwrap(box[key])) if key in box else ""
                if new != old:
                    args += [ktext, old, new]
            if not args or (yield from self._run("CAS", *args)):
                if error is not None:
                    raise error
                return

    def _apply_each(self, batch: list[Op]) -> Plan[None]:
        for op in batch:
            yield from self._apply(op)

    def _apply_in_python(self, op: Op, key: Any, ktext: str) -> Plan[Any]:
        """What the engine leaves to Python: read, apply, write if unchanged meanwhile."""
        while True:
            old = yield plan.call("hget", self._values, ktext)
            if old is None:
                raise KeyError(key)
            box = {key: self._observed(key, self._value(ktext, old))}
            result = unwrap(apply(op, box))
            value = unwrap(box[key])
            if self._tracker:
                check_record(key, value)
            new = encode(value)
            if new == old or (yield from self._run("CAS", ktext, old, new)):
                return result

    def _observed(self, key: Any, value: Any) -> Any:
        # A record behind its guard: a bad special field is refused, with
        # the error a Tracker gives, before anything changes.
        if self._tracker and type(value) is dict:
            return RecordDict(value, (key,), _unseen, value)
        return value

    def _apply_top(self, op: Op) -> Plan[Any]:
        method = self.TOP.get(op.method)
        if method is None:
            raise TypeError(f"{op.method}() is not a mutation tastypy applies to the mapping itself")
        return (yield from plan.follow(method(self, *op.args, **dict(op.kwargs))))


def _unseen(op: Op, root: Any) -> None:
    """The owner of a record proxy made to apply one Op: the Op is known already."""


#: Methods of the mapping itself whose first argument is the one key they touch.
_ONE_KEY = frozenset(("__setitem__", "__delitem__", "pop", "setdefault"))


def _keys_of(batch: list[Op]) -> list[Any] | None:
    """The keys ``batch`` touches, in order; None if some cannot be known ahead."""
    keys: dict[Any, None] = {}
    for op in batch:
        if op.path:
            key = op.path[0]
        elif op.method in _ONE_KEY and op.args:
            key = op.args[0]
        else:
            return None
        keys[key] = None
    return list(keys)
