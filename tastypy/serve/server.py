"""The HTTP server: one page, JSON endpoints, a Prometheus text endpoint, guarded writes.

Routes (all ``GET`` unless said; JSON unless said):

``/``                  the page (HTML, CSS and JS in one file, nothing fetched elsewhere)
``/status.json``       counts, rates, ETA, done-per-minute series
``/failures.json``     failures grouped by ``_error.type``: count, example keys
``/key.json?key=K``    the record of K (JSON text of the key, or a plain string)
``/keys.json?state=S&cursor=C&limit=N``  keys in state S, in insertion order, a page at a time
``/metrics``           the counts and rates in Prometheus' text format
``POST /action/retry``, ``POST /action/unabort``  body ``{"key": K}``: only with
                       ``allow_write`` and the header ``X-Tastypy-Token`` (403 otherwise)

A refresh thread reads what changed every ``every`` seconds; requests read
what it found, so their cost does not grow with the job.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tastypy.errors import LockedError, TastypyError
from tastypy.keys import Key, key_from_json
from tastypy.serve.history import History
from tastypy.serve.records import STATES
from tastypy.serve.watch import FolderWatch, RedisWatch

if TYPE_CHECKING:
    from typing_extensions import Self

#: Keys a ``/keys.json`` page holds at most.
MAX_LIMIT = 1000
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:"
)


class Server:
    """Serve ``watch`` on ``host:port`` (port 0: a free one) until ``close()``."""

    def __init__(
        self, watch: FolderWatch | RedisWatch, host: str = "127.0.0.1", port: int = 0,
        allow_write: bool = False, every: float = 1.0,
    ) -> None:
        self.watch = watch
        self.every = every
        #: The per-run secret a write must carry; None when writes are off.
        self.token = secrets.token_urlsafe(24) if allow_write else None
        self.refreshes = 0
        self.last_refresh: dict[str, Any] = {"seconds": None, "changes": 0, "error": None}
        counts = watch.counts(time.time())
        self.history = History(time.time(), counts["done"], counts["total"] - counts["todo"])
        self._history_lock = threading.Lock()
        self._stop = threading.Event()
        self.page = resources.files("tastypy.serve").joinpath("page.html").read_bytes()
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self  # type: ignore[attr-defined]  # the handler's way back here
        self.host = host
        self.port: int = self.httpd.server_address[1]
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True),
            threading.Thread(target=self._refresh_loop, daemon=True),
        ]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Stop serving and refreshing, and close the watch (bounded: the threads poll)."""
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self.watch.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the refresh thread ------------------------------------------------------

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.every):
            self.refresh()

    def refresh(self) -> None:
        """Read what changed and note the counts in the history (the thread does this every tick)."""
        began = time.perf_counter()
        try:
            changes = self.watch.refresh()
        except (TastypyError, OSError, ValueError) as exc:  # shown on the page; the next tick tries again
            self.last_refresh = {"seconds": None, "changes": 0, "error": str(exc)}
            return
        now = time.time()
        counts = self.watch.counts(now)
        with self._history_lock:
            self.history.observe(now, counts["done"], counts["total"] - counts["todo"])
        self.refreshes += 1
        self.last_refresh = {"seconds": time.perf_counter() - began, "changes": changes, "error": None}

    # -- what the routes answer ------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = time.time()
        counts = self.watch.counts(now)
        with self._history_lock:
            history = self.history
            rates = {
                "last_minute": history.rate(now, 60) * 60,
                "last_10_minutes": history.rate(now, 600) * 60,
            }
            eta = history.eta(now, counts["todo"])
            series = history.series()
            started = history.started
        return {
            "target": self.watch.where, "host": self.watch.kind, "now": now, "serving_since": started,
            "counts": counts, "per_minute": rates, "eta": eta,
            "done_per_minute": series, "failures_per_minute": self.watch.failures_per_minute(),
            "refresh": {**self.last_refresh, "count": self.refreshes, "every": self.every},
            "writable": self.token is not None,
        }

    def metrics(self) -> str:
        status = self.status()
        lines = []
        for name, value in status["counts"].items():
            lines += [f"# TYPE tastypy_{name} gauge", f"tastypy_{name} {value}"]
        lines += ["# TYPE tastypy_done_per_minute gauge"]
        for window, value in status["per_minute"].items():
            lines.append(f'tastypy_done_per_minute{{window="{window}"}} {value:.6g}')
        eta = status["eta"]["seconds"]
        lines += ["# TYPE tastypy_eta_seconds gauge", f"tastypy_eta_seconds {'NaN' if eta is None else f'{eta:.6g}'}"]
        lines += ["# TYPE tastypy_failures gauge"]
        for group in self.watch.failures():
            kind = group["type"].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'tastypy_failures{{type="{kind}"}} {group["count"]}')
        return "\n".join(lines) + "\n"

    def act(self, action: str, key: Key) -> dict[str, Any]:
        """A write the page asked for (the handler checked the token)."""
        self.watch_write(action, key)
        self.refresh()
        return {"ok": True, "action": action, "key": key}

    def watch_write(self, action: str, key: Key) -> None:
        watch = self.watch
        if isinstance(watch, RedisWatch):
            _change(watch.tracker, action, key)
            return
        from tastypy.tracker import ProgressTracker

        # A writer of our own, for one change: refused while the job's writer runs.
        with ProgressTracker(watch.store.path) as tracker:
            _change(tracker, action, key)


