"""``tastypy import --from sqlitedict|shelve``: the real command in a child process."""

from __future__ import annotations

import shelve
from pathlib import Path

import sqlitedict
from cli_helpers import one_error_line, tastypy
from cli_helpers import tastypy as tastypy_command
from helpers import fresh_items


def test_import_from_a_shelf_lists_what_is_not_json_data_and_exits_1(tmp_path: Path) -> None:
    with shelve.open(str(tmp_path / "old.shelf")) as old:
        old["a"] = {"tries": 2}
        old["b"] = {"seen": {1, 2}}
    result = tastypy("import", tmp_path / "new.pod", "--from", "shelve", tmp_path / "old.shelf")
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "tastypy import: key 'b': value at ['b']['seen']: set is not JSON data;"
        " use dict, list, tuple, str, int, float, bool or None\n"
    )
    assert fresh_items(tmp_path / "new.pod") == [("a", {"tries": 2})]


def test_import_from_a_sqlitedict_table_exits_0_when_all_is_copied(tmp_path: Path) -> None:
    with sqlitedict.SqliteDict(str(tmp_path / "old.sqlite"), tablename="pages", autocommit=True) as old:
        old["z"] = [1]
        old["a"] = "x"
    result = tastypy("import", tmp_path / "new.pod", "--from", "sqlitedict", tmp_path / "old.sqlite",
                     "--table", "pages")
    assert (result.returncode, result.stderr) == (0, "")
    assert fresh_items(tmp_path / "new.pod") == [("z", [1]), ("a", "x")]


def test_import_from_a_missing_file_names_it_and_creates_nothing(tmp_path: Path) -> None:
    error = one_error_line(tastypy("import", tmp_path / "new.pod", "--from", "sqlitedict", tmp_path / "old"))
    assert error == f"tastypy import: {tmp_path / 'old'}: no such sqlitedict file"
    assert list(tmp_path.iterdir()) == []


def test_import_help_says_only_files_you_trust() -> None:
    assert "only files you trust" in " ".join(tastypy("import", "-h").stdout.split())


def test_table_without_from_sqlitedict_is_refused(tmp_path: Path) -> None:
    error = one_error_line(tastypy("import", tmp_path / "new.pod", "x.jsonl", "--table", "pages"))
    assert "use it with --from sqlitedict" in error
    assert list(tmp_path.iterdir()) == []


def test_version_is_the_package_version() -> None:
    import tastypy

    result = tastypy_command("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"tastypy {tastypy.__version__}")
