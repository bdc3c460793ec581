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
    "benchdocs",
    "clidoc",
    "redisdocs",
    "servedocs",
]

html_theme = "furo"
html_title = "tastypy"
exclude_patterns = ["_build", "_generated", "examples"]
default_role = "code"

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
