"""Two ways for asyncio to reach the shared server, measured side by side.

Rerun with ``python benchmarks/async_shared_links.py``. Calls a second of
N coroutines each making plain calls (``num_done``) and one ``mark_done``
per key, through:

- threads: the blocking ``Link`` on 4 threads of their own (what
  ``AsyncSharedTracker`` uses);
- streams: asyncio streams over the same server's sockets, one call in
  flight per connection, a pool of 4. The connection is made (and the
  authkey challenge answered) by ``multiprocessing.connection.Client`` on a
  thread; the socket is then handed to asyncio and spoken to in
  ``Connection``'s framing (a 4-byte big-endian length, then the pickle),
  which is an implementation detail of CPython, not a documented interface.
  A prototype here only.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import statistics
import struct
import tempfile
import time
from pathlib import Path

import tastypy
from tastypy.shared.link import client_id, connect

POOL = 4


class StreamPool:
    """A pool of asyncio stream connections to a SharedTracker's server."""

    def __init__(self, shared: tastypy.SharedTracker) -> None:
        self.link = shared._link
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(POOL):
            conn = await loop.run_in_executor(None, connect, self.link.address, self.link.authkey)
            sock = socket.socket(fileno=os.dup(conn.fileno()))
            conn.close()
            reader, writer = await asyncio.open_unix_connection(sock=sock)
            self.free.put_nowait((reader, writer))

    async def call(self, name: str, *args: object) -> object:
        reader, writer = await self.free.get()
        try:
            data = pickle.dumps((name, args, {}), 5)
            writer.write(struct.pack("!Q", len(data)) + data)
            size = struct.unpack("!Q", await reader.readexactly(8))[0]
            ok, value = pickle.loads(await reader.readexactly(size))  # noqa: S301
        finally:
            self.free.put_nowait((reader, writer))
        if not ok:
            raise value
        return value

    async def aclose(self) -> None:
        while not self.free.empty():
            _, writer = self.free.get_nowait()
            writer.close()
            await writer.wait_closed()


async def workload(call, keys: int, coroutines: int) -> float:
    them = iter(range(keys))
    calls = 0

    async def worker() -> None:
        nonlocal calls
        for key in them:
            await call("num_done")
            await call("mark_done", key)
            calls += 2

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(coroutines)))
    return calls / (time.perf_counter() - began)


async def run(kind: str, folder: Path, coroutines: int) -> float:
    keys = 2000
    if kind == "threads":
        t = await tastypy.AsyncSharedTracker(folder / f"t{coroutines}").open()
        await t.add_many(range(keys))
        rate = await workload(t._call, keys, coroutines)
        await t.aclose()
        return rate
    shared = tastypy.SharedTracker(folder / f"s{coroutines}")
    shared.add_many(range(keys))
    pool = StreamPool(shared)
    await pool.open()
    rate = await workload(pool.call, keys, coroutines)
    await pool.aclose()
    shared.close()
    return rate


def main() -> None:
    client_id()
    rows: dict[str, list[float]] = {}
    for _ in range(3):
        with tempfile.TemporaryDirectory() as where:
            for coroutines in (1, 50, 200):
                for kind in ("threads", "streams"):
                    rows.setdefault(f"{kind}, {coroutines} coroutines", []).append(
                        asyncio.run(run(kind, Path(where), coroutines))
                    )
    print("| link | calls/s |")
    print("| --- | ---: |")
    for name, rates in rows.items():
        print(f"| {name} | {statistics.median(rates):,.0f} |")


if __name__ == "__main__":
    main()
