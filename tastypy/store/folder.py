"""``Store``: one folder of shards + manifest + journal, read whole, committed by change."""

from __future__ import annotations

import enum
import io
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from tastypy.errors import LockedError, ReadOnlyError
from tastypy.keys import Key
from tastypy.store.durable import (
    FOLDER_MODE,
    create_file,
    create_journal,
    fsync_dir,
    open_journal,
    remove_temp_files,
    replace_file,
    write_all,
)
from tastypy.store.format import (
    MANIFEST,
    decode_joined,
    decode_value,
    decode_values,
    encode_basestring,
    encode_key,
    encode_value,
    shard_bytes,
)
from tastypy.store.journal import encode_batch
from tastypy.store.lock import WriterLock, writer_pid
from tastypy.store.manifest import (
    FORMAT,
    JOURNAL_NAME,
    SHARD_NAME,
    manifest_bytes,
    shard_check,
)
from tastypy.store.snapshot import Slot, Snapshot, read_snapshot, read_tail

#: ``(key, value_text before, value_text after)``, None for an absent key (see ``Store.follow``).
Change = tuple[Key, "str | None", "str | None"]


class _Sentinel(enum.Enum):
    DELETE = "DELETE"

    def __repr__(self) -> str:
        return self.value


DELETE = _Sentinel.DELETE
"""Pass as the value in ``Store.commit`` to delete the key."""

# A batch this large is cheaper written as shards than journaled then rewritten.
_BIG_BATCH = 256 * 1024
_MIN_JOURNAL = 1024 * 1024


class _Undo:
    """The memory a commit changed, kept to restore it if the commit fails.

    ``changes`` is one flat list (no tuple a change: nothing more for the
    cyclic collector to track), in the order the changes were made: for a
    replaced or added entry, the dict it was written in, the key and the
    text before (None: added); for a deleted one, its slot, the key and
    ``DELETE``; a slot alone where a clean slot (one that matched its file)
    became dirty. A delete cannot be undone in place (a dict cannot put a key
    back at its position), so the first delete in a slot keeps that slot's
    dict (``copies``) and goes on in a copy. Copying only then keeps a
    commit's cost to what it changes, not to the size of its slots.
    """

    __slots__ = ("changes", "copies", "nslots")

    def __init__(self, nslots: int) -> None:
        self.nslots = nslots
        self.changes: list[Any] = []
        # id(slot) -> (slot, its dict before its first delete)
        self.copies: dict[int, tuple[Slot, dict[Key, str]]] = {}


