"""The line format: ``<json key>\\t<json value>\\n``, key codec, shard parsing, damage."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Union

from tastypy.errors import IntegrityError

Key = Union[str, int, tuple]

# Compact and readable: what ``json.dumps`` gives once spaces are dropped.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# A valid JSON text starting with one of these must end with its partner. Checked
# per line because a joined-array parse alone could let ``[1`` + ``2]`` pass.
_CLOSER = {"[": "]", "{": "}", '"': '"'}


def damage(
    path: Path, line: int | None, what: str, fix: str = "restore it from a backup or remove the line"
) -> IntegrityError:
    """The error for a damaged file: what, where, and what to do."""
    where = f"{path} line {line}" if line else str(path)
    return IntegrityError(
        f"{where}: {what}; the last sync was interrupted or the file was edited — {fix}"
    )


def encode_key(key: Key) -> str:
    """JSON text of a top-level key; tuples become arrays. TypeError for other types."""
    _check_key(key, key)
    return _encode(key)


def _check_key(part: object, key: Key) -> None:
    if type(part) is tuple:
        for item in part:
            _check_key(item, key)
    elif type(part) not in (str, int):
        raise TypeError(
            f"key {key!r}: {type(part).__name__} is not a valid key part"
            " (use str, int, or tuples of them)"
        )


def _to_key(obj: object) -> Key | None:
    """The key a decoded JSON text stands for: arrays become tuples; None if invalid."""
    kind = type(obj)
    if kind is str or kind is int:
        return obj
    if kind is list:
        parts = tuple(_to_key(item) for item in obj)
        return None if None in parts else parts
    return None


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
    lines: list[str], path: Path, first: int = 1, deletes: bool = False
) -> list[tuple[Key, str, str | None]]:
    """``(key, key_text, value_text)`` per line; value_text None for a delete line.

    Keys and values are each validated by one ``json.loads`` of all texts joined as
    an array; only on failure are lines parsed one by one to name the bad line.
    """
    ktexts: list[str] = []
    vtexts: list[str | None] = []
    for n, line in enumerate(lines, first):
        ktext, tab, vtext = line.partition("\t")
        if not tab and not deletes:
            raise damage(path, n, "truncated line (no tab, no value)")
        ktexts.append(ktext)
        vtexts.append(vtext if tab else None)
    linenos = range(first, first + len(lines))
    keys = _load_all(ktexts, linenos, path, "key")
    if deletes:
        numbered = [(n, v) for n, v in zip(linenos, vtexts) if v is not None]
        _load_all([v for _, v in numbered], [n for n, _ in numbered], path, "value")
    else:
        _load_all(vtexts, linenos, path, "value")
    out = []
    for n, (obj, ktext, vtext) in enumerate(zip(keys, ktexts, vtexts), first):
        key = _to_key(obj)
        if key is None:
            raise damage(path, n, f"key {ktext} is not a string, integer or array")
        out.append((key, ktext, vtext))
    return out


def _load_all(texts: list[str], linenos, path: Path, what: str) -> list:
    try:
        objs = json.loads("[" + ",".join(texts) + "]")
        if len(objs) == len(texts) and all(_ends_match(t) for t in texts):
            return objs
    except ValueError:
        pass
    for n, text in zip(linenos, texts):
        try:
            json.loads(text)
        except ValueError:
            reason = "is empty (truncated line)" if not text.strip() else "is not valid JSON"
            raise damage(path, n, f"the {what} {text[:60]!r} {reason}") from None
    # Each text parses alone but not joined: only possible with odd whitespace.
    return [json.loads(text) for text in texts]


def _ends_match(text: str) -> bool:
    closer = _CLOSER.get(text[:1])
    return closer is None or (len(text) > 1 and text[-1] == closer)


def read_shard(path: Path) -> tuple[list[tuple[Key, str, str | None]], int]:
    """The entries of one shard file (gzip when its name ends in ``.gz``), and its size."""
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise damage(path, None, "not a valid gzip file", "restore it from a backup") from None
    return parse_lines(split_lines(data, path), path), size


def shard_bytes(entries, gzipped: bool) -> bytes:
    """The file content for ``(key_text, value_text)`` pairs."""
    data = "".join([f"{k}\t{v}\n" for k, v in entries]).encode("utf-8")
    # mtime=0: the same content always gives the same bytes.
    return gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data
