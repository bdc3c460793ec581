"""``AsyncRedisLink``: the Redis link's plans run natively on ``redis.asyncio``, and one task per loop renewing leases.

The operations are the plans of ``tastypy.redis`` (``RedisOps``): the
same scripts, encoding, checks, errors and claims as ``RedisLink``, which
runs them on redis-py's blocking client. Here ``drive`` sends each step to
a ``redis.asyncio`` client, so the event loop's thread never waits on the
network and no thread is made.

Leases: the claims of this loop's ``try_keys()`` loops and this process's
lock last ``lease`` seconds of the server's clock. One task per event loop
(``Renewer``) extends those of every open async link of that loop every
quarter of the shortest lease (every second at most). It runs on the loop,
so **a loop blocked for longer than about three quarters of a lease loses
its claims** to other processes: keep blocking calls off the loop (or give
a longer ``lease``). The renewer warns (``RuntimeWarning``) when it comes
late by more than half a lease while the link holds something.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
import weakref
from typing import Any, ClassVar

import redis

from tastypy.redis import connect
from tastypy.redis.connection import Patience
from tastypy.redis.lease import TICK, held_locks
from tastypy.redis.link import RedisOps
from tastypy.redis.plan import Call, Done, Pipeline, Plan, Sleep, Step, T, advance

#: Connections of one link to a single server: calls in flight at once (more wait for one).
CONNECTIONS = 32


async def drive(plan: Plan[T], client: Any) -> T:
    """Drive ``plan`` on a ``redis.asyncio`` client; its result, or the error it raises."""
    reply: Any = None
    error: redis.RedisError | None = None
    while type(step := advance(plan, reply, error)) is not Done:
        try:
            reply, error = await _execute(client, step), None  # type: ignore[arg-type]
        except redis.RedisError as exc:
            reply, error = None, exc
    result: T = step.value
    return result


async def _execute(client: Any, step: Step) -> Any:
    if type(client) is Batching:
        if type(step) is Call and not step.every:
            return await client.call(step)
        client = client.client
    if type(step) is Call:
        method = getattr(client, step.method)
        if step.every:
            return [each async for each in method(*step.args, **step.kwargs)]
        return await method(*step.args, **step.kwargs)
    if type(step) is Pipeline:
        async with client.pipeline(transaction=False) as pipe:
            for each in step.calls:
                getattr(pipe, each.method)(*each.args, **each.kwargs)
            return await pipe.execute()
    assert type(step) is Sleep
    await asyncio.sleep(step.seconds)
    return None


#: Calls in one pipeline at most (redis-py packs one of 1,000 or more on a thread of the loop's executor).
PIPELINE = 250


class Batching:
    """A single server's client that sends the calls made in one turn of the loop as one pipeline.

    Many coroutines each waiting on one call would otherwise cost a write
    and a read each on the loop's thread (a system call that wakes the
    server: the larger part of a call's time); in one pipeline (not a
    transaction: each call stays atomic on its own, as before) they cost
    one of each. A call whose coroutine was cancelled still runs, as a
    call sent alone would.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._waiting: list[tuple[Call, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, step: Call) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)  # after the other coroutines ready in this turn
        self._waiting.append((step, future))
        return await future

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, []
        for at in range(0, len(waiting), PIPELINE):
            task = asyncio.get_running_loop().create_task(self._pipeline(waiting[at : at + PIPELINE]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _pipeline(self, batch: list[tuple[Call, asyncio.Future[Any]]]) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for step, _ in batch:
                    getattr(pipe, step.method)(*step.args, **step.kwargs)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as error:  # noqa: BLE001  (each caller gets it)
            replies = [error] * len(batch)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), reply in zip(batch, replies):
            if future.done():
                continue  # its coroutine was cancelled
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def aclose(self) -> None:
        """Wait for the pipelines in flight, then close the client."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self.client.aclose()


async def client(url: str) -> Any:
    """A fresh ``redis.asyncio`` client for ``url``: the twin of ``connect.client`` (same options, Cluster found)."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry

    url, cluster = connect.cluster_flag(url)
    if cluster is not True:
        # Blocking: the 201st coroutine waits for a connection rather than fail.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=CONNECTIONS, retry=Retry(*connect.retry_policy()), **connect.OPTIONS
        )
        single = Redis.from_pool(pool)
        try:
            if cluster is False or not await drive(connect.cluster_enabled(), single):
                return single
        except BaseException:
            await single.aclose()
            raise
        await single.aclose()
    from redis.asyncio.cluster import RedisCluster

    return RedisCluster.from_url(connect.cluster_url(url), **connect.OPTIONS)


