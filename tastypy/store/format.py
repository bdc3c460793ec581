"""The line format: ``<json key>\\t<json value>\\n``, key codec, shard parsing, damage."""

from __future__ import annotations

import gzip
import json
import json.scanner
import re
import zlib
from pathlib import Path
from typing import Any

from tastypy.errors import IntegrityError
from tastypy.keys import Key, check_key, key_from_json
from tastypy.store.durable import read_bytes

#: The manifest's file name (named in messages).
MANIFEST = "tastypy.manifest.json"

# Compact and readable: what ``json.dumps`` gives once spaces are dropped.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def damage(
    path: Path, line: int | None, what: str, fix: str = "restore it from a backup or remove the line"
) -> IntegrityError:
    """The error for a damaged file: what, where, and what to do."""
    where = f"{path} line {line}" if line else str(path)
    return IntegrityError(
        f"{where}: {what}; the last sync was interrupted or the file was edited — {fix}"
    )


#: JSON text of a ``str`` (C, nothing checked): ``encode_key`` of a str key.
encode_basestring = json.encoder.encode_basestring


def encode_key(key: Key) -> str:
    """JSON text of a top-level key; tuples become arrays. TypeError for other types."""
    kind = type(key)
    if kind is str:  # the common case, without the encoder's per-call setup
        return encode_basestring(key)  # type: ignore[arg-type]  # a str: checked above
    if kind is int:
        return int.__repr__(key)
    check_key(key)
    return _encode(key)


def encode_value(text: str) -> str:
    """Check a value's JSON text can be written as one line (the caller dumped it)."""
    if type(text) is not str:
        raise TypeError(f"a value must be given as JSON text (str), not {type(text).__name__}")
    if not text or "\n" in text:
        raise ValueError(f"value text {text[:40]!r} is empty or holds a newline")
    return text


