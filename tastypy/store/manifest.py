"""The manifest: which files, holding exactly what, make the last commit.

It is one line of JSON ending in its own checksum: ``{…,"crc32":N}`` where N is
the CRC32 of every byte before ``,"crc32":``. Each shard is listed with its size
in bytes, its number of entries and the CRC32 of the file's bytes (for a gzip
shard, of the compressed file: checked before anything is decompressed, and the
same sum whether or not one decompresses): ``"shards"`` lists the names in order,
``"checks"`` maps each name to ``{"bytes":…,"entries":…,"crc32":…}``.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

from tastypy.errors import IntegrityError
from tastypy.store.durable import read_bytes
from tastypy.store.format import MANIFEST, damage

FORMAT = 2
SHARD_NAME = re.compile(r"(\d+)\.json(\.gz)?")
JOURNAL_NAME = re.compile(r"journal\.(\d+)\.log")
_SUM = b',"crc32":'
_FIX = "restore it from a backup"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest's fields, checked, or None for a folder without one (new or 0.x)."""
    path = folder / MANIFEST
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return None
    cut = data.rfind(_SUM)
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        raise damage(path, None, "the manifest is not JSON", _FIX) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise damage(path, None, "the manifest has no format number", _FIX)
    if manifest["format"] != FORMAT:
        newer = manifest["format"] > FORMAT
        raise IntegrityError(
            f"{path}: format {manifest['format']} is {'newer' if newer else 'older'} than this"
            f" tastypy reads ({FORMAT}); "
            + ("upgrade tastypy" if newer else "export it with the tastypy that wrote it")
        )
    crc = manifest.get("crc32")
    if type(crc) is not int or cut < 0 or data != b"%s%s%d}\n" % (data[:cut], _SUM, crc):
        raise damage(path, None, "the manifest does not end in its checksum", _FIX)
    if zlib.crc32(data[:cut]) != crc:
        raise damage(path, None, "the manifest does not match its checksum (it was edited)", _FIX)
    if not _fields_ok(manifest):
        raise damage(path, None, "the manifest lacks a field or has a wrong one", _FIX)
    return manifest


def _fields_ok(m: dict[str, Any]) -> bool:
    def count(n: object) -> bool:
        return type(n) is int and n >= 0

    shards, checks = m.get("shards"), m.get("checks")
    return (
        isinstance(shards, list)
        and all(isinstance(n, str) and SHARD_NAME.fullmatch(n) for n in shards)
        and isinstance(checks, dict)
        and checks.keys() == set(shards)
        and len(shards) == len(checks)
        and all(
            isinstance(c, dict)
            and c.keys() == {"bytes", "entries", "crc32"}
            and count(c["bytes"]) and count(c["entries"]) and count(c["crc32"])
            for c in checks.values()
        )
        and isinstance(m.get("journal"), str)
        and JOURNAL_NAME.fullmatch(m["journal"]) is not None
        and count(m.get("next"))
        and type(m.get("gzipped")) is bool
        and count(m.get("file_size")) and m["file_size"] > 0
        and "synced" in m
        and (m["synced"] is None or type(m["synced"]) in (int, float))
    )


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The file content: the fields, then the checksum of the bytes before it."""
    fields = {name: value for name, value in manifest.items() if name != "crc32"}
    body = json.dumps(fields, separators=(",", ":")).encode("ascii")[:-1]
    return b"%s%s%d}\n" % (body, _SUM, zlib.crc32(body))


def shard_check(nbytes: int, entries: int, crc: int) -> dict[str, int]:
    """What the manifest says one shard holds (its ``checks`` entry)."""
    return {"bytes": nbytes, "entries": entries, "crc32": crc}