async def renewing_client(url: str) -> Any:
    """A client of one connection for ``url`` (a single server): the renewer's."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry

    url, _ = connect.cluster_flag(url)
    return Redis.from_url(
        url, single_connection_client=True, retry=Retry(*connect.retry_policy()), **connect.OPTIONS
    )


class AsyncRedisLink(RedisOps):
    """One POD or Tracker (``kind``) named ``name`` in the Redis database at ``url``, over ``redis.asyncio``.

    The async link of ``tastypy.aio.face``: ``await call(name, ...)``,
    ``post(name, ...)``, ``await aclose()``. Made outside a loop; ``open()``
    connects within one, and the link belongs to that loop from then on.
    """

    _redis: Any = None
    _renewing: Any = None
    _renewer: Renewer | None = None
    #: The loop's time of the last renewal (or of the open).
    renewed = 0.0

    def _forked(self) -> None:
        super()._forked()
        self._posted: set[asyncio.Task[None]] = set()

    @property
    def _what(self) -> str:
        return "Async" + super()._what

    async def open(self) -> None:
        """Connect, refuse a server that may evict (unless allowed) and a name that holds the other kind."""
        self._check_open()
        try:
            made = await client(self.url)
        except (redis.ResponseError, redis.TimeoutError, *Patience.ERRORS) as error:
            raise connect.unreachable(self.where, self.url, error) from None
        try:
            self._cluster = connect.is_cluster(made)
            self._redis = made if self._cluster else Batching(made)
            await self._opening(self._policy())
            await self._call("_check_kind", (), {}, ride_out=False)
        except BaseException:
            self._closed = True
            await made.aclose()
            raise
        self.renewed = asyncio.get_running_loop().time()
        self._renewer = Renewer.of_this_loop()
        self._renewer.add(self)

    async def _opening(self, plan: Plan[T]) -> T:
        try:
            return await drive(plan, self._redis)
        except (redis.ResponseError, redis.TimeoutError, *Patience.ERRORS) as error:
            raise connect.unreachable(self.where, self.url, error) from None

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run operation ``name`` on the server, raising the POD's errors (``RedisLink.call``'s rules)."""
        return await self._call(name, args, kwargs, ride_out=True)

    async def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], ride_out: bool) -> Any:
        patience = Patience(self.where, self.url, ride_out)
        while True:
            self._check_open()
            try:
                return await drive(self._operation(name, args, kwargs), self._redis)
            except Patience.ERRORS as error:
                await asyncio.sleep(patience.wait(error))

    def post(self, name: str, *args: Any) -> None:
        """Run ``name`` without waiting for it (a claim given back from a ``finally`` after cancellation).

        ``aclose()`` waits for what was posted. Its error reaches no one: a
        claim not given back ends with its lease.
        """
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop runs (a generator collected after it): the lease ends the claim
        task = loop.create_task(self._quietly(name, args))
        self._posted.add(task)
        task.add_done_callback(self._posted.discard)

    async def _quietly(self, name: str, args: tuple[Any, ...]) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):  # see post()
            await self.call(name, *args)

    @property
    def holding(self) -> bool:
        """Whether this link's loops hold claims, or this process the name's lock."""
        return bool(self._loops) or bool(held_locks().get((self.url, self.name)))

    async def renew(self) -> None:
        """Extend this process's claims and lock (the renewer task calls it).

        On a connection of its own (a Cluster's client has one per node),
        so a renewal never queues behind the calls of many coroutines.
        """
        if self._closed:
            return
        if self._renewing is None:
            self._renewing = self._redis if self._cluster else await renewing_client(self.url)
        await drive(self._renew(), self._renewing)
        self.renewed = asyncio.get_running_loop().time()

    async def aclose(self) -> None:
        """Wait for what was posted, free this link's claims and this process's lock, close its connections.

        The renewer task of the loop ends with its last link: nothing of
        this link is left running.
        """
        if self._closed:
            return
        try:
            while self._posted:
                await asyncio.gather(*self._posted)
        finally:
            self._closed = True
            if self._renewer is not None:
                await self._renewer.remove(self)
            try:
                await drive(self._closing(), self._redis)
            except redis.RedisError:
                pass  # unreachable, or the name damaged: the claims and the lock expire after the lease anyway
            finally:
                if self._renewing is not None and self._renewing is not self._redis:
                    await self._renewing.aclose()
                await self._redis.aclose()


