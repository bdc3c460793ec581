"""The systems compared: each opened, made durable and closed its own way.

A system is a small class; the workload loops in ``_workloads`` drive the
mapping it opens. ``nested`` says how a nested field is updated correctly:
``"inplace"`` (``d[k]["tries"] += 1`` is seen by the library) or ``"rmw"``
(read, modify, assign back: the library stores a copy).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import os
import shelve
from pathlib import Path
from typing import Any


class System:
    """A mapping kept in a folder; the base is the in-memory floor (a plain dict)."""

    name = "dict"
    nested = "inplace"
    persistent = False  # False: no folder, so no W2, W5, W6
    in_memory = True  # reads and updates touch only a plain dict (see _workloads.timed)
    durability = "none: in memory"
    package: str | None = None  # distribution whose version is recorded
    module: str | None = None  # imported before W2's clock starts, as the docs say

    def import_module(self) -> None:
        """Import the library, so that W2 times opening and reading, not importing."""
        if self.module is not None:
            importlib.import_module(self.module)

    def available(self) -> str | None:
        """None when usable, else why not (e.g. a peer not installed)."""
        if self.package is None:
            return None
        try:
            importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return f"{self.package} not installed (pip install -e '.[bench]')"
        return None

    def version(self) -> str:
        if self.package is None:
            return ""
        return importlib.metadata.version(self.package)

    def open(self, path: Path) -> Any:
        return {}

    def durable(self, d: Any) -> None:
        """Make every change so far survive as strongly as the system offers."""

    def close(self, d: Any) -> None:
        pass

    def batch(self, d: Any) -> Any:
        """A context around a bulk write (W1, W4), where the system has one."""
        return contextlib.nullcontext()

    def read_all(self, d: Any) -> int:
        """W2: read every value once, the system's usual way; returns the count."""
        n = 0
        for _k, v in d.items():
            n += 1
        return n


class _Floor:
    """The floor's mapping: key -> JSON text, decoded values kept once read."""

    # The standard library's C encoder checks and copies a value in one call.
    encode = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
    ).encode

    def __init__(self, path: Path) -> None:
        self.texts: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.changed: dict[str, None] = {}
        file = path / "floor.log"
        if file.exists():
            with open(file, encoding="utf-8") as f:
                for line in f:
                    key, _, text = line.partition("\t")
                    self.texts[key] = text[:-1]
        self.file = open(file, "a", encoding="utf-8")

    def __setitem__(self, key: str, value: Any) -> None:
        self.texts[key] = self.encode(value)
        self.values.pop(key, None)
        self.changed[key] = None

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            value = self.values[key] = json.loads(self.texts[key])
            return value

    def items(self) -> Any:
        return ((key, self[key]) for key in self.texts)

    def sync(self) -> None:
        texts = self.texts
        self.file.write("".join([f"{k}\t{texts[k]}\n" for k in self.changed]))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.changed.clear()


class Floor(System):
    """The cheapest honest implementation of tastypy's contract (issue 22).

    A value is checked and copied when assigned (encoded to JSON text by the
    C encoder), decoded on its first read; a nested update is read, change,
    assign back; a sync appends the changed ``key\\ttext`` lines to one file
    and fsyncs it; a fresh process reads the lines back (the last one wins).
    """

    name = "floor"
    nested = "rmw"
    persistent = True
    in_memory = False  # a first read decodes: a second pass would be warm
    durability = "changed lines appended to one file, fsync"

    def open(self, path: Path) -> Any:
        return _Floor(path)

    def durable(self, d: Any) -> None:
        d.sync()

    def close(self, d: Any) -> None:
        d.sync()
        d.file.close()


class _JsonDict(dict):
    """A plain dict that remembers its folder."""

    __slots__ = ("path",)


class JsonFile(System):
    """A dict dumped whole to one JSON file (write temp, fsync, rename)."""

    name = "json file"
    persistent = True
    in_memory = True
    durability = "whole file rewritten, fsync, atomic rename"

    def open(self, path: Path) -> Any:
        d = _JsonDict()
        d.path = path
        file = path / "data.json"
        if file.exists():
            with open(file, encoding="utf-8") as f:
                d.update(json.load(f))
        return d

    def durable(self, d: Any) -> None:
        temp = d.path / "data.json.tmp"
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(d, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, d.path / "data.json")


class Shelve(System):
    """``shelve`` over the default ``dbm`` (here ``dbm.dumb``)."""

    nested = "rmw"
    persistent = True
    in_memory = False
    durability = "sync() (dbm.dumb: no fsync)"

    def __init__(self, writeback: bool) -> None:
        self.writeback = writeback
        self.name = f"shelve wb={writeback}"
        if writeback:
            self.nested = "inplace"

    def open(self, path: Path) -> Any:
        return shelve.open(str(path / "db"), writeback=self.writeback)

    def durable(self, d: Any) -> None:
        d.sync()

    def close(self, d: Any) -> None:
        d.close()


class SqliteDict(System):
    name = "sqlitedict"
    nested = "rmw"
    persistent = True
    in_memory = False
    package = "sqlitedict"
    module = "sqlitedict"
    durability = "commit() (SQLite journal, synchronous=FULL: fsync)"

    def open(self, path: Path) -> Any:
        from sqlitedict import SqliteDict as Impl

        return Impl(str(path / "db.sqlite"), autocommit=False)

    def durable(self, d: Any) -> None:
        d.commit()

    def close(self, d: Any) -> None:
        d.close()


class DiskcacheIndex(System):
    name = "diskcache"
    nested = "rmw"
    persistent = True
    in_memory = False
    package = "diskcache"
    module = "diskcache"
    durability = "default: each write commits (SQLite WAL, synchronous=NORMAL: no fsync)"

    def open(self, path: Path) -> Any:
        from diskcache import Index

        return Index(str(path))

    def close(self, d: Any) -> None:
        d.cache.close()

    def batch(self, d: Any) -> Any:
        # A transaction around a bulk write is diskcache's documented way.
        return d.transact()


class Tastypy(System):
    name = "tastypy"
    module = "tastypy"
    persistent = True
    in_memory = False
    durability = "sync() (journal append or shard rewrite, fsync)"

    def open(self, path: Path) -> Any:
        import tastypy

        return tastypy.POD(path)

    def durable(self, d: Any) -> None:
        d.sync()

    def close(self, d: Any) -> None:
        d.close()

    def version(self) -> str:
        import tastypy

        try:
            return importlib.metadata.version("tastypy")
        except importlib.metadata.PackageNotFoundError:
            return f"working tree ({Path(tastypy.__file__).parent})"


def all_systems() -> list[System]:
    """Every system, the plain dict and the floor first."""
    return [
        System(), Floor(), JsonFile(), Shelve(False), Shelve(True), SqliteDict(), DiskcacheIndex(), Tastypy(),
    ]


def by_name(name: str) -> System:
    for system in all_systems():
        if system.name == name:
            return system
    raise KeyError(f"no system named {name!r}")
