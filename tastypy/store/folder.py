"""``Store``: one folder of shards + manifest + journal, read whole, committed by change."""

from __future__ import annotations

import enum
import io
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from tastypy.errors import LockedError, ReadOnlyError
from tastypy.store.format import Key, damage, encode_key, encode_value, read_shard, shard_bytes
from tastypy.store.journal import encode_batch, read_journal
from tastypy.store.lock import WriterLock, writer_pid
from tastypy.store.manifest import (
    FORMAT, JOURNAL_NAME, MANIFEST, SHARD_NAME, create_file, create_journal, fsync_dir,
    manifest_bytes, read_manifest, remove_temp_files, replace_file, write_all,
)


class _Sentinel(enum.Enum):
    DELETE = "DELETE"

    def __repr__(self) -> str:
        return self.value


DELETE = _Sentinel.DELETE
"""Pass as the value in ``Store.commit`` to delete the key."""

# A batch this large is cheaper written as shards than journaled then rewritten.
_BIG_BATCH = 256 * 1024
_MIN_JOURNAL = 1024 * 1024
# Attempts of a reader whose files a compaction replaced while it read them.
_READ_ATTEMPTS = 100


# What _read sets: restored if a read fails.
_READ_STATE = (
    "_slots", "_index", "_values", "_manifest", "_last_sync", "_seq", "_journal_size",
    "gzipped", "file_size",
)


class _Slot:
    """One shard's worth of entries, in order: key -> (key_text, value_text)."""

    __slots__ = ("name", "entries", "dirty", "nbytes")

    def __init__(self, name: str | None, entries: dict, nbytes: int) -> None:
        self.name = name  # its file in the manifest; None until first written
        self.entries = entries
        self.dirty = name is None  # differs from its file: rewrite at compaction
        self.nbytes = nbytes


class _Undo:
    """The memory a commit changed, kept to restore it if the commit fails.

    A replaced or added entry is undone in place (``keys``); a delete cannot
    be (a dict cannot put a key back at its position), so the first delete in
    a slot keeps that slot's whole dict instead (``slots``). Copying only then
    keeps a commit's cost to what it changes, not to the size of its slots.
    """

    __slots__ = ("nslots", "slots", "index", "keys")

    def __init__(self, nslots: int) -> None:
        self.nslots = nslots
        # id(slot) -> [slot, its dict before the first delete (or None), its dirty flag]
        self.slots: dict[int, list] = {}
        self.index: dict[Key, _Slot | None] = {}
        # (slot, key, entry before, None if added), from before the slot's copy
        self.keys: list[tuple[_Slot, Key, tuple | None]] = []