class Renewer:
    """One task per event loop that extends the leases of that loop's open async links."""

    _loops: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Renewer]] = weakref.WeakKeyDictionary()

    @classmethod
    def of_this_loop(cls) -> Renewer:
        """The running loop's renewer (made, and its task started, on first use)."""
        loop = asyncio.get_running_loop()
        renewer = cls._loops.get(loop)
        if renewer is None:
            renewer = cls._loops[loop] = cls(loop)
        return renewer

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.links: dict[AsyncRedisLink, None] = {}  # in the order they opened
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def tick(self) -> float:
        """Seconds between renewals: a quarter of the shortest lease, a second at most."""
        return min([TICK, *(link.lease / 4 for link in self.links)])

    def add(self, link: AsyncRedisLink) -> None:
        """Renew ``link`` from now on."""
        shorter = link.lease / 4 < self.tick()
        self.links[link] = None
        if self.task is None:
            self.task = self.loop.create_task(self._run(), name="tastypy redis renewer")
        elif shorter:
            self.wake.set()  # renew it before the current pause ends

    async def remove(self, link: AsyncRedisLink) -> None:
        """Stop renewing ``link``; the last one removed ends the task (awaited)."""
        self.links.pop(link, None)
        if self.links or self.task is None:
            return
        task, self.task = self.task, None
        if self._loops.get(self.loop) is self:
            del self._loops[self.loop]
        if task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while self.links:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), self.tick())
                continue  # a link with a shorter lease came: pause again, shorter
            except asyncio.TimeoutError:  # not yet the builtin one on Python 3.10
                pass
            for link in list(self.links):
                self._warn_if_late(link)
                try:
                    await link.renew()
                except (redis.ConnectionError, redis.TimeoutError):
                    # Unreachable for now: try again next tick. If the lease
                    # runs out meanwhile, the claims go to another process, as
                    # they must for a cut-off one (and the next tick warns).
                    continue
                except Exception as error:  # noqa: BLE001  (the task must go on renewing the others)
                    if link.closed:
                        continue  # closed while it was being renewed: its claims are freed
                    warnings.warn(
                        f"{link._what} at {link.where}: renewing its leases failed: {error!r}",
                        RuntimeWarning,
                        stacklevel=1,
                    )

    def _warn_if_late(self, link: AsyncRedisLink) -> None:
        late = self.loop.time() - link.renewed
        if late > link.lease / 2 and link.holding:
            warnings.warn(
                f"{link._what} at {link.where}: its leases were last renewed {late:.1f} s ago and last "
                f"{link.lease:g} s: the event loop was blocked (or the server unreachable), and a claim "
                "not renewed in time goes to another process. Keep blocking calls off the event loop "
                "(renewals run every quarter of the lease), or give a longer lease",
                RuntimeWarning,
                stacklevel=1,
            )
