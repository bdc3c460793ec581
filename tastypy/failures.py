"""Failures are data: what failed, when to try again, and the attempt context.

A failed try leaves in its record ``_error`` = ``{'type', 'message', 'at',
'traceback'}`` (the traceback's last lines, bounded) and, when the tracker
has a backoff, ``_retry_at``: the Unix time before which ``try_keys()`` does
not hand the key out. Both are absent until used, so older records open
unchanged. The host stamps ``at`` and ``_retry_at`` with its own clock (a
Redis server's ``TIME``): the client only says how long to wait.

``Failures`` is mixed into every tracker class, so ``attempt()`` and
``mark_failed()`` are written once; each class provides ``_begin``,
``_fail`` and ``_give_back``.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

ERROR = "_error"
RETRY_AT = "_retry_at"
#: Characters of a message and of a traceback kept in a record.
MESSAGE_CHARS = 1000
TRACEBACK_CHARS = 2000


class Exponential:
    """``first * factor ** (tries - 1)`` seconds, at most ``cap``: 1, 2, 4, 8… by default."""

    def __init__(self, first: float = 1.0, cap: float = 300.0, factor: float = 2.0) -> None:
        self.first = _seconds(first, "exponential(): first")
        self.cap = _seconds(cap, "exponential(): cap")
        self.factor = _seconds(factor, "exponential(): factor")

    def __call__(self, tries: int, error: dict[str, Any]) -> float:
        try:
            return min(self.cap, self.first * self.factor ** max(0, tries - 1))
        except OverflowError:
            return self.cap

    def __repr__(self) -> str:
        return f"tastypy.exponential(first={self.first:g}, cap={self.cap:g}, factor={self.factor:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Exponential) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


def exponential(first: float = 1.0, cap: float = 300.0, factor: float = 2.0) -> Exponential:
    """A backoff that doubles (``factor``) from ``first`` seconds, up to ``cap``."""
    return Exponential(first, cap, factor)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(value: Any, what: str) -> float:
    if not _number(value) or not 0 <= value < float("inf"):
        raise ValueError(f"{what} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def check_backoff(backoff: Any) -> Any:
    """``backoff`` in the form ``delay()`` takes, or ``TypeError``/``ValueError``.

    Seconds (a fixed delay), a list of seconds by try number (the last
    repeats, as RQ's ``Retry(interval=[...])``), ``tastypy.exponential()``,
    or a function ``f(tries, error) -> seconds`` of the tries so far and
    the ``_error`` dict; None: no delay.
    """
    if backoff is None or callable(backoff):
        return backoff
    if _number(backoff):
        return _seconds(backoff, "backoff")
    if isinstance(backoff, Sequence) and not isinstance(backoff, str) and backoff:
        return tuple(_seconds(value, "each delay of backoff") for value in backoff)
    raise TypeError(
        f"backoff must be seconds, a list of seconds by try, tastypy.exponential(...) "
        f"or a function f(tries, error) -> seconds; not {backoff!r}"
    )


def delay(backoff: Any, tries: int, error: dict[str, Any]) -> float:
    """Seconds to wait after the try number ``tries`` failed with ``error``."""
    if backoff is None:
        return 0.0
    if isinstance(backoff, float):
        return backoff
    if isinstance(backoff, tuple):
        return float(backoff[min(max(tries, 1), len(backoff)) - 1])
    return _seconds(backoff(tries, error), f"backoff({tries}, ...)")


def error_info(error: BaseException) -> dict[str, Any]:
    """The ``_error`` of ``error``, without ``at`` (the host stamps it)."""
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return {
        "type": type(error).__qualname__,
        "message": str(error)[:MESSAGE_CHARS],
        "traceback": "".join(lines)[-TRACEBACK_CHARS:],
    }


class Attempt:
    """One try of a task: ``with tracker.attempt(key) as attempt:``.

    On entry the try is counted (unless a ``try_*()`` loop handed the key
    out, which counted it) and ``attempt.record`` is the task's record. If
    the block ends normally the key is marked done. If it raises an
    ``Exception``, the failure is recorded (``_error``), the key is aborted
    at ``max_tries``, else it waits ``retry_after`` (or the backoff's
    delay) before ``try_keys()`` hands it out again; the exception is then
    swallowed, unless ``reraise``. ``KeyboardInterrupt``, ``SystemExit`` and
    cancellation are not failures: the try is given back and they go on.
    """

    def __init__(self, tracker: Any, key: Any, retry_after: float | None, reraise: bool) -> None:
        self.key = key
        #: Seconds to wait before the next try if this one fails (set it
        #: inside the block, e.g. from a ``Retry-After`` header); None: the backoff's.
        self.retry_after = None if retry_after is None else _seconds(retry_after, "retry_after")
        self.reraise = reraise
        self.record: Any = None
        #: The exception this attempt recorded as its failure, if any.
        self.error: BaseException | None = None
        self._tracker = tracker

    def __enter__(self) -> Self:
        self.record = self._tracker._begin(self.key)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        tracker = self._tracker
        if kind is None:
            tracker.mark_done(self.key)
            return False
        if not isinstance(error, Exception):
            tracker._give_back(self.key)
            return False
        self.error = error
        tracker._failed(self.key, error, self.retry_after, tracker.tries(self.key))
        return not self.reraise


class Failures:
    """``attempt()`` and ``mark_failed()`` over a class's ``_begin``, ``_fail``, ``_give_back``."""

    #: How long a failed try waits before its key is handed out again (the
    #: ``backoff`` given when the tracker was made; None: no wait).
    backoff: Any = None

    if TYPE_CHECKING:  # what the tracker class it is mixed into provides

        def _begin(self, key: Any) -> Any: ...
        def _fail(self, key: Any, info: dict[str, Any], wait: float) -> None: ...
        def _give_back(self, key: Any) -> None: ...
        def tries(self, key: Any) -> int: ...
        def mark_done(self, key: Any, *, revisit_after: float | None = None) -> None: ...

    def attempt(self, key: Any, *, retry_after: float | None = None, reraise: bool = False) -> Attempt:
        """A context for one try of ``key`` (see ``tastypy.failures.Attempt``).

        Done when the block ends; on an ``Exception`` the failure is recorded
        in the record (``_error``), counted, aborted at ``max_tries`` or
        scheduled after the backoff (``_retry_at``), and not raised again
        unless ``reraise``.
        """
        return Attempt(self, key, retry_after, reraise)

    def mark_failed(self, key: Any, error: BaseException, *, retry_after: float | None = None) -> None:
        """Record that the last try of ``key`` failed with ``error``, as ``attempt()`` does.

        Stores ``_error``, aborts ``key`` if it has had ``max_tries`` tries,
        else makes it wait ``retry_after`` seconds (default: the backoff's
        delay) before ``try_keys()`` hands it out again. Counts no try.
        """
        if not isinstance(error, BaseException):
            raise TypeError(f"mark_failed({key!r}, error): error must be an exception, not {error!r}")
        wait = None if retry_after is None else _seconds(retry_after, "retry_after")
        self._failed(key, error, wait, self.tries(key))

    def _failed(self, key: Any, error: BaseException, retry_after: float | None, tries: int) -> None:
        info = error_info(error)
        wait = retry_after if retry_after is not None else delay(self.backoff, tries, info)
        self._fail(key, info, wait)
