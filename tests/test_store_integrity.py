"""Issue 13: damage the old format let pass, wrong error types, links, file modes."""

from __future__ import annotations

import json
import os
import stat
import zlib
from pathlib import Path

import pytest

from tastypy.errors import IntegrityError
from tastypy.store import Store

MANIFEST = "tastypy.manifest.json"


def compacted(folder: Path, pairs, file_size: int = 2, gzipped: bool = False) -> dict:
    store = Store(folder, file_size=file_size, gzipped=gzipped)
    store.commit(pairs)
    store.compact()
    store.close()
    return json.loads((folder / MANIFEST).read_text())


def refused(folder: Path, match: str) -> IntegrityError:
    """Reader and writer both raise IntegrityError, and change no file."""
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}
    for readonly in (True, False):
        with pytest.raises(IntegrityError, match=match) as raised:
            Store(folder, read_only=readonly)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}
    assert after == {**before, **{n: after[n] for n in after.keys() - before.keys()}}
    assert after.keys() - before.keys() <= {"tastypy.lock"}
    return raised.value


def rewrite_manifest(folder: Path, change) -> None:
    """Edit the manifest's fields and give it a matching checksum (a deliberate edit)."""
    fields = json.loads((folder / MANIFEST).read_text())
    del fields["crc32"]
    change(fields)
    body = json.dumps(fields, separators=(",", ":")).encode()[:-1]
    (folder / MANIFEST).write_bytes(body + b',"crc32":%d}\n' % zlib.crc32(body))


# -- 1. shards are checked against the manifest ----------------------------------------


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda lines: lines[:1], "bytes, yet"),  # the repro: a line removed
        (lambda lines: lines[::-1], "checksum does not match"),  # swapped
        (lambda lines: [lines[0], lines[1].replace(b"2", b"3")], "checksum does not match"),
        (lambda lines: lines + [b'"z"\t9\n'], "bytes, yet"),
    ],
)
def test_shard_edited_at_a_line_boundary(tmp_path, edit, what):
    folder = tmp_path / "d"
    shard = folder / compacted(folder, [("a", "1"), ("b", "2")])["shards"][0]
    shard.write_bytes(b"".join(edit(shard.read_bytes().splitlines(keepends=True))))
    error = refused(folder, rf"{shard.name}: .*{what}")
    assert "restore" in str(error)


def test_gzip_shard_is_checked_before_it_is_decompressed(tmp_path):
    folder = tmp_path / "d"
    shard = folder / compacted(folder, [("a", "1"), ("b", "2")], gzipped=True)["shards"][0]
    data = bytearray(shard.read_bytes())
    data[-5] ^= 1  # inside gzip's own trailer: gzip would say "not a valid gzip file"
    shard.write_bytes(bytes(data))
    refused(folder, rf"{shard.name}: its checksum does not match")


def test_entry_count_is_checked(tmp_path):
    folder = tmp_path / "d"
    name = compacted(folder, [("a", "1"), ("b", "2")])["shards"][0]
    rewrite_manifest(folder, lambda m: m["checks"][name].update(entries=3))
    refused(folder, rf"{name}: 2 entries, yet {MANIFEST} says 3")


# -- 2. a whole journal record that does not match is damage ---------------------------


def journaled(folder: Path) -> Path:
    store = Store(folder)
    store.commit([("a", "1")])
    store.commit([("b", "2")])
    store.close()  # a Store does not compact at close: the journal stays
    return folder / json.loads((folder / MANIFEST).read_text())["journal"]


def test_last_batch_with_a_changed_crc_is_damage(tmp_path):
    journal = journaled(tmp_path / "d")
    data = journal.read_bytes()
    at = data.rindex(b'"crc32":') + 9
    journal.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    refused(tmp_path / "d", rf"{journal.name} line 3: a commit that does not match its record")


def test_last_record_followed_by_other_than_its_newline_is_damage(tmp_path):
    journal = journaled(tmp_path / "d")
    journal.write_bytes(journal.read_bytes()[:-1] + b"J")
    refused(tmp_path / "d", rf"{journal.name} line 4: the commit record runs on past its end")


def test_last_record_with_a_mangled_brace_is_damage(tmp_path):
    journal = journaled(tmp_path / "d")
    data = journal.read_bytes()
    at = data.rindex(b"{")
    journal.write_bytes(data[:at] + b";" + data[at + 1 :])
    refused(tmp_path / "d", rf"{journal.name} line 4: the key .* is not valid JSON")


# -- 3. the manifest: lost or edited is refused, never repaired by deleting data --------


