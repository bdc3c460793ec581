"""Importing shelve and sqlitedict files: JSON data is copied, the rest is listed."""

from __future__ import annotations

import dbm
import shelve
import sys
from pathlib import Path
from unittest import mock

import pytest
import sqlitedict
from helpers import fresh_items

from tastypy import POD
from tastypy.migrate import Skipped, SourceError, copy_from, skipped_lines
from tastypy.store import Store

# In order that is not sorted, with every JSON type, nested.
JSONABLE = [
    ("zeta", {"tries": 2, "tags": ["x", "y"], "ok": True, "note": None}),
    ("alpha", [1, 2.5, "é", [False]]),
    ("mid", 7),
    ("/page/17", "text"),
]
SET_REASON = "set is not JSON data; use dict, list, tuple, str, int, float, bool or None"
# A pickle of a class whose module is gone (protocol 0: GLOBAL, STOP).
GONE_CLASS = b"cgone_module_of_old_program\nGone\n."


def make_sqlitedict(path: Path, items: list, table: str = "unnamed") -> Path:
    with sqlitedict.SqliteDict(str(path), tablename=table, autocommit=True) as db:
        for key, value in items:
            db[key] = value
    return path


def make_shelf(path: Path, items: list) -> Path:
    with shelve.open(str(path)) as shelf:
        for key, value in items:
            shelf[key] = value
    return path


def shelf_order(path: Path) -> list:
    with shelve.open(str(path), flag="r") as shelf:
        return list(shelf)


# -- JSON data is copied -----------------------------------------------------


def test_sqlitedict_values_are_copied_in_order_with_their_types(tmp_path: Path) -> None:
    source = make_sqlitedict(tmp_path / "old.sqlite", JSONABLE)
    assert copy_from("sqlitedict", source, tmp_path / "new.pod") == []
    assert fresh_items(tmp_path / "new.pod") == JSONABLE


def test_shelve_values_are_copied_in_the_shelfs_order(tmp_path: Path) -> None:
    source = make_shelf(tmp_path / "old.shelf", JSONABLE)
    assert copy_from("shelve", source, tmp_path / "new.pod") == []
    expected = dict(JSONABLE)
    assert fresh_items(tmp_path / "new.pod") == [(key, expected[key]) for key in shelf_order(source)]


def test_a_shelf_is_found_with_or_without_its_dbm_suffix(tmp_path: Path) -> None:
    source = make_shelf(tmp_path / "old.shelf", JSONABLE)
    suffixed = [p for p in tmp_path.iterdir() if p.name != "old.shelf"]
    assert suffixed, "the dbm module adds a suffix to the shelf's files"
    for n, path in enumerate(suffixed):
        assert copy_from("shelve", path, tmp_path / f"new{n}.pod") == []
        assert dict(fresh_items(tmp_path / f"new{n}.pod")) == dict(JSONABLE)
    assert shelf_order(source)  # still readable: read-only, never rewritten


def test_tuples_are_stored_as_lists_as_any_assignment_does(tmp_path: Path) -> None:
    source = make_shelf(tmp_path / "old.shelf", [("t", (1, ("a", 2)))])
    copy_from("shelve", source, tmp_path / "new.pod")
    assert fresh_items(tmp_path / "new.pod") == [("t", [1, ["a", 2]])]


def test_the_pods_other_entries_stay_and_common_keys_are_replaced(tmp_path: Path) -> None:
    source = make_sqlitedict(tmp_path / "old.sqlite", [("alpha", "new"), ("fresh", 1)])
    with POD(tmp_path / "new.pod") as pod:
        pod["keep"] = {"n": 1}
        pod["alpha"] = "old"
        pod[("site", 3)] = 3
    copy_from("sqlitedict", source, tmp_path / "new.pod")
    assert fresh_items(tmp_path / "new.pod") == [
        ("keep", {"n": 1}),
        ("alpha", "new"),  # replaced where it was, as dict assignment does
        (("site", 3), 3),
        ("fresh", 1),
    ]


def test_an_open_pod_is_copied_into_in_one_sync_and_stays_open(tmp_path: Path) -> None:
    source = make_sqlitedict(tmp_path / "old.sqlite", JSONABLE)
    with POD(tmp_path / "new.pod", sync_at=1) as pod:
        with mock.patch.object(Store, "commit", autospec=True, side_effect=Store.commit) as commit:
            copy_from("sqlitedict", source, pod)
        assert commit.call_count == 1  # all or nothing, even with sync_at=1
        assert pod.dirty() == set()
        pod["after"] = 1  # automatic syncs resumed: sync_at=1 writes it now
        assert ("after", 1) in fresh_items(tmp_path / "new.pod")


def test_the_sqlitedict_table_is_chosen_by_name(tmp_path: Path) -> None:
    source = make_sqlitedict(tmp_path / "old.sqlite", [("a", "default table")])
    make_sqlitedict(source, [("b", "pages table")], table="pages")
    copy_from("sqlitedict", source, tmp_path / "pages.pod", table="pages")
    assert fresh_items(tmp_path / "pages.pod") == [("b", "pages table")]
    copy_from("sqlitedict", source, tmp_path / "default.pod")
    assert fresh_items(tmp_path / "default.pod") == [("a", "default table")]


