"""The API reference is complete: every public method of every exported class is in it.

``docs/api.rst`` documents the classes with their inherited members; a
method that lacks a docstring, or a class left out of the page, would be
missing from the built site without a warning. So one test builds the site
(in a temporary folder) and reads its inventory (``objects.inv``, what
Sphinx lists as documented). It needs the docs extra (``pip install -e
'.[docs]'``) and skips without Sphinx; CI runs it after installing that
extra. The other tests read the docstrings themselves and need nothing.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import tastypy
import tastypy.migrate

ROOT = Path(__file__).resolve().parent.parent
#: Seconds the documentation build may take.
BUILD_TIMEOUT = 300

#: Internal names of the code's layers, which mean nothing to a reader of the reference.
INTERNAL_WORDS = re.compile(r"\b(face|faces|host|hosts|link|links)\b", re.IGNORECASE)


def exported_classes() -> dict[type, str]:
    """Each class importable from ``tastypy`` (and ``tastypy.migrate``), once, by the name documented."""
    found: dict[type, str] = {}
    names = [f"tastypy.{n}" for n in tastypy.__all__] + [f"tastypy.migrate.{n}" for n in ("Skipped", "SourceError")]
    for name in names:
        obj = tastypy
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
        if inspect.isclass(obj):
            module = name.rpartition(".")[0]
            found.setdefault(obj, f"{module}.{obj.__name__}")
    return found


def public_members(cls: type) -> list[str]:
    """What a user may call or read on ``cls``, besides what every ``dict`` or exception has."""
    members = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k))
        if owner.__module__ != "builtins":
            members.append(name)
    return members


def python_objects(inventory: Path) -> set[str]:
    """The Python objects a Sphinx inventory (version 2) lists as documented."""
    header, _, body = inventory.read_bytes().partition(b"zlib.\n")
    assert header.startswith(b"# Sphinx inventory version 2"), header[:40]
    names = set()
    for line in zlib.decompress(body).decode().splitlines():
        name, kind = line.split(" ", 2)[:2]
        if kind.startswith("py:"):
            names.add(name)
    return names


CLASSES = exported_classes()


def test_the_exported_classes_are_the_ones_expected():
    # A new exported class must get a section of docs/api.rst: this list says which exist.
    assert set(CLASSES.values()) >= {
        "tastypy.PersistentOrderedDict", "tastypy.ProgressTracker", "tastypy.SharedPersistentOrderedDict",
        "tastypy.SharedProgressTracker", "tastypy.RedisPersistentOrderedDict", "tastypy.RedisProgressTracker",
        "tastypy.TaskRecord", "tastypy.IntegrityError", "tastypy.migrate.Skipped",
    }


@pytest.mark.parametrize("cls", list(CLASSES), ids=lambda cls: cls.__name__)
def test_every_constructor_parameter_is_documented(cls):
    if not inspect.isfunction(cls.__init__) or cls.__module__.startswith("tastypy.errors"):
        return  # exceptions and NamedTuples take what their docstring says
    doc = inspect.getdoc(cls) or ""
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    missing = [p for p in params if f":param {p}:" not in doc]
    assert not missing, f"{cls.__name__}'s docstring does not document {missing}"


@pytest.mark.parametrize("cls", list(CLASSES), ids=lambda cls: cls.__name__)
def test_public_docstrings_use_no_internal_words(cls):
    texts = {cls.__name__: inspect.getdoc(cls) or ""}
    for name in public_members(cls):
        texts[f"{cls.__name__}.{name}"] = inspect.getdoc(getattr(cls, name)) or ""
    for where, text in texts.items():
        text = re.sub(r"\S+://\S*", "", text)  # redis://host:6379 is a URL, not a word
        found = INTERNAL_WORDS.search(text)
        assert found is None, f"{where}: {found.group()!r} in {text!r}"


def test_every_public_member_of_every_exported_class_is_in_the_built_reference(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")
    out = tmp_path / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )
    assert build.returncode == 0, build.stderr
    documented = python_objects(out / "objects.inv")
    missing = []
    for cls, name in CLASSES.items():
        if name not in documented:
            missing.append(name)
            continue
        missing += [f"{name}.{m}" for m in public_members(cls) if f"{name}.{m}" not in documented]
    assert not missing, f"not in docs/api.rst's built page: {missing}"
