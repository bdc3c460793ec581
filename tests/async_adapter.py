"""Drive an async face from sync test code: the ``aio-*`` kinds of the ``any_host`` fixture.

``Loop`` is one event loop running in a background thread; ``Synced`` wraps
an async POD or Tracker so that each call runs its coroutine on that loop
(``asyncio.run_coroutine_threadsafe``, with a timeout) and returns its
result. What an async method gives back decides what the sync call gives:
a coroutine's result, an ``async for`` iterator as a sync iterator (closed
on the loop when the sync one is), an ``async with`` context as a sync one.
Only the public async API is used, so a test passing here passes on the
async face itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

#: Seconds one call may take before the test fails (a hang is a failure, not a stuck run).
TIMEOUT = 60.0

_END: Any = object()


class Loop:
    """An event loop running in a thread of its own until ``stop()``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="async adapter", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        """Run ``coro`` on the loop; its result or its error, here."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def stop(self) -> None:
        self.run(self.loop.shutdown_asyncgens())  # loops a test left open end as asyncio.run ends them
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


async def _next(agen: Any) -> Any:
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        return _END


async def _await(awaitable: Any) -> Any:
    return await awaitable


class _Context:
    """An ``async with`` context as a sync one: enter and exit each run on the loop."""

    def __init__(self, loop: Loop, context: Any) -> None:
        self._loop, self._context = loop, context

    def __enter__(self) -> Any:
        return self._loop.run(_await(self._context.__aenter__()))

    def __exit__(self, *exc: object) -> Any:
        return self._loop.run(_await(self._context.__aexit__(*exc)))


class Synced:
    """An async POD or Tracker (``tastypy.aio``) with the sync faces' calling convention.

    ``face[k]``, ``k in face``, ``len(face)``, ``for k in face``,
    ``face.items()``, ``face.try_keys()``, ``with face.attempt(k)``,
    ``face.close()``: each runs the async face's own coroutine (``getitem``,
    ``contains``, ``length``, ``keys``, ``items``, ``try_keys``,
    ``attempt``, ``aclose``) on the loop. Values read are the async face's
    plain copies.
    """

    def __init__(self, loop: Loop, face: Any) -> None:
        self._loop = loop
        self.face = face

    def __repr__(self) -> str:
        return f"Synced({self.face!r})"

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.face, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._result(self._loop.run(_call(attr, args, kwargs)))

        return call

    def _result(self, made: Any) -> Any:
        if hasattr(made, "__anext__"):
            return self._iterate(made)
        if hasattr(made, "__aenter__"):
            return _Context(self._loop, made)
        return made

    def _iterate(self, agen: Any) -> Iterator[Any]:
        try:
            while (item := self._loop.run(_next(agen))) is not _END:
                yield item
        finally:
            if threading.current_thread() is self._loop.thread:
                self._loop.loop.create_task(agen.aclose())  # collected on the loop: cannot wait on it
            elif not self._loop.loop.is_closed():
                self._loop.run(agen.aclose())

    # -- the sync faces' dunders, over the async names ------------------------------

    def __getitem__(self, key: Any) -> Any:
        return self.getitem(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setitem(key, value)

    def __delitem__(self, key: Any) -> None:
        self.delitem(key)

    def __contains__(self, key: Any) -> bool:
        return self.contains(key)  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return self.length()  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Any]:
        return self.keys()  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self.equals(other)  # type: ignore[no-any-return]

    __hash__ = None  # type: ignore[assignment]  # as a dict's

    def close(self) -> None:
        self.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _call(method: Any, args: Any, kwargs: Any) -> Any:
    # Called on the loop: a coroutine is awaited there; an async iterator or
    # context (made without awaiting) is handed back to be driven step by step.
    made = method(*args, **kwargs)
    if asyncio.iscoroutine(made):
        return await made
    return made


def open_on(loop: Loop, face: Any) -> Synced:
    """``face`` opened on ``loop`` (``await face.open()``), wrapped."""
    loop.run(face.open())
    return Synced(loop, face)