# -- what is not JSON data is listed, not copied --------------------------------


@pytest.mark.parametrize("kind", ["sqlitedict", "shelve"])
def test_values_that_are_not_json_data_are_listed_and_not_copied(tmp_path: Path, kind: str) -> None:
    items = [
        ("a", {"tries": 2}),
        ("b", {"seen": {1, 2}}),
        ("c", b"bytes"),
        ("d", float("nan")),
        ("e", "fine"),
    ]
    make = make_sqlitedict if kind == "sqlitedict" else make_shelf
    source = make(tmp_path / "old", items)
    skipped = copy_from(kind, source, tmp_path / "new.pod")
    assert sorted(entry.key for entry in skipped) == ["b", "c", "d"]
    reasons = dict(skipped)
    assert reasons["b"] == f"value at ['b']['seen']: {SET_REASON}"
    assert "bytes" in reasons["c"]
    assert "nan" in reasons["d"]
    assert dict(fresh_items(tmp_path / "new.pod")) == {"a": {"tries": 2}, "e": "fine"}


def test_values_that_do_not_unpickle_are_listed_and_the_rest_copied(tmp_path: Path) -> None:
    source = tmp_path / "old.sqlite"
    with sqlitedict.SqliteDict(str(source), autocommit=True, encode=sqlitedict.identity) as raw:
        raw["before"] = sqlitedict.encode(1)
        raw["gone"] = GONE_CLASS
        raw["garbage"] = b"\x00not a pickle"
        raw["after"] = sqlitedict.encode(2)
    skipped = copy_from("sqlitedict", source, tmp_path / "new.pod")
    assert [entry.key for entry in skipped] == ["gone", "garbage"]
    assert skipped[0].reason.startswith("cannot unpickle the value (ModuleNotFoundError: ")
    assert "gone_module_of_old_program" in skipped[0].reason
    assert fresh_items(tmp_path / "new.pod") == [("before", 1), ("after", 2)]


def test_shelf_values_that_do_not_unpickle_are_listed(tmp_path: Path) -> None:
    source = make_shelf(tmp_path / "old.shelf", [("before", 1)])
    with dbm.open(str(source), "w") as raw:
        raw[b"gone"] = GONE_CLASS
    skipped = copy_from("shelve", source, tmp_path / "new.pod")
    assert [entry.key for entry in skipped] == ["gone"]
    assert "ModuleNotFoundError" in skipped[0].reason
    assert fresh_items(tmp_path / "new.pod") == [("before", 1)]


def test_skipped_lines_name_each_key_and_reason() -> None:
    skipped = [Skipped("b", f"value at ['b']['seen']: {SET_REASON}"), Skipped(3, "cannot unpickle")]
    assert skipped_lines(skipped) == [
        f"key 'b': value at ['b']['seen']: {SET_REASON}",
        "key 3: cannot unpickle",
    ]


# -- bad input: a clear error, nothing created ----------------------------------------


@pytest.mark.parametrize("kind", ["sqlitedict", "shelve"])
def test_a_missing_file_is_named_and_nothing_is_created(tmp_path: Path, kind: str) -> None:
    with pytest.raises(FileNotFoundError, match=rf"old\.file: no such {kind} file"):
        copy_from(kind, tmp_path / "old.file", tmp_path / "new.pod")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["sqlitedict", "shelve"])
def test_a_file_of_another_kind_is_refused_and_nothing_is_created(tmp_path: Path, kind: str) -> None:
    other = tmp_path / "old.txt"
    other.write_text("just text, long enough to have a header\n" * 20)
    with pytest.raises(SourceError, match=rf"old\.txt .*not a {kind} file"):
        copy_from(kind, other, tmp_path / "new.pod")
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


def test_a_missing_sqlitedict_table_is_named_with_the_tables_there(tmp_path: Path) -> None:
    source = make_sqlitedict(tmp_path / "old.sqlite", [("a", 1)])
    with pytest.raises(SourceError, match=r"old\.sqlite has no table 'pages'; its tables: 'unnamed'"):
        copy_from("sqlitedict", source, tmp_path / "new.pod", table="pages")
    assert not (tmp_path / "new.pod").exists()
    assert sqlitedict.SqliteDict.get_tablenames(str(source)) == ["unnamed"]


def test_without_sqlitedict_installed_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    source = make_sqlitedict(tmp_path / "old.sqlite", [("a", 1)])
    missing = mock.patch.dict(sys.modules, {"sqlitedict": None})  # import sqlitedict raises ImportError
    with missing, pytest.raises(SourceError, match="pip install sqlitedict"):
        copy_from("sqlitedict", source, tmp_path / "new.pod")
    assert not (tmp_path / "new.pod").exists()


def test_an_unknown_kind_or_a_table_for_a_shelf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of 'sqlitedict', 'shelve', not 'pickle'"):
        copy_from("pickle", tmp_path / "old", tmp_path / "new.pod")
    with pytest.raises(ValueError, match="a shelve has none"):
        copy_from("shelve", tmp_path / "old", tmp_path / "new.pod", table="pages")
    assert list(tmp_path.iterdir()) == []
