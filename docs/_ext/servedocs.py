"""``.. serve-screenshot::``: a picture of ``tastypy serve``'s page, taken at build time.

When an HTML build starts, a small crawl runs in a process of its own
(2,000 pages, some failing), ``tastypy serve``'s server watches its folder,
and Debian's chromium, driven by Selenium through chromedriver (no download),
takes a picture of the page after a few seconds. Nothing in the picture is
made up: it is the page as it was at that moment.

Without chromium, chromedriver or selenium the directive says so in a
sentence instead of an image (no warning: the docs build with ``-W``); the
reason is logged at info level.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
OUT = "_generated/serve"
NAME = "page.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1200,1180", "--hide-scrollbars",
)
#: Seconds the crawl runs before the picture (and at most, bounded by its own limit).
WATCH = 12
_logger = logging.getLogger(__name__)

_CRAWL = """
import random, sys, time
import tastypy
rng = random.Random(24)
ends = time.monotonic() + {limit}
with tastypy.Tracker(sys.argv[1], max_tries=3) as tracker:
    tracker.add_many_if_absent(f"/page/{{n}}" for n in range(2000))
    tracker.sync()
    print("ready", flush=True)
    for key in tracker.try_keys():
        if time.monotonic() > ends:
            break
        time.sleep(0.01)
        if rng.random() < 0.08:
            now = time.time()
            kind = rng.choice(["TimeoutError", "TimeoutError", "ConnectionResetError", "HTTPError"])
            error = {{"type": kind, "message": "simulated", "at": now, "traceback": ""}}
            tracker.update({{key: {{"_error": error, "_retry_at": now + 300}}}})
        else:
            tracker.update({{key: {{"title": "Page " + key.rsplit("/", 1)[1], "links": rng.randrange(2, 9)}}}})
            tracker.mark_done(key)
"""


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"{path} is not installed"
    return None


def take(out: Path) -> None:
    """Run the crawl, serve it, and save the page's picture to ``out``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    sys.path.insert(0, str(ROOT))
    from tastypy.serve.server import Server
    from tastypy.serve.watch import FolderWatch

    work = Path(tempfile.mkdtemp(prefix="tastypy-serve-shot-"))
    crawl = subprocess.Popen(
        [sys.executable, "-c", _CRAWL.format(limit=WATCH + 60), str(work / "crawl")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    driver = None
    try:
        if crawl.stdout.readline().strip() != "ready":
            raise RuntimeError("the crawl did not start")
        with Server(FolderWatch(work / "crawl"), every=0.5) as server:
            options = webdriver.ChromeOptions()
            options.binary_location = str(CHROMIUM)
            for flag in (*FLAGS, f"--user-data-dir={work / 'profile'}"):
                options.add_argument(flag)
            driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
            driver.set_page_load_timeout(30)
            driver.get(server.url)
            time.sleep(WATCH)
            driver.execute_script("document.querySelector('#failures a.key').click()")  # rows are redrawn
            driver.find_element("id", "keys-state").send_keys("failed")
            driver.find_element("id", "keys-go").click()
            time.sleep(1.5)
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
    finally:
        if driver is not None:
            driver.quit()
        if crawl.poll() is None:
            crawl.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                crawl.wait(timeout=30)
            if crawl.poll() is None:
                crawl.kill()
                crawl.wait(timeout=30)
        crawl.stdout.close()
        shutil.rmtree(work, ignore_errors=True)


def make_screenshot(app) -> None:
    if app.builder.name not in ("html", "dirhtml", "singlehtml"):
        return
    out = Path(app.srcdir) / OUT / NAME
    inputs = max(Path(__file__).stat().st_mtime, (ROOT / "tastypy" / "serve" / "page.html").stat().st_mtime)
    if out.exists() and out.stat().st_mtime > inputs:
        return
    missing = _missing()
    if missing:
        _logger.info("serve-screenshot: none taken, %s", missing)
        return
    try:
        take(out)
    except Exception as exc:  # noqa: BLE001 (a sentence instead of the picture; the browser tests catch bugs)
        out.unlink(missing_ok=True)
        _logger.info("serve-screenshot: none taken, %s: %s", type(exc).__name__, exc)


class ServeScreenshot(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        out = Path(self.env.srcdir) / OUT / NAME
        if not out.exists():
            text = "(No picture of the page here: chromium was not available when these docs were built.)"
            return [nodes.paragraph(text=text)]
        text = [f".. image:: /{OUT}/{NAME}", "   :alt: tastypy serve's page watching a crawl", ""]
        container = nodes.container()
        self.state.nested_parse(StringList(text), self.content_offset, container)
        return list(container.children)


def setup(app):
    app.add_directive("serve-screenshot", ServeScreenshot)
    app.connect("builder-inited", make_screenshot)
    return {"parallel_read_safe": True}
