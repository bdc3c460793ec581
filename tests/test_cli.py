"""The ``tastypy`` command through its real entry point: output, exit status, error lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zlib

import pytest

from cli_helpers import command, one_error_line, record, tastypy, write_folder
from helpers import CHILD_TIMEOUT, child_env, fresh_items, start_py
from tastypy import POD
from tastypy.store import Store

PAIRS = [("a", 1), (3, {"tags": ["x", "é"]}), (("site", 3), [1, 2]), ("plain words", None)]


@pytest.fixture
def pod_folder(tmp_path):
    folder = tmp_path / "data"
    with POD(folder, PAIRS, file_size=2):
        pass
    return folder


@pytest.fixture
def tracker_folder(tmp_path):
    folder = tmp_path / "jobs"
    records = [record(done=True, tries=1)] * 3 + [record(tries=2), record(aborted=True, tries=3), record()]
    with POD(folder, enumerate(records)):
        pass
    return folder


def holding_writer(folder):
    """A child process holding ``folder`` as writer until its stdin closes."""
    child = start_py(
        """
        import sys, tastypy
        pod = tastypy.POD(sys.argv[1])
        print('ready', flush=True)
        sys.stdin.read()
        """,
        str(folder),
        stdin=subprocess.PIPE,
    )
    assert child.stdout.readline() == "ready\n", child.stderr.read()
    return child


def release(child):
    child.stdin.close()
    child.wait(timeout=CHILD_TIMEOUT)
    child.stdout.close()
    child.stderr.close()


# -- info ------------------------------------------------------------------------


def test_info_gives_kind_sizes_sync_time_and_no_writer(pod_folder):
    result = tastypy("info", pod_folder)
    assert result.returncode == 0, result.stderr
    rows = dict(line.split(":", 1) for line in result.stdout.splitlines())
    rows = {name: value.strip() for name, value in rows.items()}
    assert rows["kind"] == "POD"
    assert rows["entries"] == "4"
    assert rows["shards"] == "2"
    assert int(rows["bytes"].replace(",", "")) > 0
    assert rows["gzipped"] == "no"
    assert rows["last sync"][:2] == "20"
    assert rows["writer"] == "none"


def test_info_recognizes_a_tracker(tracker_folder):
    result = tastypy("info", tracker_folder)
    assert "kind:      Tracker" in result.stdout
    assert "done:      3 of 6" in result.stdout


def test_info_names_the_pid_of_a_writer(pod_folder):
    child = holding_writer(pod_folder)
    try:
        result = tastypy("info", pod_folder)
    finally:
        release(child)
    assert f"writer:    pid {child.pid}" in result.stdout


# -- get and keys ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ('"a"', 1),
        ("a", 1),
        ("3", {"tags": ["x", "é"]}),
        ('["site", 3]', [1, 2]),
        ("plain words", None),
    ],
)
def test_get_prints_the_value_as_json(pod_folder, key, value):
    result = tastypy("get", pod_folder, key)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == value


def test_get_of_a_missing_key_is_one_error_line(pod_folder):
    assert one_error_line(tastypy("get", pod_folder, "nope")) == f'tastypy get: {pod_folder} has no key "nope"'


@pytest.mark.parametrize("key", ["true", "1.5", "null", '{"a": 1}', '["site", 1.5]', '["site", 3', '"a'])
def test_get_with_bad_key_syntax_is_one_error_line(pod_folder, key):
    assert "bad key" in one_error_line(tastypy("get", pod_folder, key))


def test_keys_prints_json_keys_in_order(pod_folder):
    result = tastypy("keys", pod_folder)
    assert [json.loads(line) for line in result.stdout.splitlines()] == ["a", 3, ["site", 3], "plain words"]
    assert tastypy("keys", pod_folder, "--limit", 2).stdout.splitlines() == ['"a"', "3"]


def test_keys_with_a_bad_limit_is_a_usage_error(pod_folder):
    result = tastypy("keys", pod_folder, "--limit", "zero")
    assert result.returncode == 2 and "positive integer" in result.stderr


# -- export and import ----------------------------------------------------------------


def test_export_writes_json_lines_and_import_reads_them_back(pod_folder, tmp_path):
    result = tastypy("export", pod_folder)
    assert [json.loads(line) for line in result.stdout.splitlines()][2] == {"key": ["site", 3], "value": [1, 2]}
    dump = tmp_path / "dump.jsonl"
    assert tastypy("export", pod_folder, "-o", dump).returncode == 0
    assert dump.read_text(encoding="utf-8") == result.stdout
    copy = tmp_path / "copy"
    result = tastypy("import", copy, dump)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"imported 4 entries into {copy} (4 new, 0 replaced)\n"
    assert fresh_items(copy) == PAIRS


def test_export_into_a_pipe_closed_early_stops_quietly(tmp_path):
    with POD(tmp_path / "big", ((n, "x" * 100) for n in range(5000))):
        pass
    export = subprocess.Popen(command("export", tmp_path / "big"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=child_env())
    try:
        assert export.stdout.readline() == b'{"key": 0, "value": "' + b"x" * 100 + b'"}\n'
        export.stdout.close()  # like `| head -1`
        assert export.wait(timeout=CHILD_TIMEOUT) == 141
        assert export.stderr.read() == b""
    finally:
        export.kill()
        export.wait(timeout=CHILD_TIMEOUT)
        export.stderr.close()


def test_import_from_stdin_replaces_and_adds(pod_folder):
    lines = '{"key": "a", "value": 2}\n\n{"key": ["new", 1], "value": "n"}\n'
    result = tastypy("import", pod_folder, "-", input=lines)
    assert result.stdout.endswith("(1 new, 1 replaced)\n"), result.stderr
    assert fresh_items(pod_folder) == [("a", 2), *PAIRS[1:], (("new", 1), "n")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"key": "b", "value": ', "line 2: not valid JSON"),
        ('["b", 1]', 'line 2: expected {"key": ..., "value": ...}'),
        ('{"key": "b"}', "line 2: expected"),
        ('{"key": 1.5, "value": 1}', "line 2: the key 1.5 is not a string"),
        ('{"key": "b", "value": ' + "[" * 100_000 + "]" * 100_000 + "}", "line 2: nested too deeply"),
        ('{"key": "b", "value": "\\ud800"}', "line 2: a string holds a lone surrogate"),
        ('{"key": "\\udfff", "value": 1}', "line 2: a string holds a lone surrogate"),
    ],
)
def test_import_of_a_bad_line_changes_nothing(pod_folder, tmp_path, line, message):
    source = tmp_path / "in.jsonl"
    source.write_text('{"key": "a", "value": 99}\n' + line + "\n")
    error = one_error_line(tastypy("import", pod_folder, source))
    assert message in error and "nothing was imported" in error
    assert fresh_items(pod_folder) == PAIRS


def test_import_refuses_a_folder_held_by_a_writer(pod_folder, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"key": "a", "value": 99}\n')
    child = holding_writer(pod_folder)
    try:
        error = one_error_line(tastypy("import", pod_folder, source))
    finally:
        release(child)
    assert error == (
        f"tastypy import: {pod_folder} is held by a writer (process {child.pid}):"
        " stop it first; nothing was imported"
    )
    assert fresh_items(pod_folder) == PAIRS


def test_import_refuses_a_folder_that_is_not_tastypy(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff")
    (tmp_path / "in.jsonl").write_text('{"key": "a", "value": 1}\n')
    assert "not a tastypy folder" in one_error_line(tastypy("import", tmp_path / "photos", tmp_path / "in.jsonl"))
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["cat.jpg"]


def test_import_of_a_missing_file_is_one_error_line(tmp_path):
    assert "No such file" in one_error_line(tastypy("import", tmp_path / "new", tmp_path / "nope.jsonl"))


# -- check ---------------------------------------------------------------------------------

GOOD = '"a"\t1\n"b"\t2\n'


def test_check_of_a_sound_folder(pod_folder):
    result = tastypy("check", pod_folder)
    assert (result.returncode, result.stdout) == (0, f"{pod_folder}: sound, 4 entries in 2 shards\n")


def test_check_of_a_sound_legacy_folder(tmp_path):
    folder = write_folder(tmp_path / "old", {"0.json": GOOD, "1.json": '"c"\t3\n'})
    result = tastypy("check", folder)
    assert result.stdout == f"{folder}: sound, 3 entries in 2 shards\n"
    assert sorted(p.name for p in folder.iterdir()) == ["0.json", "1.json"]  # read-only


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0.json": '"a"\t1\n"b"\t2'}, "0.json line 2: last line has no newline"),
        ({"0.json": '"a"\t1\n"b"\n'}, "0.json line 2: truncated line"),
        ({"0.json": '"a"\t1\n"b"\t{"x": \n'}, "0.json line 2: the value"),
        ({"0.json": '"a"\t1\nb\t2\n'}, "0.json line 2: the key 'b' is not valid JSON"),
        ({"0.json": b'"a"\t1\n"b"\t"\xff"\n'}, "0.json line 2: bytes that are not UTF-8"),
        ({"0.json": GOOD, "1.json": '"a"\t3\n'}, '1.json line 1: the key "a" appears a second time'),
        ({"0.json": GOOD, "2.json": '"c"\t3\n'}, "1.json: missing, yet shards up to 2 exist"),
        ({"0.json.gz": GOOD}, "0.json.gz: not a valid gzip file"),
        ({"tastypy.manifest.json": '{"format": 1, "shards": ['}, "the manifest is not JSON"),
    ],
)
def test_check_reports_each_kind_of_damage(tmp_path, files, message):
    folder = write_folder(tmp_path / "bad", files)
    error = one_error_line(tastypy("check", folder))
    assert error.startswith(f"tastypy check: {folder}/") and message in error


def journaled(folder):
    """A folder with shards and a journal of two commits."""
    store = Store(folder, file_size=2)
    store.commit([("a", "1"), ("b", "2"), ("c", "3")])
    store.commit([("a", "10")])
    store.commit([("d", "4")])
    store.close()
    return json.loads((folder / "tastypy.manifest.json").read_text())


def test_check_reports_a_missing_shard(tmp_path):
    folder = tmp_path / "w"
    shard = journaled(folder)["shards"][1]
    (folder / shard).unlink()
    assert f"{shard}: missing, yet tastypy.manifest.json lists it" in one_error_line(tastypy("check", folder))


def test_check_reports_a_damaged_journal(tmp_path):
    folder = tmp_path / "w"
    journal = folder / journaled(folder)["journal"]
    journal.write_bytes(journal.read_bytes().replace(b'"a"\t10', b'"a"\t99'))
    error = one_error_line(tastypy("check", folder))
    assert f"{journal.name} line 1: a commit that does not match its record" in error


# -- compact -------------------------------------------------------------------------------


def test_compact_folds_the_journal_into_shards(tmp_path):
    folder = tmp_path / "w"
    journaled(folder)
    result = tastypy("compact", folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{folder}: compacted, ")
    manifest = json.loads((folder / "tastypy.manifest.json").read_text())
    assert (folder / manifest["journal"]).stat().st_size == 0
    assert fresh_items(folder) == [("a", 10), ("b", 2), ("c", 3), ("d", 4)]
    assert tastypy("compact", folder).stdout.startswith(f"{folder}: nothing to compact")


def test_compact_refuses_a_folder_held_by_a_writer(pod_folder):
    child = holding_writer(pod_folder)
    try:
        error = one_error_line(tastypy("compact", pod_folder))
    finally:
        release(child)
    assert f"held by a writer (process {child.pid})" in error


# -- the same mistakes, every subcommand -----------------------------------------------------

READERS = [["info"], ["get", "a"], ["keys"], ["export"], ["check"], ["progress"], ["compact"]]


@pytest.mark.parametrize("argv", READERS, ids=lambda argv: argv[0])
def test_a_missing_folder_is_one_error_line(tmp_path, argv):
    folder = tmp_path / "nowhere"
    error = one_error_line(tastypy(argv[0], folder, *argv[1:]))
    assert error == f"tastypy {argv[0]}: {folder}: no such folder"
    assert not folder.exists()


@pytest.mark.parametrize("argv", READERS, ids=lambda argv: argv[0])
def test_a_folder_that_is_not_a_pod_is_one_error_line(tmp_path, argv):
    folder = write_folder(tmp_path / "photos", {"cat.jpg": b"\xff"})
    error = one_error_line(tastypy(argv[0], folder, *argv[1:]))
    assert error.startswith(f"tastypy {argv[0]}: {folder} is not a tastypy folder")
    assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg"]


@pytest.mark.parametrize("argv", READERS, ids=lambda argv: argv[0])
def test_a_file_is_one_error_line(tmp_path, argv):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert "is a file, not a tastypy folder" in one_error_line(tastypy(argv[0], path, *argv[1:]))


@pytest.mark.parametrize("argv", READERS, ids=lambda argv: argv[0])
def test_a_damaged_folder_is_one_error_line(tmp_path, argv):
    folder = write_folder(tmp_path / "bad", {"0.json": '"a"\t{oops\n'})
    error = one_error_line(tastypy(argv[0], folder, *argv[1:]))
    assert f"{folder}/0.json line 1: the value" in error and "restore it from a backup" in error
    assert sorted(p.name for p in folder.iterdir()) == ["0.json"]


def test_no_subcommand_is_a_usage_error():
    result = tastypy()
    assert result.returncode == 2 and "COMMAND" in result.stderr


def test_info_on_a_manifest_with_a_bad_sync_time_is_one_error_line(pod_folder):
    manifest = pod_folder / "tastypy.manifest.json"
    before = manifest.read_text()
    body = before.replace('"synced":', '"synced":1e300,"was":', 1).rsplit(',"crc32":', 1)[0]
    # Its checksum made to match: the edit a person who knows the format makes.
    manifest.write_text(f'{body},"crc32":{zlib.crc32(body.encode())}}}\n')
    damaged = manifest.read_text()
    error = one_error_line(tastypy("info", pod_folder))
    assert error.startswith(f"tastypy info: {pod_folder}")
    assert "1e+300" in error and "damaged" in error
    assert manifest.read_text() == damaged


@pytest.mark.parametrize("command_name", ["info", "progress"])
def test_a_damaged_task_record_is_one_error_line(tmp_path, command_name):
    folder = write_folder(
        tmp_path / "t", {"0.json": '"a"\t' + json.dumps(record()) + '\n"b"\t' + json.dumps(record(tries="x")) + "\n"}
    )
    error = one_error_line(tastypy(command_name, folder))
    assert f"tastypy {command_name}: {folder}: key 'b' has a bad field" in error
    assert "_tries" in error


# -- URL#NAME: a RedisPOD or RedisTracker where a folder is taken ------------------


def test_redis_targets_round_trip_through_export_and_import(tmp_path, redis_url):
    folder = tmp_path / "src"
    with POD(folder) as pod:
        pod.update(PAIRS)
    exported = tastypy("export", folder)
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "x.jsonl").write_text(exported.stdout)
    target = f"{redis_url}#crawl"
    result = tastypy("import", target, tmp_path / "x.jsonl")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"imported {len(PAIRS)} entries into {target} ({len(PAIRS)} new, 0 replaced)\n"
    assert tastypy("export", target).stdout == exported.stdout  # same text, same order
    assert tastypy("keys", target, "--limit", 2).stdout.splitlines() == ['"a"', "3"]
    assert json.loads(tastypy("get", target, '["site", 3]').stdout) == [1, 2]
    info = tastypy("info", target).stdout.splitlines()
    assert info == [f"redis:     {target}", "kind:      POD", f"entries:   {len(PAIRS)}"]
    from tastypy import RedisPOD

    assert list(RedisPOD(redis_url, "crawl").items()) == [(k, json.loads(json.dumps(v))) for k, v in PAIRS]


def test_redis_tracker_info_and_progress(redis_url):
    from tastypy import RedisTracker

    tracker = RedisTracker(redis_url, "jobs", init={k: {} for k in "abcd"})
    tracker.mark_done("a")
    tracker.abort("b")
    target = f"{redis_url}#jobs"
    info = tastypy("info", target).stdout.splitlines()
    assert info[1] == "kind:      Tracker" and info[3] == "done:      1 of 4"
    progress = tastypy("progress", target)
    assert progress.returncode == 0, progress.stderr
    assert "done               1   25.00 %" in progress.stdout and "todo               2" in progress.stdout
    tracker.mark_done("c")
    tracker.mark_done("d")
    watched = tastypy("progress", target, "--watch", "--every", 0.1)
    assert watched.returncode == 0 and "done               3" in watched.stdout, watched.stderr


def test_redis_target_mistakes_are_one_line(redis_url):
    from tastypy import RedisPOD

    RedisPOD(redis_url, "p", init={"a": 1})
    line = one_error_line(tastypy("get", f"{redis_url}#p", "zz"))
    assert line == f"tastypy get: {redis_url}#p has no key \"zz\""
    line = one_error_line(tastypy("check", f"{redis_url}#p"))
    assert "check works on folders" in line
    line = one_error_line(tastypy("progress", f"{redis_url}#p"))
    assert "is not a tracker" in line
    line = one_error_line(tastypy("keys", f"{redis_url}#a{{b"))
    assert "name" in line
    line = one_error_line(tastypy("info", "redis://:hunter2@127.0.0.1:1/0#p"))
    assert line.startswith("tastypy info: cannot use Redis at redis://:***@127.0.0.1:1/0#p")
    assert "hunter2" not in line


def _without_redis_py(*args: object) -> subprocess.CompletedProcess:
    """``python -m tastypy ARGS`` as on a machine where redis-py is not installed."""
    code = (
        "import runpy, sys; sys.modules['redis'] = None; sys.argv[0] = 'tastypy';"
        " runpy.run_module('tastypy', run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
        timeout=CHILD_TIMEOUT, env=child_env(), check=False,
    )


def test_the_command_line_works_without_redis_py(tmp_path):
    # `pip install '.[cli]' && python -m tastypy demo` has no redis-py.
    folder = write_folder(tmp_path / "f", {"0.json": '"a"\t1\n'})
    result = _without_redis_py("info", folder)
    assert result.returncode == 0, result.stderr
    assert "entries:   1" in result.stdout


def test_a_redis_target_without_redis_py_says_what_to_install(tmp_path):
    result = _without_redis_py("info", "redis://localhost:6379/0#crawl")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "tastypy info: tastypy.RedisPOD needs redis-py, which is not installed: pip install redis hiredis (tastypy's [redis] extra)"
    ]



def test_the_demo_help_states_the_real_defaults():
    from tastypy.cli import build_parser

    defaults = build_parser().parse_args(["demo"])
    text = " ".join(tastypy("demo", "--help").stdout.split())
    stated = re.findall(r"--([\w-]+) [A-Z_]+ [^()]*\((\d[\d.]*)\)", text)
    assert {option for option, _ in stated} >= {"pages", "workers", "fail-rate", "seed"}, text
    for option, value in stated:
        assert float(value) == getattr(defaults, option.replace("-", "_")), (option, value)
