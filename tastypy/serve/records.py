"""What serve needs of one task record: its state bits, its failure, its due time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from tastypy.records import ABORTED, DONE, bits_of, bits_of_texts, record_problem

#: The states a key can be listed by (``/keys.json?state=``).
STATES = ("all", "todo", "done", "aborted", "waiting", "failed")

# Substrings a record's text holds when it may hold one of these fields; the
# text is decoded to be sure (a user's own field may hold the same letters).
_MARKS = ('"_error"', '"_retry_at"')


class Info(NamedTuple):
    """A record's state: bits (``records.DONE | TRIED | ABORTED``), ``_error``'s type and time, ``_retry_at``."""

    bits: int
    error: tuple[str, float | None] | None
    retry_at: float | None


def info_of(value: Any) -> Info:
    """The state of a decoded record (ValueError naming the problem when it is not a task record)."""
    problem = record_problem(None, value)
    if problem:
        raise ValueError(problem)
    error = value.get("_error")
    failure = None
    if isinstance(error, dict):
        at = error.get("at")
        failure = (str(error.get("type", "?")), _time(at))
    return Info(bits_of(value), failure, _time(value.get("_retry_at")))


def _time(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def info_of_text(text: str) -> Info:
    """The state of a record from its JSON text."""
    return info_of(json.loads(text))


def infos_of_texts(texts: list[str], strict: bool = True) -> Iterator[Info]:
    """The states of many record texts, decoding only those that may hold a failure or a due time.

    ``strict``: ValueError for a text that is not a task record; else it
    counts as a record with no state bits (a writer put a non-record there
    after serve opened: its counts must stay in step with the store).
    """
    bits = bits_of_texts(texts)
    joined = "\n".join(texts)
    error, retry = _MARKS
    if None not in bits and error not in joined and retry not in joined:
        for b in bits:
            yield Info(b, None, None)  # type: ignore[arg-type]  # None is not in bits
        return
    for b, text in zip(bits, texts):
        if b is None or error in text or retry in text:
            try:
                yield info_of_text(text)
            except (ValueError, RecursionError):
                if strict:
                    raise
                yield Info(0, None, None)
        else:
            yield Info(b, None, None)


def in_state(info: Info, state: str, now: float) -> bool:
    """Whether a record of ``info`` is listed under ``state`` at time ``now``."""
    settled = info.bits & (DONE | ABORTED)
    if state == "all":
        return True
    if state == "done":
        return bool(info.bits & DONE)
    if state == "aborted":
        return bool(info.bits & ABORTED)
    if state == "todo":
        return not settled
    if state == "waiting":
        return not settled and info.retry_at is not None and info.retry_at > now
    if state == "failed":
        return not info.bits & DONE and info.error is not None
    raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
