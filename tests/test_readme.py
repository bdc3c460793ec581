"""The README's examples run, its links lead somewhere, and it renders on PyPI.

The ``>>>`` examples run with doctest in a fresh temporary folder, as a
reader would paste them; the first screen's commands are the ones the demo
and the test suite answer to.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.rst"


def test_the_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = README.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "README.rst", str(README), 0)
    assert test.examples, "the README lost its examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)


def test_the_first_screen_commands_are_there():
    text = README.read_text(encoding="utf-8")
    first_screen = text[: text.index("The POD in five lines")]
    assert "pip install '.[cli]' && python -m tastypy demo" in first_screen
    assert "pip install -e '.[test]' && python -m pytest" in first_screen


def test_every_link_into_the_docs_leads_to_a_page():
    targets = re.findall(r"^\.\. _[^:]+: (\S+)$", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert targets
    for target in targets:
        assert (ROOT / target).is_file(), target


def test_it_renders_without_warnings():
    docutils_core = pytest.importorskip("docutils.core")
    docutils_core.publish_doctree(
        README.read_text(encoding="utf-8"),
        source_path=str(README),
        settings_overrides={"halt_level": 2, "report_level": 2},
    )


def test_every_test_the_guarantees_page_names_exists():
    # The README's first screen points to this table for the test behind each claim.
    text = (ROOT / "docs" / "guarantees.rst").read_text(encoding="utf-8")
    table = text[text.index("In short") : text.index("Durability\n==========")]
    named = 0
    for row in table.split("   * - ")[2:]:
        for file, tests in re.findall(r"``(test_\w+\.py)``:((?:\s*``test_\w+``[^;]*)+)", row):
            source = (ROOT / "tests" / file).read_text(encoding="utf-8")
            for test in re.findall(r"``(test_\w+)``", tests):
                assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{file} has no {test}"
                named += 1
    assert named >= 15, named


def test_no_install_line_names_the_unrelated_tastypy_on_pypi():
    # PyPI's "tastypy" is another project (0.0.3, 2017): every install line
    # names a path (a clone's '.', a wheel file) or another package.
    files = [README, *sorted((ROOT / "docs").glob("*.rst")), *sorted((ROOT / "tastypy").rglob("*.py"))]
    lines = 0
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for found in re.finditer(r"pip install ([^`\"\n&;#)]*)", line):
                if line[found.end() :].lstrip("`").startswith((" without a path", " gave version 0.0.3")):
                    continue  # the warnings against it
                lines += 1
                names = [w.strip("'\"") for w in found.group(1).split() if not w.startswith("-")]
                bare = [w for w in names if re.fullmatch(r"tastypy(\[[\w,]*\])?(==.*)?", w)]
                assert not bare, f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
    assert lines >= 10, lines
