"""Sphinx configuration: tastypy's documentation site.

Build:    sphinx-build -W -b html docs docs/_build/html
Examples: sphinx-build -W -b doctest docs docs/_build/doctest
"""

from __future__ import annotations

import atexit
import doctest
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the working tree's tastypy
sys.path.insert(0, str(DOCS / "_ext"))

import tastypy

project = "tastypy"
author = "the tastypy authors"
copyright = "the tastypy authors"
release = version = tastypy.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "benchdocs",
    "clidoc",
    "redisdocs",
    "servedocs",
]

html_theme = "furo"
html_title = "tastypy"
exclude_patterns = ["_build", "_generated", "_inventories", "examples"]
default_role = "code"

# Links into Python's and redis-py's documentation. The build machines have
# no network beyond the package index, so the inventories are not fetched:
# _inventories/*.txt list the objects these pages link to, and become
# objects.inv files here, at build time.
def _inventory(source: Path, project: str) -> str:
    import zlib

    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    header = f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
    header += "# The remainder of this file is compressed using zlib.\n"
    out = Path(tempfile.mkdtemp(prefix="tastypy-inv-")) / "objects.inv"
    atexit.register(shutil.rmtree, out.parent, ignore_errors=True)
    out.write_bytes(header.encode() + zlib.compress("\n".join(lines + [""]).encode()))
    return str(out)


intersphinx_mapping = {
    "python": ("https://docs.python.org/3", _inventory(DOCS / "_inventories" / "python.txt", "Python")),
    "redis": ("https://redis.readthedocs.io/en/stable", _inventory(DOCS / "_inventories" / "redis-py.txt", "redis-py")),
}
intersphinx_disabled_reftypes: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# Every example runs in a folder of its own that the build removes at the
# very end: registered before tastypy's exit hooks, this runs after them, so
# the PODs the examples left open can still sync on the way out.
_SCRATCH = Path(tempfile.mkdtemp(prefix="tastypy-docs-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
doctest_global_setup = f"""
import os, subprocess, sys, tempfile
_docs_cwd = os.getcwd()
os.chdir(tempfile.mkdtemp(dir={str(_SCRATCH)!r}))
EXAMPLES = {str(DOCS / 'examples')!r}
REDIS_URL = os.environ.get('TASTYPY_DOCS_REDIS_URL')  # None: no redis-server here
ENV = dict(os.environ, PYTHONPATH={str(ROOT)!r},
           PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])

def sh(command):
    \"\"\"Run a shell command; print what it wrote.\"\"\"
    done = subprocess.run(command, shell=True, env=ENV, timeout=60,
                          capture_output=True, text=True, check=True)
    print(done.stdout, end='')
"""
# Compare exception messages too: they are part of what the pages teach.
doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1
doctest_global_cleanup = "os.chdir(_docs_cwd)"


def _builtins_are_builtins(app, doctree) -> None:
    """Link a builtin type in a signature (``set[K]``) to Python's, never to a
    member of the same name (``SharedPOD.set``) that a fuzzy search would find."""
    import builtins

    from sphinx.addnodes import pending_xref

    for node in doctree.findall(pending_xref):
        if node.get("refdomain") == "py" and hasattr(builtins, node.get("reftarget", "")):
            node.attributes.pop("refspecific", None)
            node["py:module"] = node["py:class"] = None


# Methods the classes inherit from collections.abc, whose docstrings are
# written for any mapping ("D.keys() -> a set-like object ...").
autodoc_docstring_signature = False
_ABC_DOCS = {
    "Mapping.keys": "A live view of the keys, in insertion order, like ``dict.keys()``.",
    "Mapping.get": "The value of ``key`` if present, else ``default``.",
}


def _abc_docstring(app, what, name, obj, options, lines) -> None:
    text = _ABC_DOCS.get(getattr(obj, "__qualname__", ""))
    if text is not None:
        lines[:] = [text, ""]


def _class_hints_from_init(app, what, name, obj, options, signature, return_annotation) -> None:
    """Type the constructor's parameters from ``__init__``: autodoc reads a
    class's from ``__new__`` when it has one (the POD's takes ``*args``)."""
    import inspect

    from sphinx.ext.autodoc.typehints import record_typehints

    if what != "class" or not inspect.isfunction(getattr(obj, "__init__", None)):
        return
    document = getattr(app.env, "current_document", None)  # Sphinx 8+; temp_data before
    store = getattr(document, "autodoc_annotations", None)
    if store is None:
        store = app.env.temp_data.get("annotations", {})
    store.pop(name, None)
    record_typehints(app, what, name, obj.__init__, options, signature, return_annotation)


def setup(app) -> None:
    app.connect("doctree-read", _builtins_are_builtins)
    app.connect("autodoc-process-docstring", _abc_docstring)
    # After autodoc's own handler (priority 500), which recorded ``__new__``'s.
    app.connect("autodoc-process-signature", _class_hints_from_init, priority=600)