class Store:
    """The folder at ``path``: ``load()`` the last commit, ``commit()`` changes atomically."""

    def __init__(
        self, path: Path, gzipped: bool = False, file_size: int = 1000, readonly: bool = False
    ) -> None:
        if file_size < 1:
            raise ValueError(f"file_size must be at least 1, not {file_size}")
        self.path = Path(path)
        self.gzipped = gzipped
        self.file_size = file_size
        self.readonly = readonly
        self._lock: WriterLock | None = None
        self._journal: io.FileIO | None = None
        self._closed = False
        self._fresh = False
        self._slots: list[_Slot] = []
        self._index: dict[Key, _Slot] = {}
        # Values decoded while reading, handed over (once) by load_values().
        self._values: dict[Key, object] | None = None
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"{self.path} is a file, not a tastypy folder: choose another path")
        if readonly:
            if not self.path.is_dir():
                raise FileNotFoundError(f"{self.path} does not exist: nothing to open read-only")
            self._read()
            self._fresh = True  # the first load() returns what was read on open
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = WriterLock(self.path)
        try:
            self._open_writer()
        except BaseException:
            self.close()
            raise

    # -- reading -----------------------------------------------------------------

    def load(self) -> list[tuple[Key, str]]:
        """The last completed commit: ``(key, value_text)`` pairs in order."""
        self._check_open()
        if self.readonly and not self._fresh:
            self._read()
        self._fresh = False
        return [(key, entry[1]) for slot in self._slots for key, entry in slot.entries.items()]

    def load_values(self) -> list[tuple[Key, object]]:
        """Like ``load()``, with each value decoded from its JSON text."""
        pairs = self.load()  # a reader reads the folder again, filling _values anew
        values, self._values = self._values, None
        if values is None:  # handed over already (a writer's revert): decode the texts
            texts = "[" + ",".join([text for _, text in pairs]) + "]"
            return list(zip([key for key, _ in pairs], json.loads(texts)))
        return [(key, values[key]) for key, _ in pairs]

    def __contains__(self, key: Key) -> bool:
        """Whether the last commit loaded or made holds ``key``."""
        return key in self._index

    def info(self) -> dict:
        """Counts and sizes for the command line."""
        self._check_open()
        if self.readonly:
            self._read()
        return {
            "entries": len(self._index),
            "shards": len(self._manifest["shards"]),
            "bytes": sum(slot.nbytes for slot in self._slots) + self._journal_size,
            "gzipped": self.gzipped,
            "last_sync": self._last_sync,
            "writer_pid": writer_pid(self.path),
        }

    def _read(self) -> None:
        """Read the folder into memory; on failure keep what was read before."""
        saved = {name: vars(self)[name] for name in _READ_STATE if name in vars(self)}
        try:
            self._read_retrying()
        except BaseException:
            vars(self).update(saved)
            raise

    def _read_retrying(self) -> None:
        # A writer may compact (and delete files) while a reader reads: if a file the
        # manifest names is gone and the manifest changed meanwhile, read again.
        for attempt in range(_READ_ATTEMPTS):
            if attempt:
                time.sleep(min(attempt * 0.001, 0.05))  # let a busy writer get ahead
            manifest = read_manifest(self.path)
            try:
                self._read_files(manifest)
                return
            except FileNotFoundError as exc:
                if read_manifest(self.path) == manifest:
                    raise damage(
                        Path(exc.filename), None, f"missing, yet {MANIFEST} lists it",
                        "restore it from a backup",
                    ) from None
        raise OSError(f"{self.path}: the folder kept changing while being read; retry")

    def _read_files(self, manifest: dict | None) -> None:
        if manifest is None:
            manifest = self._legacy_manifest()
        else:
            self.gzipped = manifest["gzipped"]
            self.file_size = manifest["file_size"]
        self._slots = []
        self._index = {}
        self._values = {}
        for name in manifest["shards"]:
            self._add_shard(self.path / name)
        self._manifest = manifest
        self._last_sync = manifest["synced"]
        self._seq = self._journal_size = 0
        if manifest["journal"] is None:
            return
        journal = self.path / manifest["journal"]
        batches, self._journal_size, self._seq = read_journal(journal)
        values = self._values
        for batch in batches:
            self._apply([(key, ktext, vtext) for key, ktext, vtext, _ in batch], None)
            for key, _, vtext, value in batch:
                if vtext is None:
                    values.pop(key, None)
                else:
                    values[key] = value
        if self._seq:
            self._last_sync = os.stat(journal).st_mtime

    def _add_shard(self, path: Path) -> None:
        lines, nbytes = read_shard(path)
        slot = _Slot(path.name, {}, nbytes)
        entries = {key: (ktext, vtext) for key, ktext, vtext, _ in lines}
        self._values.update([(key, value) for key, _, _, value in lines])
        if len(entries) < len(lines) or not self._index.keys().isdisjoint(entries):
            seen = set(self._index)
            for n, (key, ktext, _, _) in enumerate(lines, 1):
                if key in seen:
                    raise damage(path, n, f"the key {ktext} appears a second time")
                seen.add(key)
        slot.entries = entries
        self._slots.append(slot)
        self._index.update(dict.fromkeys(entries, slot))

    def _legacy_manifest(self) -> dict:
        """The manifest a folder without one stands for: shards 0, 1, 2 … (tastypy 0.x)."""
        found: dict[bool, dict[int, str]] = {False: {}, True: {}}
        latest = None
        with os.scandir(self.path) as entries:
            for entry in entries:
                match = SHARD_NAME.fullmatch(entry.name)
                if match:
                    found[bool(match[2])][int(match[1])] = entry.name
                    latest = max(latest or 0, entry.stat().st_mtime)
        if found[not self.gzipped] and not found[self.gzipped]:
            self.gzipped = not self.gzipped
        names = found[self.gzipped]
        for number in range(len(names)):
            if number not in names:
                missing = f"{number}.json.gz" if self.gzipped else f"{number}.json"
                raise damage(
                    self.path / missing, None,
                    f"missing, yet shards up to {max(names)} exist", "restore it from a backup",
                )
        return {
            "format": FORMAT, "gzipped": self.gzipped, "file_size": self.file_size,
            "shards": [names[n] for n in range(len(names))], "journal": None,
            "next": len(names), "synced": latest,
        }

    # -- writing -----------------------------------------------------------------

    def _open_writer(self) -> None:
        remove_temp_files(self.path)
        if read_manifest(self.path) is None:
            self._adopt_folder()
        self._read()
        journal = self.path / self._manifest["journal"]
        if self._journal_size < os.stat(journal).st_size:
            # An interrupted commit: cut it away so that new batches follow good ones.
            os.truncate(journal, self._journal_size)
        self._journal = io.FileIO(journal, "a")
        os.fsync(self._journal.fileno())
        self._remove_orphans()
        self._must_compact = False

    def _adopt_folder(self) -> None:
        """Give a new or 0.x folder a manifest listing exactly its shards."""
        manifest = self._legacy_manifest()
        journal = f"journal.{manifest['next']}.log"
        manifest.update(journal=journal, next=manifest["next"] + 1)
        try:
            os.unlink(self.path / journal)  # left by an adoption that was interrupted
        except FileNotFoundError:
            pass
        create_journal(self.path / journal).close()
        replace_file(self.path, MANIFEST, manifest_bytes(manifest))
        fsync_dir(self.path)

    def _remove_orphans(self) -> None:
        # Shards and journals no manifest names: left by a compaction that was cut short.
        keep = {*self._manifest["shards"], self._manifest["journal"]}
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
        ops = [
            (key, encode_key(key), None if text is DELETE else encode_value(text))
            for key, text in changes
        ]
        if not ops:
            return
        batch = b""
        if not self._must_compact and len(ops) <= self.file_size:
            lines = [f"{k}\n" if v is None else f"{k}\t{v}\n" for _, k, v in ops]
            batch = encode_batch(lines, self._seq + 1)
        undo = _Undo(len(self._slots))
        try:
            self._apply(ops, undo)
            limit = max(_MIN_JOURNAL, sum(slot.nbytes for slot in self._slots))
            if batch and len(batch) <= _BIG_BATCH and self._journal_size + len(batch) <= limit:
                self._append(batch)
            else:
                self._compact()
        except BaseException:
            self._rollback(undo)
            raise
        self._last_sync = time.time()

    def compact(self) -> bool:
        """Fold the journal into fresh shards now; False if there was nothing to fold."""
        self._check_writable()
        if not (self._journal_size or self._must_compact or any(s.dirty for s in self._slots)):
            return False
        self._compact()
        return True

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise ReadOnlyError(f"{self.path} is open read-only: open it with mode='w' to change it")
        if not self._lock.owned():
            raise LockedError(
                f"{self.path}: this store was opened by process {self._lock.pid};"
                " open it again in this process to write"
            )

    def _apply(self, ops: list[tuple[Key, str, str | None]], undo: _Undo | None) -> None:
        """Change the slots as a dict would change; note in ``undo`` what to restore."""
        index, slots = self._index, self._slots
        for key, ktext, vtext in ops:
            slot = index.get(key)
            if slot is None:
                if vtext is None:
                    continue
                if not slots or len(slots[-1].entries) >= self.file_size:
                    slots.append(_Slot(None, {}, 0))
                slot = slots[-1]
                if undo is not None:
                    undo.index.setdefault(key, None)
                index[key] = slot
            elif vtext is None:
                if undo is not None:
                    undo.index.setdefault(key, slot)
                del index[key]
            if undo is not None:
                saved = undo.slots.get(id(slot))
                if saved is None:
                    saved = undo.slots[id(slot)] = [slot, None, slot.dirty]
                if saved[1] is None:
                    if vtext is None:
                        saved[1] = slot.entries
                        slot.entries = dict(slot.entries)
                    else:
                        undo.keys.append((slot, key, slot.entries.get(key)))
            slot.dirty = True
            if vtext is None:
                del slot.entries[key]
            else:
                slot.entries[key] = (ktext, vtext)

    def _rollback(self, undo: _Undo) -> None:
        for slot, entries, dirty in undo.slots.values():
            if entries is not None:
                slot.entries = entries
            slot.dirty = dirty
        for slot, key, entry in reversed(undo.keys):
            if entry is None:
                del slot.entries[key]
            else:
                slot.entries[key] = entry
        del self._slots[undo.nslots :]
        for key, slot in undo.index.items():
            if slot is None:
                self._index.pop(key, None)  # added by the batch (and maybe deleted again)
            else:
                self._index[key] = slot

    def _append(self, batch: bytes) -> None:
        """Journal one batch: one write, one fdatasync."""
        size = self._journal_size
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
        self._journal_size = size + len(batch)
        self._seq += 1

    def _compact(self) -> None:
        """Write every changed slot as a new shard, a new journal, then switch the manifest."""
        ext = ".json.gz" if self.gzipped else ".json"
        number = self._manifest["next"]
        written: dict[int, tuple[str, int]] = {}
        created: list[Path] = []
        journal_file = None
        switched = False
        try:
            for slot in self._slots:
                if slot.dirty and slot.entries:
                    name, number = f"{number}{ext}", number + 1
                    data = shard_bytes(slot.entries.values(), self.gzipped)
                    created.append(self.path / name)
                    create_file(created[-1], data)
                    written[id(slot)] = (name, len(data))
            journal, number = f"journal.{number}.log", number + 1
            created.append(self.path / journal)
            journal_file = create_journal(created[-1])
            fsync_dir(self.path)  # the new files exist before the manifest names them
            manifest = dict(
                self._manifest, journal=journal, next=number, synced=time.time(),
                shards=[written.get(id(s), (s.name,))[0] for s in self._slots if s.entries],
            )
            replace_file(self.path, MANIFEST, manifest_bytes(manifest))
            switched = True
            fsync_dir(self.path)
        except BaseException:
            self._undo_compaction(created, journal_file, switched)
            raise
        old = [s.name for s in self._slots if s.dirty and s.name] + [self._manifest["journal"]]
        for slot in self._slots:
            slot.name, slot.nbytes = written.get(id(slot), (slot.name, slot.nbytes))
            slot.dirty = False
        self._slots = [slot for slot in self._slots if slot.entries]
        self._journal.close()
        self._journal, self._manifest = journal_file, manifest
        self._journal_size = self._seq = 0
        self._must_compact = False
        for name in old:
            try:
                os.unlink(self.path / name)
            except OSError:
                pass  # the commit is done; a writer removes orphans when it opens

    def _undo_compaction(
        self, created: list[Path], journal: io.FileIO | None, switched: bool
    ) -> None:
        # Numbers once used are not reused, whatever is left of them on disk.
        self._manifest = dict(self._manifest, next=self._manifest["next"] + len(created))
        if journal is not None:
            journal.close()
        try:
            if switched:
                replace_file(self.path, MANIFEST, manifest_bytes(self._manifest))
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
        mode = "readonly" if self.readonly else "writer"
        return f"<Store {str(self.path)!r} {mode}{' closed' if self._closed else ''}>"