def test_journal_without_manifest_is_refused_and_kept(tmp_path):
    folder = tmp_path / "d"
    journal = journaled(folder)
    (folder / MANIFEST).unlink()
    kept = journal.read_bytes()
    refused(folder, rf"{MANIFEST}: missing, yet {journal.name} shows tastypy wrote this folder")
    assert journal.read_bytes() == kept


@pytest.mark.parametrize(
    "change", [lambda m: m["shards"].pop(), lambda m: m["shards"].reverse()], ids=["fewer", "reordered"]
)
def test_edited_manifest_is_refused(tmp_path, change):
    folder = tmp_path / "d"
    compacted(folder, [("a", "1"), ("b", "2"), ("c", "3")])
    fields = json.loads((folder / MANIFEST).read_text())
    change(fields)
    (folder / MANIFEST).write_text(json.dumps(fields, separators=(",", ":")) + "\n")
    refused(folder, "the manifest does not match its checksum")


def test_manifest_without_its_checksum_is_refused(tmp_path):
    folder = tmp_path / "d"
    compacted(folder, [("a", "1")])
    fields = json.loads((folder / MANIFEST).read_text())
    del fields["crc32"]
    (folder / MANIFEST).write_text(json.dumps(fields))
    refused(folder, "the manifest does not end in its checksum")


def test_an_interrupted_adoption_is_not_mistaken_for_a_lost_manifest(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "0.json").write_bytes(b'"a"\t1\n')
    (folder / "journal.1.log").write_bytes(b"")  # created, then the process died
    assert Store(folder, read_only=True).load() == [("a", "1")]
    store = Store(folder)
    store.commit([("b", "2")])
    store.close()
    assert Store(folder, read_only=True).load() == [("a", "1"), ("b", "2")]


# -- 4. every damage is an IntegrityError naming the file ------------------------------


def test_manifest_without_synced(tmp_path):
    folder = tmp_path / "d"
    compacted(folder, [("a", "1")])
    rewrite_manifest(folder, lambda m: m.pop("synced"))
    refused(folder, rf"{MANIFEST}: the manifest lacks a field")


@pytest.mark.parametrize("where", ["key", "value"])
def test_line_nested_too_deep(tmp_path, where):
    folder = tmp_path / "d"
    folder.mkdir()
    deep = "[" * 100_000 + "]" * 100_000
    line = f"{deep}\t1\n" if where == "key" else f'"a"\t{deep}\n'
    (folder / "0.json").write_text(line)
    refused(folder, r"0\.json line 1: ")


def test_shard_replaced_by_a_directory(tmp_path):
    folder = tmp_path / "d"
    name = compacted(folder, [("a", "1")])["shards"][0]
    (folder / name).unlink()
    (folder / name).mkdir()
    refused(folder, rf"{name} is not a regular file")


# -- 12. links inside the folder are refused, never followed ---------------------------


@pytest.mark.parametrize("name", ["tastypy.lock", "journal", "shard", MANIFEST])
def test_links_inside_the_folder_are_refused(tmp_path, name):
    folder = tmp_path / "f"
    manifest = compacted(folder, [("a", "1"), ("b", "2")])
    name = {"journal": manifest["journal"], "shard": manifest["shards"][0]}.get(name, name)
    victim = tmp_path / "victim"
    victim.write_bytes((folder / name).read_bytes() if (folder / name).exists() else b"precious\n")
    kept = victim.read_bytes()
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(victim)
    readers = [] if name == "tastypy.lock" else [True]  # readers never open the lock
    for readonly in readers + [False]:
        with pytest.raises(IntegrityError, match=rf"{name} is a symbolic link"):
            Store(folder, read_only=readonly)
    assert victim.read_bytes() == kept


def test_import_through_a_planted_lock_link_leaves_the_target_alone(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (folder / "tastypy.lock").symlink_to(victim)
    with pytest.raises(IntegrityError, match="tastypy.lock is a symbolic link"):
        Store(folder)
    assert victim.read_text() == "precious\n"


# -- 13. private by default ------------------------------------------------------------


def test_new_folder_and_files_are_private(tmp_path):
    folder = tmp_path / "new"
    compacted(folder, [("a", "1"), ("b", "2"), ("c", "3")])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 & ~_umask()
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 & ~_umask(), path.name


def test_existing_folder_keeps_its_mode(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    compacted(folder, [("a", "1")])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- the read-only flag, public --------------------------------------------------------


def test_read_only_is_public(tmp_path):
    store = Store(tmp_path / "d")
    assert store.read_only is False
    store.close()
    assert Store(tmp_path / "d", read_only=True).read_only is True
