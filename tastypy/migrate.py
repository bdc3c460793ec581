"""Copy a shelve or sqlitedict file into a POD, listing what is not JSON data.

Both formats store pickles, and reading a pickle can run any code the file
asks for: import only files you trust.
"""

from __future__ import annotations

import dbm
import os
import shelve
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from tastypy.errors import TastypyError
from tastypy.pod import POD

#: The kinds of file ``copy_from`` reads.
KINDS = ("sqlitedict", "shelve")

# Suffixes the dbm modules add to a shelf's name; users often give the file they see.
_DBM_SUFFIXES = (".db", ".dat", ".dir", ".bak", ".pag")


class SourceError(TastypyError):
    """The file to import cannot be read as the kind given (or its reader is not installed)."""


class Skipped(NamedTuple):
    """An entry of the source that was not copied, and why."""

    key: Any
    reason: str


class _Unreadable(NamedTuple):
    """A value that failed to unpickle, in place of the value."""

    reason: str


def copy_from(
    kind: str, source: str | os.PathLike[str], pod: POD | str | os.PathLike[str], *, table: str = "unnamed"
) -> list[Skipped]:
    """Copy every entry of a ``'sqlitedict'`` or ``'shelve'`` file into ``pod``, in the file's order.

    Reading the file unpickles it, which can run code: only files you trust.

    The source is opened read-only and never created; a missing file raises
    ``FileNotFoundError`` naming it, before ``pod`` is touched. A shelve may
    be named with or without the suffix its dbm module adds (``.db``,
    ``.dat``, ...). ``table`` is the table of a sqlitedict file.

    ``pod`` is an open POD, or the path of one to open (and close) after the
    source is open. Entries are added or replace the POD's; its other
    entries stay. The copy runs under ``pod.hold()`` and ends with one
    ``pod.sync()`` (then ``unhold()``). An entry whose value is not JSON data
    or fails to unpickle is not copied: it is returned as a ``Skipped`` with
    its key and the reason, in the file's order.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    if kind == "shelve" and table != "unnamed":
        raise ValueError("table names a table of a sqlitedict file; a shelve has none")
    opener = _sqlitedict(Path(source), table) if kind == "sqlitedict" else _shelve(Path(source))
    with opener as entries:
        if not isinstance(pod, (str, os.PathLike)):
            return _copy(entries, pod)
        with POD(pod) as opened:
            return _copy(entries, opened)


def skipped_lines(skipped: list[Skipped]) -> list[str]:
    """One line for each skipped entry: ``key 'b': value at ['b']['seen']: set is not JSON data; ...``."""
    return [f"key {entry.key!r}: {entry.reason}" for entry in skipped]


def _copy(entries: Iterator[tuple[Any, Any]], pod: POD) -> list[Skipped]:
    skipped = []
    pod.hold()
    try:
        for key, value in entries:
            if isinstance(value, _Unreadable):
                skipped.append(Skipped(key, value.reason))
                continue
            try:
                pod[key] = value
            except (TypeError, ValueError) as exc:
                skipped.append(Skipped(key, str(exc)))
        pod.sync()
    finally:
        pod.unhold()
    return skipped


def _unpickled(load: Any, *args: Any) -> Any:
    """``load(*args)``, or an ``_Unreadable`` saying why it failed."""
    try:
        return load(*args)
    except Exception as exc:  # noqa: BLE001  (unpickling runs the file's code: any error can come out)
        return _Unreadable(f"cannot unpickle the value ({type(exc).__name__}: {exc})")


@contextmanager
def _sqlitedict(path: Path, table: str) -> Iterator[Iterator[tuple[Any, Any]]]:
    try:
        import sqlitedict
    except ImportError:
        raise SourceError("reading sqlitedict files needs sqlitedict: pip install sqlitedict") from None
    # Checked here: sqlitedict would create a missing file, even with flag='r'.
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such sqlitedict file")
    try:
        tables = sqlitedict.SqliteDict.get_tablenames(str(path))
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path} is not a sqlitedict file ({exc})") from None
    if table not in tables:
        raise SourceError(
            f"{path} has no table {table!r}; its tables: {', '.join(map(repr, tables)) or 'none'}"
        )
    # Values come raw so that one value failing to unpickle does not end the loop.
    with sqlitedict.SqliteDict(str(path), tablename=table, flag="r", decode=sqlitedict.identity) as db:
        yield ((key, _unpickled(sqlitedict.decode, raw)) for key, raw in db.items())


@contextmanager
def _shelve(path: Path) -> Iterator[Iterator[tuple[Any, Any]]]:
    name = _dbm_name(path)
    try:
        shelf = shelve.open(name, flag="r")  # noqa: S301, SIM115  (trusted files only, as documented; closed below)
    except dbm.error as exc:
        raise SourceError(f"{path} cannot be read as a shelve file ({exc})") from None
    with shelf:
        yield ((key, _unpickled(shelf.__getitem__, key)) for key in shelf)


def _dbm_name(path: Path) -> str:
    """The name to give ``shelve.open`` for ``path``, given with or without its dbm suffix."""
    names = [str(path)]
    if path.suffix in _DBM_SUFFIXES:
        names.append(str(path.with_suffix("")))
    for name in names:
        if dbm.whichdb(name):
            return name
    if any(os.path.exists(name) for name in names):
        raise SourceError(f"{path} is not a shelve file that this Python can read (dbm cannot tell its kind)")
    raise FileNotFoundError(f"{path}: no such shelve file")