def _change(tracker: Any, action: str, key: Key) -> None:
    if key not in tracker:
        raise KeyError(key)
    tracker.unabort(key)
    if action == "retry":
        tracker.reset_tries(key)
        tracker[key].pop("_retry_at", None)


def parse_key(text: str) -> Key:
    """A key from a request: its JSON text (arrays are tuples), else the plain string."""
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    key: Key | None = key_from_json(obj)
    if key is None:
        raise ValueError(f"bad key {text!r}: a key is a string, an integer or an array of them")
    return key


class _Handler(BaseHTTPRequestHandler):
    server_version = "tastypy-serve"
    timeout = 30  # a client that stops talking loses its thread after this long

    @property
    def app(self) -> Server:
        return self.server.app  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the library prints nothing."""

    def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        body = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _host_ok(self) -> bool:
        # A page of another site that a DNS name resolves here must not read the job.
        if self.app.host not in _LOOPBACK:
            return True
        host = (self.headers.get("Host") or "").rpartition(":")[0] or self.headers.get("Host", "")
        return host in _LOOPBACK

    def do_GET(self) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "this server answers to 127.0.0.1 and localhost only")
            return
        url = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        app = self.app
        try:
            if url.path in ("/", "/index.html"):
                self._send(200, app.page, "text/html; charset=utf-8", {"Content-Security-Policy": _PAGE_POLICY})
            elif url.path == "/status.json":
                self._json(app.status())
            elif url.path == "/failures.json":
                self._json({"groups": app.watch.failures()})
            elif url.path == "/key.json":
                self._key(query)
            elif url.path == "/keys.json":
                self._keys(query)
            elif url.path == "/metrics":
                self._send(200, app.metrics().encode("utf-8"), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no page {url.path}: see / for the page, /status.json")
        except (TastypyError, OSError) as exc:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))

    do_HEAD = do_GET  # noqa: N815 (the name http.server looks up)

    def _key(self, query: dict[str, str]) -> None:
        if "key" not in query:
            self._error(HTTPStatus.BAD_REQUEST, "give the key: /key.json?key=...")
            return
        try:
            key = parse_key(query["key"])
            record = self.app.watch.record(key)
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except KeyError:
            self._error(HTTPStatus.NOT_FOUND, f"no key {query['key']}")
        else:
            self._json({"key": key, "record": record})

    def _keys(self, query: dict[str, str]) -> None:
        try:
            limit = int(query.get("limit", "100"))
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, f"limit is a whole number from 1 to {MAX_LIMIT}")
            return
        state = query.get("state", "all")
        if state not in STATES:
            self._error(HTTPStatus.BAD_REQUEST, f"unknown state {state!r}: one of {', '.join(STATES)}")
            return
        try:
            page = self.app.watch.page(state, query.get("cursor"), limit, time.time())
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except KeyError:
            self._error(HTTPStatus.GONE, "the cursor's key was deleted meanwhile: start again without a cursor")
        else:
            self._json({"state": state, **page})

    def do_POST(self) -> None:
        app = self.app
        action = urlsplit(self.path).path.removeprefix("/action/")
        if not self._host_ok() or app.token is None:
            self._error(HTTPStatus.FORBIDDEN, "read-only: start tastypy serve with --allow-write to change records")
            return
        given = self.headers.get("X-Tastypy-Token", "")
        if not hmac.compare_digest(given.encode(), app.token.encode()):
            self._error(HTTPStatus.FORBIDDEN, "a write needs this run's token (the X-Tastypy-Token header)")
            return
        if action not in ("retry", "unabort"):
            self._error(HTTPStatus.NOT_FOUND, f"no action {action!r}: retry or unabort")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(min(length, 65536)) or b"null")
            key = key_from_json(body.get("key")) if isinstance(body, dict) else None
            if key is None:
                raise ValueError
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, 'the body is {"key": K}, K a string, an integer or an array')
            return
        try:
            self._json(app.act(action, key))
        except KeyError:
            self._error(HTTPStatus.NOT_FOUND, f"no key {json.dumps(key)}")
        except LockedError as exc:
            self._error(HTTPStatus.CONFLICT, f"{exc}: a change waits until the job's writer stops")
        except (TastypyError, OSError) as exc:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
