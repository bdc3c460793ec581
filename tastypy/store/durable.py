"""Durable, private, link-refusing file writes: the only way the store touches files.

Every file is opened with ``O_NOFOLLOW`` (a link planted in the folder is refused,
never followed out of it) and ``O_CLOEXEC``, and created ``0600``: a folder's data
is its owner's unless they widen it.
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
import stat
from pathlib import Path

from tastypy.errors import IntegrityError

#: Mode of every file the store creates (before the umask).
FILE_MODE = 0o600
#: Mode of a folder the store creates; an existing folder keeps its own.
FOLDER_MODE = 0o700
# O_NONBLOCK: a FIFO planted in the folder must not hang the open (no effect on files).
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def open_file(path: Path, flags: int = os.O_RDONLY) -> int:
    """``os.open`` refusing links and anything but a regular file, with a clear error."""
    try:
        fd = os.open(path, flags | _FLAGS, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise not_a_file(path) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise not_a_file(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def not_a_file(path: Path) -> IntegrityError:
    kind = "a symbolic link" if os.path.islink(path) else "not a regular file"
    return IntegrityError(
        f"{path} is {kind}: tastypy never follows links or writes through them "
        "inside its folder; replace it with the real file or remove it"
    )


def read_bytes(path: Path, start: int = 0) -> bytes:
    """The content of a regular file (not a link) from byte ``start`` on."""
    fd = open_file(path)
    with open(fd, "rb", closefd=True) as f:
        if start:
            f.seek(start)
        return f.read()


def replace_file(folder: Path, name: str, data: bytes) -> None:
    """Give ``folder/name`` the content ``data`` in one step (no fsync of the folder).

    Temp file in the same folder, written and fsynced, then ``os.replace``: a crash
    leaves the old file or the new one. On any error the temp file is removed.
    """
    temp = folder / f"{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = open_file(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, folder / name)  # replaces a link itself, never its target
    except BaseException:
        _remove(temp)
        raise


def remove_temp_files(folder: Path, name: str) -> None:
    """Remove the temp files an interrupted ``replace_file(folder, name)`` left (writer only)."""
    temp = re.compile(re.escape(name) + r"\.[0-9a-f.]+\.tmp")
    with os.scandir(folder) as entries:
        names = [entry.name for entry in entries if temp.fullmatch(entry.name)]
    for found in names:
        _remove(folder / found)


def create_file(path: Path, data: bytes) -> None:
    """Write a new file (never an existing one, nor through a link) and fsync it."""
    fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def create_journal(path: Path) -> io.FileIO:
    """Create an empty journal, fsynced; return it open for appending."""
    # O_APPEND: after a failed batch is cut off, the next one starts at the new end.
    return open_journal(path, os.O_CREAT | os.O_EXCL)


def open_journal(path: Path, flags: int = 0) -> io.FileIO:
    """The journal open for appending, fsynced."""
    journal = io.FileIO(open_file(path, os.O_WRONLY | os.O_APPEND | flags), "a")
    try:
        os.fsync(journal.fileno())
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
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