class Store:
    """The folder at ``path``: ``load()`` the last commit, ``commit()`` changes atomically."""

    _snap: Snapshot

    def __init__(
        self, path: Path, gzipped: bool = False, file_size: int = 1000, read_only: bool = False
    ) -> None:
        if file_size < 1:
            raise ValueError(f"file_size must be at least 1, not {file_size}")
        self.path = Path(path)
        self._read_only = read_only
        # None in a reader: only a writer's methods use them (ignores: no check on each use).
        self._lock: WriterLock = None  # type: ignore[assignment]
        self._journal: io.FileIO = None  # type: ignore[assignment]
        self._closed = False
        self._fresh = False
        self._must_compact = False
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"{self.path} is a file, not a tastypy folder: choose another path")
        if read_only:
            if not self.path.is_dir():
                raise FileNotFoundError(f"{self.path} does not exist: nothing to open read-only")
            self._read(gzipped, file_size)
            self._fresh = True  # the first load() returns what was read on open
            return
        self.path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        self._lock = WriterLock(self.path)
        try:
            self._open_writer(gzipped, file_size)
        except BaseException:
            self.close()
            raise

    @property
    def read_only(self) -> bool:
        """Whether this store was opened read-only (it then never changes the folder)."""
        return self._read_only


    @property
    def gzipped(self) -> bool:
        """Whether the shards are gzip files (the folder's own setting once it has one)."""
        return self._snap.gzipped

    @property
    def file_size(self) -> int:
        """About how many entries a shard holds (the folder's own setting once it has one)."""
        return self._snap.file_size

    # -- reading -----------------------------------------------------------------

    def load(self) -> list[tuple[Key, str]]:
        """The last completed commit: ``(key, value_text)`` pairs in order."""
        self.refresh()
        return list(self.items())

    def refresh(self) -> None:
        """Make ``keys()``, ``items()`` and ``text()`` tell the last completed commit.

        A writer's own commits are that already; a reader reads the folder
        again (except on its first call: the read made when it opened).
        """
        self._check_open()
        if self._read_only and not self._fresh:
            self._read(self.gzipped, self.file_size)
        self._fresh = False

    def follow(self) -> list[Change] | None:
        """Bring a read-only store to the last completed commit; what changed.

        The changes since this store's last read (its open, ``refresh()`` or
        ``follow()``), as ``(key, text_before, text_after)``, a text None where
        the key was absent; a key changed and changed back may be listed.
        Their cost is what changed, not the size of the folder: while the
        writer journals its commits, only the bytes appended to the journal
        since are read (the *tail*). When it compacted meanwhile, the shard
        files it rewrote are read and compared with what was held (those it
        kept are not read again). None when even that could not be done (the
        folder was read whole again: count afresh).
        """
        self._check_open()
        if not self._read_only:
            raise ValueError(f"follow() reads what another process wrote: open {self.path} read-only")
        self._fresh = False
        snap = self._snap
        tail = read_tail(self.path, snap)
        if tail is None:
            return self._follow_compaction()
        batches, end, seq = tail
        changes: list[Change] = []
        for batch in batches:
            ops = [(key, ktext, vtext) for key, ktext, vtext, _ in batch]
            seen: dict[Key, str | None] = {}  # a key twice in one batch: its text in between
            for key, _, vtext in ops:
                if key in seen:
                    before = seen[key]
                else:
                    slot = snap.index.get(key)
                    before = None if slot is None else slot.entries[key]
                if before is not None or vtext is not None:  # not the delete of an absent key
                    changes.append((key, before, vtext))
                seen[key] = vtext
            _replay(snap, ops)
        snap.journal_size, snap.seq = end, seq
        if batches:
            snap.last_sync = os.stat(self.path / snap.manifest["journal"]).st_mtime
        return changes

    def _follow_compaction(self) -> list[Change] | None:
        old = self._snap
        touched: list[Key] = []

        def replay(snap: Snapshot, ops: list[tuple[Key, str, str | None]]) -> None:
            touched.extend(key for key, _, _ in ops)
            _replay(snap, ops)

        try:
            new = read_snapshot(self.path, old.gzipped, old.file_size, replay, previous=old)
        except Exception:  # noqa: BLE001 (any failure: a whole read names the damage, if any)
            self._read(old.gzipped, old.file_size)
            return None
        keys = set(touched)
        for slot in chain(old.slots, new.slots):
            if slot.name not in new.reused:  # a dirty slot's name is never reused
                keys.update(slot.entries)
        changes: list[Change] = []
        for key in keys:
            before, after = old.index.get(key), new.index.get(key)
            text_before = None if before is None else before.entries[key]
            text_after = None if after is None else after.entries[key]
            if text_before != text_after:
                changes.append((key, text_before, text_after))
        self._snap = new
        return changes

    def keys(self) -> Iterator[Key]:
        """The keys in order, as of the last ``refresh()`` or commit."""
        return chain.from_iterable([slot.entries for slot in self._snap.slots])

    def items(self) -> Iterator[tuple[Key, str]]:
        """``(key, value_text)`` in order, as of the last ``refresh()`` or commit."""
        return chain.from_iterable([slot.entries.items() for slot in self._snap.slots])

    def items_after(self, key: Key) -> Iterator[tuple[Key, str]]:
        """``(key, value_text)`` in order from the entry after ``key`` (``KeyError`` if absent):
        a cursor that costs a shard's worth of entries, not the position of ``key``."""
        snap = self._snap
        slot = snap.index[key]
        entries = iter(slot.entries.items())
        for found, _ in entries:
            if found == key:
                break
        later = snap.slots[snap.slots.index(slot) + 1 :]
        return chain(entries, chain.from_iterable([s.entries.items() for s in later]))

    def texts(self) -> Iterator[list[str]]:
        """The value texts in order, one list per shard (a few hundred or thousand each)."""
        return (list(slot.entries.values()) for slot in self._snap.slots)

    def text(self, key: Key) -> str:
        """The value text of ``key`` (``KeyError`` if absent), as of the last ``refresh()`` or commit."""
        return self._snap.index[key].entries[key]

    def value(self, key: Key) -> object:
        """The value of ``key`` decoded from its text (``KeyError`` if absent).

        ``IntegrityError`` naming the file for a text that is not JSON: one
        that passed its checksum, so it was written so (edited by hand).
        """
        slot = self._snap.index[key]
        text = slot.entries[key]
        values = decode_joined([text])  # the file is named only for a bad text
        return values[0] if values is not None else decode_value(text, self._file_of(slot), key)

    def shard_values(self, key: Key) -> dict[Key, Any] | None:
        """The values of the entries kept with ``key`` (``KeyError`` if absent)
        in one parse, by key; None if a text there is not JSON (``value()``
        then names the one that is bad)."""
        entries = self._snap.index[key].entries
        values = decode_joined(list(entries.values()))
        return None if values is None else dict(zip(entries, values))

    def values(self) -> Iterator[tuple[Key, object]]:
        """``(key, value)`` in order, decoded a shard at a time."""
        for slot in self._snap.slots:
            keys = list(slot.entries)
            yield from zip(keys, decode_values(list(slot.entries.values()), self._file_of(slot), keys))

    def _file_of(self, slot: Slot) -> Path:
        # A slot never written yet holds journaled entries only.
        return self.path / (slot.name or self._snap.manifest["journal"])

    def __contains__(self, key: Key) -> bool:
        """Whether the last commit loaded or made holds ``key``."""
        return key in self._snap.index

    def info(self) -> dict[str, Any]:
        """Counts and sizes for the command line."""
        self._check_open()
        if self._read_only:
            self._read(self.gzipped, self.file_size)
        snap = self._snap
        return {
            "entries": len(snap.index),
            "shards": len(snap.manifest["shards"]),
            "bytes": sum(slot.nbytes for slot in snap.slots) + snap.journal_size,
            "gzipped": snap.gzipped,
            "last_sync": snap.last_sync,
            "writer_pid": writer_pid(self.path),
        }

    def _read(self, gzipped: bool, file_size: int) -> None:
        """Read the folder; swapped in whole, so a failed read keeps what was read before."""
        self._snap = read_snapshot(self.path, gzipped, file_size, _replay)

    # -- writing -----------------------------------------------------------------

    def _open_writer(self, gzipped: bool, file_size: int) -> None:
        remove_temp_files(self.path, MANIFEST)
        self._read(gzipped, file_size)
        if self._snap.manifest["journal"] is None:
            self._adopt_folder()
        snap = self._snap
        self._journal = open_journal(self.path / snap.manifest["journal"])
        fd = self._journal.fileno()
        if snap.journal_size < os.fstat(fd).st_size:
            # An interrupted commit: cut it away so that new batches follow good ones.
            os.ftruncate(fd, snap.journal_size)
            os.fsync(fd)
        self._remove_orphans()

    def _adopt_folder(self) -> None:
        """Give a new or 0.x folder a manifest listing exactly its shards, with their sums."""
        snap = self._snap
        journal = f"journal.{snap.manifest['next']}.log"
        manifest = dict(
            snap.manifest, format=FORMAT, journal=journal, next=snap.manifest["next"] + 1,
            checks={slot.name: slot.check() for slot in snap.slots},
        )
        try:
            os.unlink(self.path / journal)  # left by an adoption that was interrupted
        except FileNotFoundError:
            pass
        create_journal(self.path / journal).close()
        replace_file(self.path, MANIFEST, manifest_bytes(manifest))
        fsync_dir(self.path)
        snap.manifest = manifest

    def _remove_orphans(self) -> None:
        # Shards and journals no manifest names: left by a compaction that was cut short.
        manifest = self._snap.manifest
        keep = {*manifest["shards"], manifest["journal"]}
        with os.scandir(self.path) as entries:
            names = [e.name for e in entries if e.name not in keep]
        for name in names:
            if SHARD_NAME.fullmatch(name) or JOURNAL_NAME.fullmatch(name):
                os.unlink(self.path / name)

    def commit(self, changes: Iterable[tuple[Key, str | _Sentinel]]) -> None:
        """Apply ``(key, value_text or DELETE)`` changes in order, atomically and durably.

        On any exception the folder and this object still hold the previous commit.
        """
        self._check_writable()
        keys, vtexts, lines = _ops(changes)
        if not keys:
            return
        snap = self._snap
        batch = b""
        if not self._must_compact and len(keys) <= snap.file_size:
            # Encoded before anything changes: text UTF-8 cannot write fails here.
            batch = encode_batch(lines, snap.seq + 1)
        # The journal may grow as large as the shards (kept as a sum: O(1) here).
        journal = (
            0 < len(batch) <= _BIG_BATCH
            and snap.journal_size + len(batch) <= max(_MIN_JOURNAL, snap.shard_bytes)
        )
        undo = _Undo(len(snap.slots))
        try:
            _apply(snap, keys, vtexts, undo)
            if journal:
                self._append(batch)
            else:
                self._compact()
        except BaseException:
            _rollback(snap, undo)
            raise
        snap.last_sync = time.time()

    def compact(self) -> bool:
        """Fold the journal into fresh shards now; False if there was nothing to fold."""
        self._check_writable()
        snap = self._snap
        if not (snap.journal_size or self._must_compact or any(s.dirty for s in snap.slots)):
            return False
        self._compact()
        return True

    def _check_writable(self) -> None:
        self._check_open()
        if self._read_only:
            raise ReadOnlyError(f"{self.path} is open read-only: open it with mode='w' to change it")
        if not self._lock.owned():
            raise LockedError(
                f"{self.path}: this store was opened by process {self._lock.pid};"
                " open it again in this process to write"
            )

    def _append(self, batch: bytes) -> None:
        """Journal one batch: one write, one fdatasync."""
        snap = self._snap
        size = snap.journal_size
        try:
            write_all(self._journal.fileno(), batch)
            os.fdatasync(self._journal.fileno())
        except BaseException:
            # Pages that failed to sync may still reach the disk later (fsyncgate):
            # cut the batch off, and never trust this journal again.
            self._must_compact = True
            try:
                os.ftruncate(self._journal.fileno(), size)
                os.fdatasync(self._journal.fileno())
            except OSError:
                pass
            raise
        snap.journal_size = size + len(batch)
        snap.seq += 1

    def _compact(self) -> None:
        """Write every changed slot as a new shard, a new journal, then switch the manifest."""
        snap = self._snap
        ext = ".json.gz" if snap.gzipped else ".json"
        number = snap.manifest["next"]
        written: dict[int, tuple[str, int, int]] = {}  # id(slot) -> name, bytes, crc32
        created: list[Path] = []
        journal_file = None
        switched = False
        try:
            for slot in snap.slots:
                if slot.dirty and slot.entries:
                    name, number = f"{number}{ext}", number + 1
                    data = shard_bytes(slot.text(), snap.gzipped)
                    created.append(self.path / name)
                    create_file(created[-1], data)
                    written[id(slot)] = (name, len(data), zlib.crc32(data))
            journal, number = f"journal.{number}.log", number + 1
            created.append(self.path / journal)
            journal_file = create_journal(created[-1])
            fsync_dir(self.path)  # the new files exist before the manifest names them
            checks = {}
            for slot in snap.slots:
                if slot.entries:
                    # (ignore: a slot not rewritten here, with entries, is clean: it has a name)
                    name, nbytes, crc = written.get(id(slot), (slot.name, slot.nbytes, slot.crc))  # type: ignore[arg-type]
                    checks[name] = shard_check(nbytes, len(slot.entries), crc)
            manifest = dict(
                snap.manifest, journal=journal, next=number, synced=time.time(),
                shards=list(checks), checks=checks,
            )
            replace_file(self.path, MANIFEST, manifest_bytes(manifest))
            switched = True
            fsync_dir(self.path)
        except BaseException:
            self._undo_compaction(created, journal_file, switched)
            raise
        old = [s.name for s in snap.slots if s.dirty and s.name] + [snap.manifest["journal"]]
        for slot in snap.slots:
            slot.name, slot.nbytes, slot.crc = written.get(id(slot), (slot.name, slot.nbytes, slot.crc))
            slot.dirty = False
        snap.slots = [slot for slot in snap.slots if slot.entries]
        snap.shard_bytes = sum(slot.nbytes for slot in snap.slots)
        self._journal.close()
        self._journal, snap.manifest = journal_file, manifest
        snap.journal_size = snap.seq = 0
        self._must_compact = False
        for name in old:
            try:
                os.unlink(self.path / name)
            except OSError:
                pass  # the commit is done; a writer removes orphans when it opens

    def _undo_compaction(
        self, created: list[Path], journal: io.FileIO | None, switched: bool
    ) -> None:
        snap = self._snap
        # Numbers once used are not reused, whatever is left of them on disk.
        snap.manifest = dict(snap.manifest, next=snap.manifest["next"] + len(created))
        if journal is not None:
            journal.close()
        try:
            if switched:
                replace_file(self.path, MANIFEST, manifest_bytes(snap.manifest))
                fsync_dir(self.path)
            for path in created:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        except OSError:
            # The disk may hold the new manifest: keep its files, start afresh next time.
            self._must_compact = True

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Release the writer lock; later calls do nothing."""
        self._closed = True
        if self._journal is not None:
            self._journal.close()
        if self._lock is not None:
            self._lock.release()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the store at {self.path} is closed")

    def __repr__(self) -> str:
        mode = "readonly" if self._read_only else "writer"
        return f"<Store {str(self.path)!r} {mode}{' closed' if self._closed else ''}>"


def _ops(
    changes: Iterable[tuple[Key, str | _Sentinel]],
) -> tuple[list[Key], list[str | None], list[str]]:
    """The keys, the value texts (None: delete) and the journal lines, each checked.

    Flat lists, not a tuple a change: a commit keeps next to nothing the
    cyclic collector tracks, so a big heap is not walked again on its account.
    """
    keys: list[Key] = []
    vtexts: list[str | None] = []
    lines: list[str] = []
    for key, text in changes:
        # The common cases inline: a str key, a one-line value text.
        ktext = encode_basestring(key) if type(key) is str else encode_key(key)
        keys.append(key)
        if type(text) is str and text and "\n" not in text:
            vtexts.append(text)
            lines.append(f"{ktext}\t{text}\n")
        elif text is DELETE:
            vtexts.append(None)
            lines.append(f"{ktext}\n")
        else:
            text = encode_value(text)  # raises, naming the text
            vtexts.append(text)
            lines.append(f"{ktext}\t{text}\n")
    return keys, vtexts, lines


def _replay(snap: Snapshot, ops: list[tuple[Key, str, str | None]]) -> None:
    _apply(snap, [op[0] for op in ops], [op[2] for op in ops], None)


def _apply(snap: Snapshot, keys: list[Key], vtexts: list[str | None], undo: _Undo | None) -> None:
    """Change the slots as a dict would change; note in ``undo`` what to restore."""
    index, slots = snap.index, snap.slots
    saved = None if undo is None else undo.changes
    for key, vtext in zip(keys, vtexts):
        slot = index.get(key)
        if slot is None:
            if vtext is None:
                continue
            if not slots or len(slots[-1].entries) >= snap.file_size:
                slots.append(Slot(None, {}, 0))
            slot = slots[-1]
            index[key] = slot
        elif vtext is None:
            if undo is not None:
                if id(slot) not in undo.copies:
                    undo.copies[id(slot)] = (slot, slot.entries)
                    slot.entries = dict(slot.entries)
                if not slot.dirty:
                    undo.changes.append(slot)
                undo.changes += (slot, key, DELETE)
            del index[key]
            del slot.entries[key]
            slot.dirty = True
            continue
        entries = slot.entries
        if saved is not None:
            if not slot.dirty:
                saved.append(slot)
            saved += (entries, key, entries.get(key))
        slot.dirty = True
        entries[key] = vtext


def _rollback(snap: Snapshot, undo: _Undo) -> None:
    """Put memory back as it was before the commit ``undo`` was noted for."""
    index, saved = snap.index, undo.changes
    at = len(saved)
    # Each record undone in reverse order, in the dict it was made in: a
    # change made after a delete copied its slot's dict is undone in the
    # copy, which is then dropped for the dict from before.
    while at:
        if type(saved[at - 1]) is Slot:
            at -= 1
            saved[at].dirty = False
            continue
        where, key, text = saved[at - 3 : at]
        at -= 3
        if text is DELETE:
            index[key] = where  # the slot it was deleted from
        elif text is None:
            where.pop(key, None)  # the dict it was added to
            index.pop(key, None)
        else:
            where[key] = text  # the dict it was replaced in
    for slot, before in undo.copies.values():
        slot.entries = before
    del snap.slots[undo.nslots :]
