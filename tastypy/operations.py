"""Every operation a client may call on a host, listed once, as data.

A host (the shared server's ``Host``, the folder link of the async faces,
a Redis link) runs an operation by name; the client faces forward to it.
Each is built from this table, so adding an operation is one line here
(plus the host's handler if the operation is not a plain method call).

Columns:

``name``
    What a client sends.
``tracker``
    Only a tracker host has it.
``method``
    The POD/Tracker method a host runs for it; None when the host has its
    own handler (``Host._<name>``).
``plain``
    The client faces forward it as a method of the same name, arguments
    and result as they are (no value to wrap, nothing to convert).
``value``
    Its result holds stored values (a face wraps them as proxies, or the
    async faces hand out plain copies).
``writes``
    It may change the store, so it may sync (an ``fsync``) before it returns.
``blocks``
    It may wait long: a disk sync, or a lock another client holds.
``durable``
    What it wrote must be on disk before its caller goes on (a try counted
    as a key is handed out: after a crash no task is tried more than
    ``max_tries`` times). A batching host syncs once for all of a batch.
``no_wait``
    It never waits for another client's user lock (releasing it, and the
    creator's way out, which must not hang on a lock held elsewhere).
"""

from __future__ import annotations

from typing import NamedTuple


class Operation(NamedTuple):
    """One row of the table (see the module's docstring for the columns)."""

    name: str
    tracker: bool = False
    method: str | None = None
    plain: bool = False
    value: bool = False
    writes: bool = False
    blocks: bool = False
    durable: bool = False
    no_wait: bool = False


def _pod(name: str, **columns: bool) -> Operation:
    return Operation(name, method=name, **columns)


def _tracker(name: str, method: str | None = None, /, **columns: bool) -> Operation:
    return Operation(name, tracker=True, method=method or name, **columns)


def _own(name: str, /, tracker: bool = False, **columns: bool) -> Operation:
    return Operation(name, tracker=tracker, method=None, **columns)


_W = {"writes": True, "blocks": True}  # a write: it may sync

OPERATIONS: tuple[Operation, ...] = (
    # The POD's mapping methods and its own.
    _pod("__getitem__", value=True),
    _pod("__setitem__", **_W),
    _pod("__delitem__", plain=True, **_W),
    _pod("__contains__", plain=True),
    _pod("__len__", plain=True),
    _pod("pop", value=True, **_W),
    _pod("popitem", plain=True, value=True, **_W),
    _pod("setdefault", value=True, **_W),
    _pod("update", **_W),
    _pod("clear", plain=True, **_W),
    _pod("sync", plain=True, **_W),
    _pod("sync_key", plain=True, **_W),
    _pod("mark_dirty", plain=True, **_W),
    _pod("dirty", plain=True),
    _pod("hold", plain=True),
    _pod("unhold", plain=True, **_W),
    _pod("revert", plain=True, blocks=True),
    # The host's own: reads in chunks, Op records, the user lock, the way out.
    _own("get", value=True),
    _own("apply", value=True, **_W),
    _own("apply_many", **_W),
    _own("keys"),
    _own("items", value=True),
    _own("scan", value=True),
    _own("equals"),
    _own("attr"),
    _own("lock", blocks=True),
    _own("unlock", no_wait=True),
    _own("close", no_wait=True, **_W),
    _own("exit_sync", no_wait=True, **_W),
    # The tracker's methods.
    _tracker("add", plain=True, **_W),
    _tracker("add_if_absent", plain=True, **_W),
    _tracker("add_many", **_W),
    _tracker("add_many_if_absent", **_W),
    _tracker("mark_done", plain=True, **_W),
    _tracker("mark_not_done", plain=True, **_W),
    _tracker("done", plain=True),
    _tracker("abort", plain=True, **_W),
    _tracker("unabort", plain=True, **_W),
    _tracker("aborted", plain=True),
    _tracker("increment_tries", plain=True, **_W),
    _tracker("decrement_tries", plain=True, **_W),
    _tracker("reset_tries", plain=True, **_W),
    _tracker("tries", plain=True),
    _tracker("should_do", plain=True),
    _tracker("should_do_add", plain=True, **_W),
    _tracker("should_try", plain=True, durable=True, **_W),
    _tracker("should_try_add", plain=True, durable=True, **_W),
    _tracker("num_done", plain=True),
    _tracker("num_tried", plain=True),
    _tracker("num_aborted", plain=True),
    _tracker("num_waiting", plain=True),
    _tracker("next_due", plain=True),
    _tracker("retry", **_W),
    # try_*() loops (``tastypy.work``) and attempts (``tastypy.failures``).
    _own("next", tracker=True, value=True, durable=True, **_W),
    _own("drop", tracker=True),
    _tracker("begin", "_begin", value=True, durable=True, **_W),
    _tracker("fail", "_fail", **_W),
    _tracker("give_back", "_give_back", **_W),
)

#: Name -> operation.
BY_NAME = {operation.name: operation for operation in OPERATIONS}


def of(tracker: bool) -> tuple[Operation, ...]:
    """The operations of a POD host (``tracker=False``) or a tracker host."""
    return tuple(operation for operation in OPERATIONS if tracker or not operation.tracker)


def plain(tracker: bool) -> tuple[str, ...]:
    """Names the client faces forward as methods of the same name (POD's, or the tracker's own)."""
    return tuple(op.name for op in OPERATIONS if op.plain and op.tracker == tracker)
