"""The journal: append-only batches of change lines, each closed by a checked record.

A batch is ``<key>\\t<value>\\n`` (set) and ``<key>\\n`` (delete) lines followed by
``{"commit":<seq>,"lines":<count>,"crc32":<crc of those lines' bytes>}\\n``. A batch
whose record is missing or does not match, at the end of the file, is a commit that
was interrupted: it never happened. The same followed by a good batch is damage.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from tastypy.store.format import Key, damage, parse_lines

_RECORD = '{"commit":%d,"lines":%d,"crc32":%d}\n'

Batch = list[tuple[Key, str, "str | None", object]]


def encode_batch(lines: list[str], seq: int) -> bytes:
    """The bytes of one commit: its lines (each ending in a newline) and its record."""
    body = "".join(lines).encode("utf-8")
    return body + (_RECORD % (seq, len(lines), zlib.crc32(body))).encode("ascii")


def read_journal(path: Path) -> tuple[list[Batch], int, int]:
    """The complete batches, the byte offset where they end, and the last sequence number."""
    with open(path, "rb") as f:
        data = f.read()
    batches: list[Batch] = []
    pending: list[bytes] = []
    pos = end = seq = 0
    lineno = first = 1
    bad = None  # line where the first unmatched batch starts
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # a torn last line: part of an interrupted commit
        line = data[pos : nl + 1]
        pos = nl + 1
        lineno += 1
        # Keys are never JSON objects, so only a record line starts with '{'.
        if not line.startswith(b"{"):
            pending.append(line)
            continue
        number = _matches(line, pending)
        if number is not None:
            if bad is not None:
                raise damage(
                    path, bad, "a commit that does not match its record is followed by good ones",
                    "restore the folder from a backup",
                )
            if number != seq + 1:
                raise damage(
                    path, lineno - 1, f"commit {number} follows commit {seq}",
                    "restore the folder from a backup",
                )
            batches.append(_parse(pending, path, first))
            seq += 1
            end = pos
        elif bad is None:
            bad = first
        pending = []
        first = lineno
    return batches, end, seq


def _matches(record: bytes, lines: list[bytes]) -> int | None:
    """The commit number of a record that matches its lines, else None."""
    try:
        fields = json.loads(record)
    except ValueError:
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("commit"), int):
        return None
    if fields != {"commit": fields["commit"], "lines": len(lines), "crc32": zlib.crc32(b"".join(lines))}:
        return None
    return fields["commit"]


def _parse(lines: list[bytes], path: Path, first: int) -> Batch:
    try:
        text = b"".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        raise damage(path, first, "a commit holds bytes that are not UTF-8") from None
    return parse_lines(text[:-1].split("\n"), path, first, deletes=True) if text else []
