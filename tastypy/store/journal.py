"""The journal: append-only batches of change lines, each closed by a checked record.

A batch is ``<key>\\t<value>\\n`` (set) and ``<key>\\n`` (delete) lines followed by
``{"commit":<seq>,"lines":<count>,"crc32":<crc of those lines' bytes>}\\n``.

A batch is written with one ``write``, so a crash can only leave a *prefix* of
the last one: whole change lines, then maybe part of a line or of the record.
Such a tail is a commit that never happened. Anything else is damage: a record
that is whole (it reached its ``}``) but does not match, a line that is neither
a change nor a record, commits out of sequence. A record whose newline alone is
damaged still counts: all it vouches for is intact.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from tastypy.keys import Key
from tastypy.store.durable import read_bytes
from tastypy.store.format import damage, parse_lines, plain_lines

_RECORD = '{"commit":%d,"lines":%d,"crc32":%d}\n'
_FIX = "restore the folder from a backup"

Batch = list[tuple[Key, str, "str | None", object]]


def encode_batch(lines: list[str], seq: int) -> bytes:
    """The bytes of one commit: its lines (each ending in a newline) and its record."""
    body = "".join(lines).encode("utf-8")
    return body + (_RECORD % (seq, len(lines), zlib.crc32(body))).encode("ascii")


def read_journal(path: Path, start: int = 0, seq: int = 0) -> tuple[list[Batch], int, int]:
    """The complete batches, the byte offset where they end, and the last sequence number.

    ``start`` and ``seq``: where an earlier read ended and the number of its
    last commit, to read only the batches appended since (the tail). Line
    numbers in errors then count from ``start``.
    """
    data = read_bytes(path, start)
    batches: list[Batch] = []
    pending: list[bytes] = []
    pos = end = 0
    lineno = first = 1
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos : nl + 1]
        pos = nl + 1
        lineno += 1
        # Keys are never JSON objects, so only a record line starts with '{'.
        if not line.startswith(b"{"):
            pending.append(line)
            continue
        seq = _check(path, line[:-1], pending, seq, first)
        batches.append(_parse(pending, path, first, values=False))  # checked by its CRC32
        end = pos
        pending = []
        first = lineno
    tail = data[pos:]
    if tail.startswith(b"{") and not tail.endswith(b"}") and b"}" in tail:
        # Only a newline may follow a record: this one was changed after it was written.
        raise damage(path, lineno, "the commit record runs on past its end", _FIX)
    if pending:
        _parse(pending, path, first)  # whole lines of a torn commit: still lines of ours
    return batches, start + end, seq


def _check(path: Path, record: bytes, lines: list[bytes], seq: int, first: int) -> int:
    """The commit number of a record that matches its lines and follows ``seq``, else damage."""
    try:
        fields = json.loads(record)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or fields != {
        "commit": fields.get("commit"), "lines": len(lines), "crc32": zlib.crc32(b"".join(lines))
    }:
        raise damage(path, first, "a commit that does not match its record", _FIX)
    if fields["commit"] != seq + 1:
        raise damage(path, first + len(lines), f"commit {fields['commit']} follows commit {seq}", _FIX)
    return seq + 1


def _parse(lines: list[bytes], path: Path, first: int, values: bool = True) -> Batch:
    try:
        text = b"".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        raise damage(path, first, "a commit holds bytes that are not UTF-8") from None
    if not values:
        plain = plain_lines(text)  # every line a set of a plain string key: one regex, no decoding
        if plain is not None:
            return [(key, f'"{key}"', vtext, None) for key, vtext in plain]
    return parse_lines(text[:-1].split("\n"), path, first, deletes=True, values=values) if text else []
