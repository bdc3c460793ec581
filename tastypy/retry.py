"""What failed, and putting it back to do: ``tastypy failures`` and ``tastypy retry``.

Both read the failure records that ``attempt()`` and ``mark_failed()`` leave
(``_error``, ``_retry_at``: see ``tastypy.failures``). On a folder only the
records whose text mentions ``_error`` are decoded, so a million records
that mostly succeeded cost little more than reading their texts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tastypy.failures import ERROR, RETRY_AT
from tastypy.observe import encode


@dataclass
class Group:
    """The failed keys that share an error type (or message)."""

    count: int = 0
    aborted: int = 0
    example: Any = None
    latest: float = 0.0
    keys: list[Any] = field(default_factory=list)


def failed(items: Iterable[tuple[Any, dict[str, Any]]]) -> Iterator[tuple[Any, dict[str, Any]]]:
    """``(key, record)`` of the keys whose last try failed: not done, an ``_error``."""
    for key, record in items:
        if not record.get("_done") and isinstance(record.get(ERROR), dict):
            yield key, record


def folder_items(
    texts: Iterable[tuple[Any, str]], aborted: bool = False, also: str = ""
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """``(key, record)`` of a store's ``(key, text)`` pairs that may hold a
    failure (or, with ``aborted``, an abort), and the text ``also``: the
    others are not decoded."""
    needle = '"_aborted":true' if aborted else '"_error"'
    for key, text in texts:
        if needle in text and also in text:
            yield key, json.loads(text)


def groups(items: Iterable[tuple[Any, dict[str, Any]]], by: str) -> dict[str, Group]:
    """The failed keys of ``items`` by their error's ``by`` ('type' or 'message'), largest first."""
    found: dict[str, Group] = {}
    for key, record in failed(items):
        error = record[ERROR]
        name = str(error.get(by, "?"))
        group = found.setdefault(name, Group(example=key))
        group.count += 1
        group.aborted += bool(record.get("_aborted"))
        at = error.get("at")
        if isinstance(at, (int, float)) and at > group.latest:
            group.latest, group.example = at, key
    return dict(sorted(found.items(), key=lambda pair: -pair[1].count))


def chosen(
    items: Iterable[tuple[Any, dict[str, Any]]], aborted_only: bool, error_type: str | None
) -> Iterator[Any]:
    """The keys ``tastypy retry`` resets: failed ones (with ``aborted_only``,
    every aborted one), of ``error_type`` when given."""
    for key, record in items:
        if record.get("_done"):
            continue
        error = record.get(ERROR)
        if aborted_only:
            if not record.get("_aborted"):
                continue
        elif not isinstance(error, dict):
            continue
        if error_type is not None and not (isinstance(error, dict) and error.get("type") == error_type):
            continue
        yield key


def reset_texts(texts: Iterable[tuple[Any, str]], aborted_only: bool, error_type: str | None) -> list[tuple[Any, str]]:
    """``(key, new text)`` of the records ``chosen()`` picks from a folder's
    ``(key, text)`` pairs, put back to do as ``Tracker.retry()`` does: what
    ``tastypy retry`` commits, without decoding (or checking) the others."""
    # A record of that error type holds the type as this text (or is not one).
    also = "" if error_type is None else '"type":' + encode(error_type)
    items = dict(folder_items(texts, aborted_only, also))
    changes = []
    for key in chosen(items.items(), aborted_only, error_type):
        record = items[key]
        record["_tries"], record["_aborted"] = 0, False
        record.pop(RETRY_AT, None)
        changes.append((key, encode(record)))
    return changes


def waiting(items: Iterable[tuple[Any, dict[str, Any]]], now: float) -> tuple[int, float | None]:
    """How many keys to do wait for their ``_retry_at``, and the first due time (any key)."""
    count, first = 0, None
    for _, record in items:
        at = record.get(RETRY_AT)
        if not isinstance(at, (int, float)) or record.get("_aborted"):
            continue
        if at > now and not record.get("_done"):
            count += 1
        first = at if first is None else min(first, at)
    return count, first
