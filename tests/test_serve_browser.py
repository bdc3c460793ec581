"""The serve page in a real browser: Debian's chromium driven by Selenium through Debian's chromedriver.

Nothing is downloaded: the browser and driver paths are given, and Selenium
Manager (which would fetch a driver) is made to fail if anything calls it.
Without a browser the tests are skipped, except under CI (the variable
``CI`` set), where that is a failure: ``.ci/run`` installs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from serve_helpers import start_crawl, stop, wait_for

from tastypy.serve.server import Server
from tastypy.serve.watch import FolderWatch

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1200,1000",
)

pytestmark = pytest.mark.timeout(180)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def browser(tmp_path, monkeypatch):
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the browser tests: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def no_download(*args, **kwargs):
        raise AssertionError("Selenium Manager was asked for a driver: nothing may be downloaded")

    monkeypatch.setattr(SeleniumManager, "binary_paths", no_download)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            process = getattr(service, "process", None)
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def crawl_served(tmp_path):
    folder = tmp_path / "crawl"
    child = start_crawl(folder, keys=5000, per_second=80, seconds=90)
    try:
        with Server(FolderWatch(folder), every=0.2) as server:
            yield server, child
    finally:
        stop(child)


def number(driver, element_id: str) -> int:
    text = driver.find_element("id", element_id).text
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else -1


def console_errors(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_page_follows_a_running_crawl(browser, crawl_served):
    server, _ = crawl_served
    browser.get(server.url)
    first = wait_for(lambda: number(browser, "done") >= 0 and number(browser, "done"))
    assert number(browser, "total") == 5000
    wait_for(lambda: number(browser, "done") > first + 20, timeout=30)  # the counts rise
    wait_for(lambda: browser.find_elements("css selector", "#plot rect.done"), timeout=30)  # the plot draws
    height = float(browser.find_element("css selector", "#plot rect.done").get_attribute("height"))
    assert height > 0
    wait_for(lambda: browser.find_elements("css selector", "#failures tr[data-type]"), timeout=30)
    # The rows are redrawn when the failures change: read and click one row in one step.
    kind, failed_key = browser.execute_script(
        "const row = document.querySelector('#failures tr[data-type]');"
        "const link = row.querySelector('a.key'); link.click();"
        "return [row.dataset.type, link.textContent];"
    )
    assert kind in ("TimeoutError", "ConnectionError")
    wait_for(lambda: kind in browser.find_element("id", "record").text)  # its record, with its _error
    assert browser.find_element("id", "lookup-key").get_attribute("value") == failed_key

    box = browser.find_element("id", "lookup-key")
    box.clear()
    box.send_keys("/page/0")
    browser.find_element("id", "lookup-go").click()
    wait_for(lambda: '"_tries": 1' in browser.find_element("id", "record").text)

    browser.find_element("id", "keys-state").send_keys("done")
    browser.find_element("id", "keys-go").click()
    wait_for(lambda: browser.find_elements("css selector", "#keys-list li"))
    first_done = browser.find_element("css selector", "#keys-list li").text
    assert first_done.startswith("/page/")
    assert "%" in browser.find_element("id", "percent").text
    assert console_errors(browser) == []


def test_timers_frozen_in_a_background_tab_recover(browser, crawl_served):
    server, _ = crawl_served
    browser.get(server.url)
    wait_for(lambda: number(browser, "done") > 0, timeout=30)

    # Chrome freezes a background tab's timers and tasks: do that, then wake it up.
    browser.execute_cdp_cmd("Page.setWebLifecycleState", {"state": "frozen"})
    time.sleep(3)
    browser.execute_cdp_cmd("Page.setWebLifecycleState", {"state": "active"})
    seen = server.watch.counts(time.time())["done"]
    wait_for(lambda: number(browser, "done") >= seen, timeout=15)

    # A tab in the background, then in front again.
    page = browser.current_window_handle
    browser.switch_to.new_window("tab")
    time.sleep(3)
    browser.close()
    browser.switch_to.window(page)
    seen = server.watch.counts(time.time())["done"]
    wait_for(lambda: number(browser, "done") >= seen, timeout=15)
    assert "unreachable" not in browser.find_element("id", "conn").text
    assert console_errors(browser) == []


def test_the_page_says_so_when_the_server_goes_away_and_comes_back_to_life(browser, tmp_path):
    from test_serve import make_tracker

    folder = tmp_path / "job"
    make_tracker(folder)
    server = Server(FolderWatch(folder), every=0.2)
    with contextlib.closing(server):
        server.start()
        browser.get(server.url)
        wait_for(lambda: number(browser, "total") == 300)
    wait_for(lambda: "unreachable" in browser.find_element("id", "conn").text, timeout=15)


def test_with_allow_write_the_page_unaborts_a_key_with_the_token_of_its_address(browser, tmp_path):
    from test_serve import make_tracker

    folder = tmp_path / "job"
    make_tracker(folder)  # /page/5 is aborted
    with Server(FolderWatch(folder), allow_write=True, every=0.2) as server:
        browser.get(server.url)  # without the token: no buttons
        box = wait_for(lambda: browser.find_element("id", "lookup-key"))
        box.send_keys("/page/5")
        browser.find_element("id", "lookup-go").click()
        wait_for(lambda: '"_aborted": true' in browser.find_element("id", "record").text)
        time.sleep(2.5)  # a poll: still no buttons
        assert not browser.find_element("id", "actions").is_displayed()

        browser.get(f"{server.url}#token={server.token}")
        browser.refresh()
        box = wait_for(lambda: browser.find_element("id", "lookup-key"))
        box.send_keys("/page/5")
        browser.find_element("id", "lookup-go").click()
        wait_for(lambda: browser.find_element("id", "actions").is_displayed(), timeout=10)
        browser.find_element("id", "act-unabort").click()
        wait_for(lambda: '"_aborted": false' in browser.find_element("id", "record").text)
        assert "unabort: done" in browser.find_element("id", "act-result").text
        wait_for(lambda: number(browser, "aborted") == 0)
        assert console_errors(browser) == []