def split_lines(data: bytes, path: Path) -> list[str]:
    """The lines of a shard's bytes, without their newlines."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise damage(path, line, "bytes that are not UTF-8") from None
    if not text:
        return []
    if not text.endswith("\n"):
        raise damage(path, text.count("\n") + 1, "last line has no newline (file cut short)")
    return text[:-1].split("\n")


def parse_lines(
    lines: list[str], path: Path, first: int = 1, deletes: bool = False, values: bool = True
) -> list[tuple[Key, str, str | None, object]]:
    """``(key, key_text, value_text, value)`` per line; value_text None for a delete line.

    Each text is parsed on its own by the C scanner (cheap per call, and exact:
    a joined parse could let ``[1`` + ``2]`` pass). With ``values`` False the
    value texts are only checked to be there (value None): a file whose
    checksum matched is decoded when a value is first read.
    """
    out: list[tuple[Key, str, str | None, object]] = []
    append = out.append
    for n, line in enumerate(lines, first):
        ktext, tab, vtext = line.partition("\t")
        if not tab and not deletes:
            raise damage(path, n, "truncated line (no tab, no value)")
        try:
            key = key_from_json(_decode(ktext, path, n, "key"))
        except RecursionError:  # an array key nested too deep to be one of ours
            key = None
        if key is None:
            raise damage(path, n, f"key {ktext} is not a string, integer or array")
        if not tab:
            append((key, ktext, None, None))
        elif values or not vtext:
            append((key, ktext, vtext, _decode(vtext, path, n, "value")))
        else:
            append((key, ktext, vtext, None))
    return out


# A line whose key is a string without escapes: the key is its text between
# the quotes (what JSON would decode it to), found for a whole file in one call.
_PLAIN_LINE = re.compile(r'^"([^"\\\x00-\x1f]*)"\t([^\n]+)\n', re.MULTILINE)


def plain_lines(text: str) -> list[tuple[Key, str]] | None:
    """``(key, value_text)`` of every line of ``text`` when each key is a plain
    string (see ``_PLAIN_LINE``), else None. Value texts are not decoded."""
    found = _PLAIN_LINE.findall(text)
    return found if len(found) == text.count("\n") and text[-1:] in ("\n", "") else None


def decode_values(texts: list[str], file: Path, keys: list[Key]) -> list[Any]:
    """The values of the JSON texts of ``keys`` read from ``file``, whose
    checksum matched, in one parse (a third of the time of one parse each).

    A text that is not one JSON value (``1,2``, ``[1``) changes the count or
    fails the parse: then each is parsed on its own, and the bad one named.
    """
    values = decode_joined(texts)
    if values is None:
        return [decode_value(text, file, key) for text, key in zip(texts, keys)]
    return values


def decode_joined(texts: list[str]) -> list[Any] | None:
    """The values of JSON texts in one parse, or None if one of them is not a JSON value."""
    try:
        values: list[Any] = json.loads("[" + ",".join(texts) + "]")
    except (ValueError, RecursionError):
        return None
    return values if len(values) == len(texts) else None


def decode_value(text: str, file: Path, key: Key) -> object:
    """The value of ``key`` from its JSON text read from ``file``, whose checksum matched.

    Such a text was checked only for its bytes: one that is not JSON was
    written so (by hand) and is damage, named with its file and key.
    """
    try:
        obj, end = _scan(text, 0)
        if end == len(text):
            return obj
    except (StopIteration, ValueError, RecursionError):
        pass
    try:  # whitespace around the JSON: a hand-edited line
        return json.loads(text)
    except (ValueError, RecursionError):
        raise IntegrityError(
            f"{file} (key {key!r}): the value {text[:60]!r} is not valid JSON; the file "
            "was edited — restore it from a backup"
        ) from None


# The stub wants a make_scanner as context; the C scanner reads a JSONDecoder's settings.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _decode(text: str, path: Path, n: int, what: str) -> object:
    try:
        obj, end = _scan(text, 0)
        if end == len(text):
            return obj
    except (StopIteration, ValueError, RecursionError):
        pass
    try:  # whitespace around the JSON: a hand-edited or 0.x line
        return json.loads(text)
    except RecursionError:
        raise damage(path, n, f"the {what} {text[:60]!r}… is nested too deep") from None
    except ValueError:
        reason = "is empty (truncated line)" if not text.strip() else "is not valid JSON"
        raise damage(path, n, f"the {what} {text[:60]!r} {reason}") from None


def read_shard(
    path: Path, expect: dict[str, Any] | None
) -> tuple[list[tuple[Key, str]], dict[Key, str], int, int]:
    """The ``(key, value_text)`` entries of one shard file (gzip when its name
    ends in ``.gz``), the key texts that are not what ``encode_key`` gives (by
    key, for a rewrite to keep them), the file's size and CRC32.

    ``expect`` is what the manifest says the file holds (None for a 0.x folder):
    its size and checksum are checked before anything is parsed. Values are
    decoded (checked) only in a 0.x folder, which has no checksums.
    """
    data = read_bytes(path)
    size, crc = len(data), zlib.crc32(data)
    fix = "restore the folder from a backup"
    if expect is not None:
        if size != expect["bytes"]:
            raise damage(path, None, f"{size} bytes, yet {MANIFEST} says {expect['bytes']}", fix)
        if crc != expect["crc32"]:
            raise damage(path, None, f"its checksum does not match the one in {MANIFEST}", fix)
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise damage(path, None, "not a valid gzip file", "restore it from a backup") from None
    pairs: list[tuple[Key, Any]] | None = None  # (the value texts of a shard are never None)
    ktexts: dict[Key, str] = {}
    if expect is not None:
        try:
            pairs = plain_lines(data.decode("utf-8"))
        except UnicodeDecodeError:
            pass  # the slow path names the line
    if pairs is None:
        pairs = []
        for key, ktext, vtext, _ in parse_lines(split_lines(data, path), path, values=expect is None):
            pairs.append((key, vtext))
            if encode_key(key) != ktext:
                ktexts[key] = ktext
    if expect is not None and len(pairs) != expect["entries"]:
        raise damage(path, None, f"{len(pairs)} entries, yet {MANIFEST} says {expect['entries']}", fix)
    return pairs, ktexts, size, crc


def shard_bytes(text: str, gzipped: bool) -> bytes:
    """The file content for a shard's text."""
    data = text.encode("utf-8")
    # mtime=0: the same content always gives the same bytes.
    return gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data
