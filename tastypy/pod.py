"""``PersistentOrderedDict`` (``POD``): a dict that keeps itself on disk."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pathlib
import threading
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from tastypy import exits
from tastypy.errors import ReadOnlyError, TastypyError
from tastypy.keys import K, V
from tastypy.observe import (
    READ_ONLY,
    WRITABLE,
    Op,
    check_key,
    copy,
    decode,
    encode,
    normalize,
    proxy_of,
    text_if_normal,
    unwrap,
)
from tastypy.store import DELETE, Store

if TYPE_CHECKING:
    from typing_extensions import Self

    from tastypy.store.folder import _Sentinel

_MISSING: Any = object()

#: The value of a key not read since the folder was opened: its JSON text is
#: in the store, decoded on the first read (one form held per key, not two).
_UNREAD = object()

#: The value of a key assigned since, kept as its JSON text (in ``_texts``)
#: until it is read: the encoder checked and copied it in one call.
_ENCODED = object()

#: The values whose assignment keeps their text (a scalar is its own copy).
_TEXTED = frozenset({dict, list, tuple})

_log = logging.getLogger("tastypy")

#: The last read's (value, proxy) before any read: matches no value.
_NO_PROXY: tuple[Any, Any] = (_MISSING, None)


#: The open POD of each (folder, read-only) in this process.
_registry: dict[tuple[pathlib.Path, bool], PersistentOrderedDict[Any, Any]] = {}
#: Held while a POD is looked up or opened: two threads opening one folder
#: get one object, never two writers.
_opening = threading.RLock()


def _locks_anew_in_child() -> None:
    """A forked child starts with free locks: a thread of the parent may have
    held one at the fork, and that thread does not exist in the child."""
    global _opening
    _opening = threading.RLock()
    for pod in _registry.values():
        if "_lock" in pod.__dict__:
            pod._lock = threading.RLock()
            pod._last = _NO_PROXY  # its proxy holds the old lock


os.register_at_fork(after_in_child=_locks_anew_in_child)

_T = TypeVar("_T")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic collector while loading: loading makes no garbage, and
    a collection meanwhile would only walk what was just loaded, again and again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def folder_path(path: str | os.PathLike[str]) -> pathlib.Path:
    """The absolute folder ``path`` names (``~`` expanded): one per folder, whatever the spelling."""
    return pathlib.Path(os.path.expanduser(os.fspath(path))).absolute()


def _sync_all() -> None:
    """At exit: settle every writer of this process; one failure does not stop the rest."""
    for pod in list(_registry.values()):
        if pod._pid == os.getpid() and "_store" in pod.__dict__ and not pod._store.read_only:
            try:
                pod._settle()
            except Exception:  # noqa: BLE001 -- logged; the other PODs must still sync
                _log.exception("tastypy: could not sync %s at exit; its unsynced changes are lost", pod.path)


class _Closed:
    """Stands in for the data of a closed POD: any use says so clearly."""

    def __init__(self, path: pathlib.Path) -> None:
        self._path = path

    def _fail(self, *args: Any) -> Any:
        raise ValueError(f"POD at {self._path} is closed; open it again to use it")

    __getitem__ = __setitem__ = __delitem__ = __contains__ = __len__ = __iter__ = _fail
    get = pop = clear = items = keys = values = update = setdefault = _fail


class _Items(ItemsView[K, V]):
    _mapping: PersistentOrderedDict[K, V]

    def __iter__(self) -> Iterator[tuple[K, V]]:
        return self._mapping._live_items()


class _Values(ValuesView[V]):
    _mapping: PersistentOrderedDict[Any, V]

    def __iter__(self) -> Iterator[V]:
        for _, value in self._mapping._live_items():
            yield value


class OldIterators(Generic[K, V]):
    """``iterkeys()`` and friends, kept for code written for tastypy 0.x."""

    if TYPE_CHECKING:  # what the mapping it is mixed into provides

        def keys(self) -> KeysView[K]: ...
        def values(self) -> ValuesView[V]: ...
        def items(self) -> ItemsView[K, V]: ...

    def iterkeys(self) -> Iterator[K]:
        """Old name of ``iter(pod.keys())``."""
        return iter(self.keys())

    def itervalues(self) -> Iterator[V]:
        """Old name of ``iter(pod.values())``."""
        return iter(self.values())

    def iteritems(self) -> Iterator[tuple[K, V]]:
        """Old name of ``iter(pod.items())``."""
        return iter(self.items())


def pairs_of(other: Any) -> Iterable[Any]:
    """What ``update(other)`` adds, as ``dict.update`` reads it: a mapping's
    items, any object with ``keys()`` through ``other[key]``, else ``other``
    itself as ``(key, value)`` pairs."""
    if isinstance(other, Mapping):
        return other.items()
    if hasattr(other, "keys"):
        return ((key, other[key]) for key in other.keys())  # noqa: SIM118 -- dict.update asks keys(), not iter()
    return other  # type: ignore[no-any-return]


def two(pair: Any) -> tuple[Any, Any]:
    """``(key, value)`` of one element given to ``update()``, refused as ``dict.update`` does."""
    try:
        key, value = pair
    except TypeError:
        raise TypeError(f"update() needs a mapping or (key, value) pairs, got {pair!r}") from None
    except ValueError:
        raise ValueError(f"update() needs (key, value) pairs of two, got {pair!r}") from None
    return key, value


class DictMethods(Generic[K, V]):
    """What a ``dict`` has beyond ``MutableMapping``: ``copy()``, ``|``, ``|=``, ``reversed()``.

    ``copy()`` and ``|`` make a plain ``dict`` of plain values (a snapshot,
    not another store: changing it changes nothing stored).
    """

    if TYPE_CHECKING:  # what the mapping it is mixed into provides

        def items(self) -> ItemsView[K, V]: ...
        def update(self, other: Any = (), /, **kwargs: V) -> None: ...
        def __iter__(self) -> Iterator[K]: ...

    def copy(self) -> dict[K, V]:
        """A plain ``dict`` of plain (deep-copied) values, in insertion order."""
        return {key: copy(unwrap(value)) for key, value in self.items()}

    def __or__(self, other: Any) -> dict[K, V]:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**self.copy(), **{key: unwrap(value) for key, value in other.items()}}

    def __ror__(self, other: Any) -> dict[K, V]:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**{key: unwrap(value) for key, value in other.items()}, **self.copy()}

    def __ior__(self, other: Any) -> Self:
        self.update(other)
        return self

    def __reversed__(self) -> Iterator[K]:
        """The keys, last inserted first."""
        keys: list[K] = list(self)
        return iter(keys[::-1])


class PersistentOrderedDict(DictMethods[K, V], OldIterators[K, V], MutableMapping[K, V]):
    """A ``dict`` kept on disk as JSON shard files, in insertion order.

    Values read back are observable proxies: a mutation at any depth marks the
    top-level key dirty. Dirty keys are written every ``sync_at`` changes, on
    ``sync()``, ``close()`` and at exit (also on SIGTERM, SIGHUP and Ctrl-C);
    a ``kill -9`` loses the changes since the last sync. Opening a folder
    that this process holds open gives the same object.

    One object may be used by many threads: each public call is atomic with
    respect to the others (the object's lock, also held by its proxies while
    they change a value), and ``locked()`` holds it for a block.

    :param path: the folder (``str`` or ``os.PathLike``, ``~`` expanded),
        created with its parents if missing.
    :param init: a mapping or an iterable of ``(key, value)`` pairs, added
        as by ``update()``.
    :param gzipped: write shard files gzipped (``N.json.gz``). An existing
        folder keeps the format it was made with.
    :param file_size: about how many entries go in one shard file.
    :param sync_at: write to disk once this many keys are dirty.
    :param mode: ``'w'`` to write (one process at a time: another gets
        ``LockedError``), ``'r'`` to read the last completed sync, even
        while another process writes; any change then raises
        ``ReadOnlyError``.
    :raises ValueError: the folder is open in this process with other
        options, or an option is out of range.
    :raises LockedError: another process writes the folder.
    :raises IntegrityError: a file of the folder is damaged.
    """

    def __new__(cls, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Self:
        # One folder, one object per process: a second POD() on the same
        # folder is the same object, so there is never a stale copy. It is
        # registered at once, so a thread opening it meanwhile gets it too
        # (and waits in __init__ until it is open).
        key = (folder_path(path), kwargs.get("mode", "w") == "r")
        with _opening:
            pod = _registry.get(key)
            if pod is not None and pod._pid == os.getpid():
                if type(pod) is not cls:
                    raise ValueError(
                        f"{key[0]} is open as a {type(pod).__name__} in this process; "
                        f"open it as a {type(pod).__name__}, or close that first"
                    )
                return pod
            pod = super().__new__(cls)
            pod._pid = os.getpid()
            _registry[key] = pod
            return pod

    def __init__(
        self,
        path: str | os.PathLike[str],
        init: Mapping[K, V] | Iterable[tuple[K, V]] | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        mode: str = "w",
    ) -> None:
        where = (folder_path(path), mode == "r")
        with _opening:
            try:
                if mode not in ("r", "w"):
                    raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
                if type(file_size) is not int or file_size < 1:
                    raise ValueError(f"file_size must be a positive int, not {file_size!r}")
                if type(sync_at) is not int or sync_at < 1:
                    raise ValueError(f"sync_at must be a positive int, not {sync_at!r}")
                if "_store" in self.__dict__:
                    self._check_same(gzipped=gzipped, file_size=file_size, sync_at=sync_at)
                    self._users += 1
                else:
                    self._open(*where, gzipped, file_size)
                    self._sync_at = sync_at
            except BaseException:
                self._forget_unopened(where)
                raise
        self._fill(init)

    def _fill(self, init: Any) -> None:
        """``update(init)`` after the open; if it fails, this opener closes again."""
        if init is not None:
            try:
                self.update(init)
            except BaseException:
                self.close()
                raise

    def _forget_unopened(self, where: tuple[pathlib.Path, bool]) -> None:
        """After a failed first open: the next opener of the folder starts over."""
        if "_store" not in self.__dict__ and _registry.get(where) is self:
            del _registry[where]

    def _open(self, path: pathlib.Path, read_only: bool, gzipped: bool, file_size: int) -> None:
        self._store = Store(path, gzipped=gzipped, file_size=file_size, read_only=read_only)
        # What this process asked for (the folder's own format may differ and wins).
        self._format = {"gzipped": gzipped, "file_size": file_size}
        self._pid = os.getpid()
        self._data: dict[Any, Any] = {}
        # key -> JSON text of a value assigned and not read since (see _ENCODED);
        # None when a subclass checks values itself (``_normal``).
        self._texts: dict[Any, str] | None = (
            {} if type(self)._normal is PersistentOrderedDict._normal else None
        )
        self._read_only = read_only
        #: Whether a subclass follows changes (``_changed``): else not called.
        self._hooked = type(self)._changed is not PersistentOrderedDict._changed
        #: Whether a subclass looks at values read from disk (``_decoded``).
        self._decodes = type(self)._decoded is not PersistentOrderedDict._decoded
        # key -> True when its old place on disk must go (deleted, maybe
        # re-added); new keys enter in the order they enter ``_data``.
        self._dirty: dict[Any, bool] = {}
        # The last value read and its proxy, given again to a read of the same
        # value (``pod[k]['a']; pod[k]['b']``). No more are kept: a proxy
        # dropped at once is freed at once, while a cache of them fills the
        # collector's oldest generation with them (most of W3 with 256 kept).
        self._last = _NO_PROXY
        self._report = self._on_op  # bound once
        self._proxy_types = READ_ONLY if read_only else WRITABLE
        self._held = False
        self._users = 1
        self._lock = threading.RLock()
        #: Bumped when a key is added or deleted, or all are reloaded: an
        #: iteration goes on from a snapshot while it is unchanged.
        self._version = 0
        try:
            self._load()
        except BaseException:
            self._store.close()  # a folder that failed to open keeps no lock
            del self._store
            raise
        if not read_only:
            exits.on_exit(_sync_all)

    def _options(self) -> dict[str, Any]:
        """The options a second opener in this process must repeat."""
        return {**self._format, "sync_at": self._sync_at}

    def _check_same(self, **asked: Any) -> None:
        """Refuse to reopen with other options: they would change the first opener's object."""
        options = self._options()
        for name, value in asked.items():
            if value != options[name]:
                raise ValueError(
                    f"{self._store.path} is open in this process with {name}={options[name]!r}, "
                    f"not {name}={value!r}; open it again with the same value (or close it first)"
                )

    def _load(self) -> None:
        self._dirty.clear()
        self._last = _NO_PROXY
        if self._texts:
            self._texts.clear()
        with _collector_paused():
            self._store.refresh()
            self._data = dict.fromkeys(self._store.keys(), _UNREAD)
            self._version += 1
            self._all_read = False
            self._reloaded()

    def _read(self, key: Any, alone: bool = False) -> Any:
        """Decode the value of ``key`` on its first read, and keep it.

        The values kept with it in its shard (a ``file_size`` of them) are
        decoded with it: one parse of them all costs less than a third of
        one parse each, and the collector is paused meanwhile. ``alone``:
        this one only (a few keys scattered over many shards).
        """
        data = self._data
        shard = None if alone else self._store.shard_values(key)
        if shard is None:  # a text there is not JSON: this one alone, named if bad
            value = self._store.value(key)
        else:
            value = shard.pop(key)
            with _collector_paused():
                if not self._decodes:  # no hook to call: the keys still unread take their values
                    get = data.get
                    data.update({k: v for k, v in shard.items() if get(k, _MISSING) is _UNREAD})
                    shard = {}
                for other, other_value in shard.items():
                    if data.get(other, _MISSING) is _UNREAD:
                        try:
                            self._decoded(other, other_value)
                        except ValueError:
                            continue  # refused when it is read itself
                        data[other] = other_value
        self._decoded(key, value)
        data[key] = value
        return value

    def _plain(self, key: Any, alone: bool = False) -> Any:
        """The plain value of ``key`` (``KeyError`` if absent); ``alone``: see ``_read``."""
        value = self._data[key]
        if value is _UNREAD:
            return self._read(key, alone)
        if value is _ENCODED:
            return self._decode_text(key)
        return value

    def _decode_text(self, key: Any) -> Any:
        """The value of ``key`` from the text it was assigned as, kept from now on."""
        value = self._data[key] = decode(self._texts.pop(key))  # type: ignore[union-attr]
        return value

    def _read_all(self) -> None:
        """Decode every value not read yet (a shard at a time: faster than one by one)."""
        if self._all_read and not self._texts:
            return
        with self._lock:
            data = self._data
            for key in list(self._texts or ()):
                self._decode_text(key)
            if self._all_read:
                return
            with _collector_paused():
                for key, value in self._store.values():
                    if data.get(key, _MISSING) is _UNREAD:
                        self._decoded(key, value)
                        data[key] = value
            self._all_read = True

    def _live_items(self) -> Iterator[tuple[K, V]]:
        """``(key, value)`` pairs as ``iter(self)`` meets the keys; a key
        deleted by another thread meanwhile is passed over."""
        self._read_all()
        for key in self:
            try:
                value = self[key]
            except KeyError:
                continue
            yield key, value

    def items(self) -> ItemsView[K, V]:
        """The ``(key, value)`` pairs, values as ``pod[key]`` gives them."""
        return _Items(self)

    def values(self) -> ValuesView[V]:
        """The values as ``pod[key]`` gives them."""
        return _Values(self)

    # -- hooks for subclasses ------------------------------------------------

    def _changed(self, key: Any) -> None:
        """Called after the value of ``key`` changed (set, deleted or mutated)."""

    def _reloaded(self) -> None:
        """Called after the whole content was (re)loaded from disk (values unread)."""

    def _decoded(self, key: Any, value: Any) -> None:
        """Called when the value of ``key`` was read from its JSON text, before
        it is kept (raising leaves the key unread)."""

    # -- reading -------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        value: V = self._data[key]
        if value is _UNREAD or value is _ENCODED:
            with self._lock:  # decoding also fills in the other unread keys of its shard
                value = self._plain(key)
        proxy_type = self._proxy_types.get(type(value))
        if proxy_type is None:
            return value
        # A value is held by one key only: the same value is the same key.
        known = self._last
        if known[0] is value:
            return known[1]  # type: ignore[no-any-return]
        proxy: V = proxy_of(proxy_type, value, (key,), self._report, value, self._lock)
        self._last = (value, proxy)
        return proxy  # a proxy stands for the value it wraps

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        """The keys in insertion order.

        Safe while other threads write: it walks a snapshot of the keys,
        passes over those deleted meanwhile, then reaches those added
        meanwhile (no ``RuntimeError``, unlike a ``dict``).
        """
        with self._lock:
            keys = list(self._data)
            version = self._version
        seen: set[Any] | None = None
        while True:
            for key in keys:
                if self._version == version or key in self._data:
                    yield key
            with self._lock:
                if self._version == version:
                    return
                seen = set(keys) if seen is None else seen.union(keys)
                keys = [key for key in self._data if key not in seen]
                version = self._version

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PersistentOrderedDict):
            other._read_all()
            with other._lock:  # one lock at a time: two threads comparing a == b and b == a
                theirs = dict(other._data)
            self._read_all()
            with self._lock:
                return self._data == theirs
        if isinstance(other, Mapping):
            plain = {k: unwrap(v) for k, v in other.items()}
            self._read_all()
            with self._lock:
                return self._data == plain
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._store.path)!r})"

    def __reduce__(self) -> Any:
        raise TypeError(
            f"a {type(self).__name__} cannot be pickled or sent to another process; "
            "use tastypy.SharedPOD to share one between processes"
        )

    # -- writing -------------------------------------------------------------

    def __setitem__(self, key: K, value: V) -> None:
        # _writable, check_key, _set_normal and _after inlined, and the lock
        # taken without ``with`` (half its cost): every assignment runs this.
        if self._read_only:
            self._writable()
        name: Any = key
        if type(name) is not str or not name.isascii():
            check_key(key)
        lock = self._lock
        lock.acquire()
        try:
            data = self._data
            current = data.get(key, _MISSING)
            if current is not _MISSING and (value is current or unwrap(value) is current):
                return  # ``pod[k] += [x]`` already changed it in place
            texts = self._texts
            # A container is checked and copied by the encoder at once, its text
            # kept until it is read (one C call; normalize only when it refuses).
            stored: Any = value
            text = text_if_normal(stored) if texts is not None and type(stored) in _TEXTED else None
            if text is None:
                stored = self._normal(key, value)
                if current is _ENCODED:
                    del texts[key]  # type: ignore[union-attr]
            else:
                texts[key] = text  # type: ignore[index]
                stored = _ENCODED
            dirty = self._dirty
            if current is _MISSING:  # new keys enter the dirty order as they enter _data
                dirty[key] = dirty.pop(key, False)
                self._version += 1
            else:
                dirty.setdefault(key, False)
            data[key] = stored
            if self._hooked:
                self._changed(key)
            if len(dirty) >= self._sync_at and not self._held:
                self.sync()
        finally:
            lock.release()

    def _normal(self, key: Any, value: Any) -> Any:
        return normalize(value, (key,))

    def __delitem__(self, key: K) -> None:
        self._writable()
        with self._lock:
            if self._data.pop(key) is _ENCODED:
                del self._texts[key]  # type: ignore[union-attr]
            self._version += 1
            dirty = self._dirty
            dirty.pop(key, None)
            dirty[key] = True
            self._after(key)

    def _on_op(self, op: Op, root: Any) -> None:
        # Called by a proxy under this POD's lock, right after its change.
        key = op.path[0]
        if self._data.get(key) is not root:
            return  # a proxy of a value since replaced or deleted
        # _after(key), inlined: this runs on every mutation through a proxy.
        dirty = self._dirty
        dirty.setdefault(key, False)
        if self._hooked:
            self._changed(key)
        if len(dirty) >= self._sync_at and not self._held:
            self.sync()

    def _after(self, key: Any) -> None:
        self._changed(key)
        self._sync_if_due()

    def _sync_if_due(self) -> None:
        """Sync when ``sync_at`` keys are dirty, unless automatic sync is held."""
        if len(self._dirty) >= self._sync_at and not self._held:
            self.sync()

    @contextlib.contextmanager
    def _held_then_synced(self) -> Iterator[None]:
        """Hold automatic sync for a batch of changes, then sync once if due."""
        with self._lock:
            held, self._held = self._held, True
            try:
                yield
            finally:
                self._held = held
            self._sync_if_due()

    def _writable(self) -> None:
        if self._store.read_only:
            raise ReadOnlyError(
                f"{self._store.path} is open with mode='r'; "
                "open it with mode='w' to change it"
            )

    def update(  # type: ignore[override]
        self, other: Mapping[K, V] | Iterable[tuple[K, V]] = (), /, **kwargs: V
    ) -> None:
        """Like ``dict.update``; every value is checked before any is stored."""
        self._writable()
        items = pairs_of(other)
        pairs = [two(pair) for pair in items]
        with self._lock:  # checked under the lock: a value may be another key's proxy
            pairs = [self._checked(key, value) for key, value in pairs]
            pairs.extend(self._checked(key, value) for key, value in kwargs.items())
            with self._held_then_synced():
                for key, value in pairs:
                    self._set_normal(key, value)

    def _checked(self, key: Any, value: Any) -> tuple[Any, Any]:
        check_key(key)
        return key, self._normal(key, value)

    def _set_normal(self, key: Any, value: Any) -> None:
        # ``value`` is already in normal form and owned by us.
        dirty = self._dirty
        if key in self._data:
            if self._data[key] is _ENCODED:
                del self._texts[key]  # type: ignore[union-attr]
            dirty.setdefault(key, False)
        else:  # new keys enter the dirty order as they enter _data
            dirty[key] = dirty.pop(key, False)
            self._version += 1
        self._data[key] = value
        self._after(key)

    @overload
    def pop(self, key: K) -> V: ...
    @overload
    def pop(self, key: K, default: V) -> V: ...
    @overload
    def pop(self, key: K, default: _T) -> V | _T: ...
    def pop(self, key: K, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its (plain) value, or ``default``."""
        self._writable()
        with self._lock:
            if key not in self._data:
                if default is _MISSING:
                    raise KeyError(key)
                return default
            value = self._plain(key)
            del self[key]
            return value

    def popitem(self) -> tuple[K, V]:
        """Remove and return the last ``(key, plain value)`` pair, as ``dict`` does."""
        self._writable()
        with self._lock:
            try:
                key = next(reversed(self._data))
            except StopIteration:
                raise KeyError(f"popitem(): {self._store.path} is empty") from None
            return key, self.pop(key)

    @overload
    def setdefault(self, key: K) -> V | None: ...
    @overload
    def setdefault(self, key: K, default: V) -> V: ...
    def setdefault(self, key: K, default: Any = None) -> Any:
        """``pod[key]`` if present, else store ``default`` and return it (as read)."""
        with self._lock:
            if key not in self._data:
                self[key] = default
            return self[key]

    def clear(self) -> None:
        """Delete every key."""
        self._writable()
        with self._lock:
            for key in list(self._data):
                del self[key]

    # -- synchronization -----------------------------------------------------

    def sync(self) -> None:
        """Write every dirty key; returns once the data is on disk."""
        with self._lock:
            if self._dirty:
                self._commit(self._dirty.items())
                self._dirty.clear()

    def sync_key(self, key: K) -> None:
        """Write the change of one key now.

        A key that is new (or deleted and re-added) since the last sync is
        written with the other new keys added before it, so that the order on
        disk is always the order in memory.
        """
        with self._lock:
            dirty = self._dirty
            if key not in dirty:
                return
            chosen: list[tuple[Any, bool]] = []
            for other, moved in dirty.items():
                if other == key:
                    chosen.append((other, moved))
                    break
                if moved or other not in self._store:
                    chosen.append((other, moved))  # new before it: keeps the order
            self._commit(chosen)
            for other, _ in chosen:
                del dirty[other]

    def _commit(self, dirty: Iterable[tuple[Any, bool]]) -> None:
        """Write ``(key, moved)`` entries of the dirty order in one atomic commit."""
        if self._pid != os.getpid():
            raise TastypyError(
                f"{self._store.path} was opened by process {self._pid}; a forked "
                "process cannot write it: use tastypy.SharedPOD to share a POD"
            )
        data = self._data
        texts = self._texts
        changes: list[tuple[Any, str | _Sentinel]] = []
        add = changes.append
        for key, moved in dirty:
            if moved:
                add((key, DELETE))
            value = data.get(key, _MISSING)
            if value is _ENCODED:
                add((key, texts[key]))  # type: ignore[index]
            elif value is _UNREAD:  # marked dirty, never read: as it is on disk
                add((key, self._store.text(key)))
            elif value is not _MISSING:
                add((key, encode(value)))
        with exits.critical():
            self._store.commit(changes)

    def _settle(self) -> None:
        """Sync, then fold the journal in: a folder at rest is plain shard files."""
        with self._lock:
            self.sync()
            with exits.critical():
                self._store.compact()

    def mark_dirty(self, key: K) -> None:
        """Mark ``key`` as changed (after changing its data behind tastypy's back)."""
        self._writable()
        with self._lock:
            if key not in self._data:
                raise KeyError(key)
            self._dirty.setdefault(key, False)
            self._after(key)

    def dirty(self) -> set[K]:
        """The keys changed since the last sync."""
        with self._lock:
            return set(self._dirty)

    def hold(self) -> None:
        """Suspend automatic syncs (``sync()``, ``close()`` and exit still sync)."""
        with self._lock:
            self._held = True

    def unhold(self) -> None:
        """Resume automatic syncs, syncing now if ``sync_at`` is reached."""
        with self._lock:
            self._held = False
            self._sync_if_due()

    def revert(self) -> None:
        """Drop every unsynced change and reload the last sync from disk."""
        with self._lock:
            self._load()

    def lock(self, timeout: float | None = None) -> bool:
        """Take this object's lock: the other threads' calls wait until ``unlock()``.

        Reentrant in its thread. Returns False if ``timeout`` seconds passed
        first. Other processes cannot open the folder anyway (one writer).
        """
        return self._lock.acquire(timeout=-1 if timeout is None else timeout)

    def unlock(self) -> None:
        """Release the lock taken by ``lock()`` (RuntimeError if this thread does not hold it)."""
        self._lock.release()

    @contextlib.contextmanager
    def locked(self) -> Iterator[Self]:
        """``with pod.locked():`` -- the block runs alone among this object's threads.

        For a read-modify-write across calls, e.g. ``pod['n'] = pod['n'] + 1``.
        """
        with self._lock:
            yield self

    def close(self) -> None:
        """Sync, and release the folder once every opener in this process closed it.

        The last close also folds the journal into the shard files, so a folder
        at rest is plain ``N.json`` shards.
        """
        with self._lock, _opening:  # this order only: no opener holds _opening while it waits for a POD
            if isinstance(self._data, _Closed):
                return
            store = self._store
            if self._users > 1:
                self.sync()
                self._users -= 1
                return
            if not store.read_only and self._pid == os.getpid():
                # A failed sync raises here and leaves the POD open with its
                # changes: a later close() or the exit hook tries again.
                self._settle()
            self._users = 0
            key = (store.path, store.read_only)
            if _registry.get(key) is self:
                del _registry[key]
            store.close()
            closed = _Closed(store.path)
            self._data = self._dirty = closed  # type: ignore[assignment]
            self._last = _NO_PROXY
            if self._texts:
                self._texts.clear()  # synced: the store had them

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> pathlib.Path:
        """The folder."""
        return self._store.path


POD = PersistentOrderedDict
