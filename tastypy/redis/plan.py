"""Plans: each operation of a Redis link written once, as the Redis calls it needs.

A plan is a generator. It yields *steps* (``Call``: one command;
``Pipeline``: commands in one round trip; ``Sleep``: a pause), is sent
each step's reply, or thrown its ``redis.RedisError``, and returns the
operation's result. It never touches a socket or a clock itself, so one
plan serves both links: ``run`` below drives it on redis-py's blocking
client (``RedisLink``), ``tastypy.aio.redis_link`` on ``redis.asyncio``
(``AsyncRedisLink``). Encoding, checks, error mapping and the claims stay
in the plans, written once.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from types import GeneratorType, MappingProxyType
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")

_NONE: Mapping[str, Any] = MappingProxyType({})


class Call(NamedTuple):
    """One command: ``client.<method>(*args, **kwargs)`` (redis-py's name, sync and async alike)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = _NONE
    #: The method is an iterator (``scan_iter``): the reply is the list of what it yields.
    every: bool = False


class Pipeline(NamedTuple):
    """Commands sent in one round trip, not as a transaction; the reply is the list of theirs."""

    calls: tuple[Call, ...]


class Sleep(NamedTuple):
    """A pause of ``seconds`` (``time.sleep`` for one link, ``asyncio.sleep`` for the other)."""

    seconds: float


Step = Call | Pipeline | Sleep
#: An operation's plan, returning a ``T``.
Plan = Generator[Step, Any, T]


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    """The step ``client.<method>(*args, **kwargs)``."""
    return Call(method, args, kwargs or _NONE)


def follow(result: Any) -> Plan[Any]:
    """What a handler returned, as a plan: a plan is followed; a plain value (no server needed) is returned."""
    if type(result) is GeneratorType:
        result = yield from result
    return result


class Done(NamedTuple):
    """The end of a plan: its result."""

    value: Any


def advance(plan: Plan[Any], reply: Any, error: BaseException | None) -> Step | Done:
    """Send ``plan`` its last step's reply, or throw it that step's error: its next step, or ``Done``."""
    try:
        return plan.send(reply) if error is None else plan.throw(error)
    except StopIteration as done:
        return Done(done.value)


def run(plan: Plan[T], client: Any) -> T:
    """Drive ``plan`` on a blocking redis-py client; its result, or the error it raises."""
    from redis import RedisError  # here: tastypy (the command line too) imports without redis-py

    reply: Any = None
    error: RedisError | None = None
    while type(step := advance(plan, reply, error)) is not Done:
        try:
            reply, error = _execute(client, step), None  # type: ignore[arg-type]
        except RedisError as exc:
            reply, error = None, exc
    result: T = step.value
    return result


def _execute(client: Any, step: Step) -> Any:
    if type(step) is Call:
        got = getattr(client, step.method)(*step.args, **step.kwargs)
        return list(got) if step.every else got
    if type(step) is Pipeline:
        with client.pipeline(transaction=False) as pipe:
            for each in step.calls:
                getattr(pipe, each.method)(*each.args, **each.kwargs)
            return pipe.execute()
    assert type(step) is Sleep
    time.sleep(step.seconds)
    return None
