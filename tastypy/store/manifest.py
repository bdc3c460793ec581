"""The manifest (which files make the last commit) and the durable-write helpers."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
from pathlib import Path

from tastypy.errors import IntegrityError
from tastypy.store.format import damage

MANIFEST = "tastypy.manifest.json"
FORMAT = 1
SHARD_NAME = re.compile(r"(\d+)\.json(\.gz)?")
JOURNAL_NAME = re.compile(r"journal\.\d+\.log")
_TEMP_NAME = re.compile(re.escape(MANIFEST) + r"\.[0-9a-f.]+\.tmp")


def read_manifest(folder: Path) -> dict | None:
    """The manifest's fields, or None for a folder without one (new or 0.x)."""
    path = folder / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    fix = "restore it from a backup"
    try:
        manifest = json.loads(data)
    except ValueError:
        raise damage(path, None, "the manifest is not JSON", fix) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise damage(path, None, "the manifest has no format number", fix)
    if manifest["format"] > FORMAT:
        raise IntegrityError(
            f"{path}: format {manifest['format']} is newer than this tastypy"
            f" understands ({FORMAT}); upgrade tastypy"
        )
    if not (
        isinstance(manifest.get("shards"), list)
        and all(isinstance(n, str) and SHARD_NAME.fullmatch(n) for n in manifest["shards"])
        and isinstance(manifest.get("journal"), str)
        and JOURNAL_NAME.fullmatch(manifest["journal"])
        and isinstance(manifest.get("next"), int)
        and isinstance(manifest.get("gzipped"), bool)
        and isinstance(manifest.get("file_size"), int)
        and manifest["file_size"] > 0
    ):
        raise damage(path, None, "the manifest lacks a field or has a wrong one", fix)
    return manifest


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, separators=(",", ":")) + "\n").encode("ascii")


def replace_file(folder: Path, name: str, data: bytes) -> None:
    """Give ``folder/name`` the content ``data`` in one step (no fsync of the folder).

    Temp file in the same folder, written and fsynced, then ``os.replace``: a crash
    leaves the old file or the new one. On any error the temp file is removed.
    """
    temp = folder / f"{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, folder / name)
    except BaseException:
        _remove(temp)
        raise


def remove_temp_files(folder: Path) -> None:
    """Remove the temp files an interrupted manifest write left (writer only)."""
    for entry in os.scandir(folder):
        if _TEMP_NAME.fullmatch(entry.name):
            _remove(folder / entry.name)


def create_file(path: Path, data: bytes) -> None:
    """Write a new file (never an existing one) and fsync it."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def create_journal(path: Path) -> io.FileIO:
    """Create an empty journal, fsynced; return it open for appending."""
    # O_APPEND: after a failed batch is cut off, the next one starts at the new end.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o666)
    journal = io.FileIO(fd, "a")
    try:
        os.fsync(fd)
    except BaseException:
        journal.close()
        raise
    return journal


def write_all(fd: int, data: bytes) -> None:
    # One os.write in practice; the loop only matters for a short write.
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (creates, renames, deletes) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
