"""The tracker operations of a RedisLink, and its shared work: ``try_keys()`` loops and their claims."""

from __future__ import annotations

import collections
import threading
from typing import Any

from tastypy.errors import DuplicateKeyError
from tastypy.failures import _number
from tastypy.observe import encode
from tastypy.records import duplicate_message, no_try_error
from tastypy.redis import plan
from tastypy.redis.lease import process_token
from tastypy.redis.mapping import MappingOps
from tastypy.redis.plan import Plan

#: Keys a ``next`` script looks at before it lets other clients in.
BUDGET = 500


class TrackerOps(MappingOps):
    """The Tracker's methods and ``try_keys()``'s claims, each the plan of one script."""

    #: This process's ``try_keys()`` loops (the renewer thread reads them too).
    _loops: dict[str, _Loop]
    _work: threading.Lock

    def _forked(self) -> None:
        super()._forked()
        self._loops = {}
        self._work = threading.Lock()

    # -- the tracker's methods ---------------------------------------------------

    def _add(self, key: Any) -> Plan[None]:
        got = yield from self._run("ADD", "strict", self._key(key))
        if got[0] == 0:
            raise DuplicateKeyError(self._duplicate(key))

    def _add_if_absent(self, key: Any) -> Plan[bool]:
        added: bool = (yield from self._run("ADD", "absent", self._key(key)))[0] == 1
        return added

    def _add_many(self, keys: list[Any]) -> Plan[None]:
        seen: set[str] = set()
        ktexts = []
        for key in keys:
            ktext = self._key(key)
            if ktext in seen:
                raise DuplicateKeyError(self._duplicate(key) + "; nothing was added")
            seen.add(ktext)
            ktexts.append(ktext)
        if ktexts:
            got = yield from self._run("ADD", "strict", *ktexts)
            if got[0] == 0:
                raise DuplicateKeyError(self._duplicate(self._key_of(got[1])) + "; nothing was added")

    def _add_many_if_absent(self, keys: list[Any]) -> Plan[int]:
        ktexts = list(dict.fromkeys(self._key(key) for key in keys))
        added: int = (yield from self._run("ADD", "absent", *ktexts))[0] if ktexts else 0
        return added

    def _duplicate(self, key: Any) -> str:
        return duplicate_message(key, self.where)

    def _field(self, key: Any, what: str, revisit_ms: str = "") -> Plan[None]:
        ktext = self._lookup(key)
        got = None if ktext is None else (yield from self._run("FIELD", ktext, what, revisit_ms))
        if got is None:
            raise self._absent(key)
        if got == 0:
            raise no_try_error(key)

    def _mark_done(self, key: Any, *, revisit_after: float | None = None) -> Plan[None]:
        return self._field(key, "done", "" if revisit_after is None else str(_ms(revisit_after, "revisit_after")))

    def _mark_not_done(self, key: Any) -> Plan[None]:
        return self._field(key, "not_done")

    def _abort(self, key: Any) -> Plan[None]:
        return self._field(key, "abort")

    def _unabort(self, key: Any) -> Plan[None]:
        return self._field(key, "unabort")

    def _increment_tries(self, key: Any) -> Plan[None]:
        return self._field(key, "inc")

    def _decrement_tries(self, key: Any) -> Plan[None]:
        return self._field(key, "dec")

    def _reset_tries(self, key: Any) -> Plan[None]:
        return self._field(key, "reset")

    # -- attempts and due times (``tastypy.failures``): the server's clock --------

    def _holds(self, ktext: str) -> bool:
        """Whether a ``try_keys()`` loop of this process was handed ``ktext``."""
        with self._work:
            return any(ktext in state.handed for state in self._loops.values())

    def _begin(self, key: Any) -> Plan[Any]:
        ktext = self._lookup(key)
        if ktext is None:
            raise self._absent(key)
        if not self._holds(ktext):
            yield from self._field(key, "inc")
        return (yield from self._getitem(key))

    def _fail(self, key: Any, info: dict[str, Any], wait: float) -> Plan[None]:
        ktext = self._lookup(key)
        texts = [encode(info[part]) for part in ("type", "message", "traceback")]
        got = None
        if ktext is not None:
            got = yield from self._run("FAIL", ktext, _ms(wait, "wait"), self.max_tries, *texts)
        if got is None:
            raise self._absent(key)

    def _give_back(self, key: Any) -> Plan[None]:
        return self._field(key, "give_back")

    def _retry(self, keys: list[Any]) -> Plan[int]:
        ktexts = [self._lookup(key) for key in keys]
        if None in ktexts:
            raise self._absent(keys[ktexts.index(None)])
        # Every key checked present before the first reset: a bad list changes nothing.
        present = yield plan.Pipeline(tuple(plan.call("hexists", self._values, ktext) for ktext in ktexts))
        if not all(present):
            raise self._absent(keys[present.index(0)])
        for key in keys:
            yield from self._field(key, "retry")
        return len(keys)

    def _waiting(self) -> Plan[tuple[int, float | None]]:
        count, first = yield from self._run("WAITING", self.max_tries)
        return int(count), (int(first) / 1000 if first else None)

    def _num_waiting(self) -> Plan[int]:
        return (yield from self._waiting())[0]

    def _next_due(self) -> Plan[float | None]:
        return (yield from self._waiting())[1]

    def _flags(self, key: Any) -> Plan[dict[str, Any] | None]:
        found, record = yield from self._get(key)
        return record if found else None

    def _done(self, key: Any) -> Plan[bool]:
        record = yield from self._flags(key)
        return record is not None and record["_done"]

    def _aborted(self, key: Any) -> Plan[bool]:
        record = yield from self._flags(key)
        return record is not None and record["_aborted"]

    def _tries(self, key: Any) -> Plan[int]:
        record = yield from self._flags(key)
        if record is None:
            raise self._absent(key)
        tries: int = record["_tries"]
        return tries

    def _should(self, key: Any, allow_aborted: bool, add: bool, count: bool) -> Plan[bool]:
        ktext = self._key(key) if add else self._lookup(key)
        got = None
        if ktext is not None and not (add or count):
            got = yield from self._run("PEEK", ktext, _flag(allow_aborted), self.max_tries)  # no-writes
        elif ktext is not None:
            got = yield from self._run(
                "SHOULD", ktext, _flag(allow_aborted), self.max_tries, _flag(add), _flag(count)
            )
        if got is None:
            raise self._absent(key)
        yes: bool = got == 1
        return yes

    def _should_do(self, key: Any, allow_aborted: bool = False) -> Plan[bool]:
        return self._should(key, allow_aborted, False, False)

    def _should_do_add(self, key: Any, allow_aborted: bool = False) -> Plan[bool]:
        return self._should(key, allow_aborted, True, False)

    def _should_try(self, key: Any, allow_aborted: bool = False) -> Plan[bool]:
        return self._should(key, allow_aborted, False, True)

    def _should_try_add(self, key: Any, allow_aborted: bool = False) -> Plan[bool]:
        return self._should(key, allow_aborted, True, True)

    def _counter(self, name: str) -> Plan[int]:
        return int((yield plan.call("hget", self._meta, name)) or 0)

    def _num_done(self) -> Plan[int]:
        return self._counter("done")

    def _num_tried(self) -> Plan[int]:
        return self._counter("tried")

    def _num_aborted(self) -> Plan[int]:
        return self._counter("aborted")

    def _scan(
        self, start: int, count: int, test: str, allow_aborted: bool, values: bool
    ) -> Plan[tuple[list[Any], int, bool]]:
        got = yield from self._run("SCAN", start, count, test, _flag(allow_aborted), self.max_tries, _flag(values))
        found = [
            (self._key_of(got[i]), self._value(got[i], got[i + 1])) if values else self._key_of(got[i])
            for i in range(2, len(got), 2)
        ]
        return found, int(got[0]), got[1] == "1"

    # -- shared work ---------------------------------------------------------------

    def _loop(self, task: Any) -> str:
        return f"{process_token()}:{task}"

    def _next(self, task: Any, start: int, allow_aborted: bool, values: bool) -> Plan[Any]:
        loop = self._loop(task)
        with self._work:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _Loop()
        self._watch()
        with self._work:
            if state.claimed and not values:
                # Claimed ahead in an earlier round trip; the key before stays
                # held (and renewed) until the next round trip frees it.
                ktext, after = state.claimed.popleft()
                state.handed.append(ktext)
                return self._key_of(ktext), after, None
        want = 1 if values else self.prefetch
        while True:
            for ktext in [k for k, position in state.orphans.items() if position < start]:
                del state.orphans[ktext]
            release = list(state.handed)
            got = yield from self._run(
                "NEXT", loop, start, _flag(allow_aborted), self.max_tries, _flag(values),
                self._lease_ms, BUDGET, want, len(release), *release, *state.orphans,
            )
            with self._work:
                del state.handed[: len(release)]
                if got[0] == "keys":
                    claims = [got[i : i + 4] for i in range(1, len(got), 4)]
                    for ktext, _, _, orphan in claims:
                        if orphan:
                            state.orphans[ktext] = int(orphan)
                    state.handed.append(claims[0][0])
                    state.claimed.extend((ktext, int(after)) for ktext, after, _, _ in claims[1:])
            if got[0] == "keys":
                ktext, after, text, _ = claims[0]
                return self._key_of(ktext), int(after), self._value(ktext, text) if values else None
            if got[0] == "end":
                return None
            if got[0] == "wait":  # only keys waiting for their _retry_at are left
                return None, start, int(got[1]) / 1000
            start = int(got[1])

    def _drop(self, task: Any) -> Plan[None]:
        with self._work:
            state = self._loops.pop(self._loop(task), None)
        if state is not None:
            yield from self._free(self._loop(task), state)

    def _free(self, loop: str, state: _Loop) -> Plan[None]:
        """The loop ended: free its unfinished keys, give back those it never started."""
        back = [ktext for ktext, _ in state.claimed]
        yield from self._run("DROP", loop, len(state.handed), *state.handed, *back)

    def _renew_claims(self) -> Plan[None]:
        """Extend the claims of this process's loops."""
        with self._work:
            held = [
                part
                for loop, state in self._loops.items()
                for ktext in [*state.handed, *(k for k, _ in state.claimed)]
                for part in (loop, ktext)
            ]
        if held:
            yield from self._run("RENEW", self._lease_ms, *held)

    def _free_all(self) -> Plan[None]:
        """This link closes: end its loops (their claims expire anyway if this fails)."""
        with self._work:
            loops, self._loops = self._loops, {}
        for loop, state in loops.items():
            yield from self._free(loop, state)


class _Loop:
    """A ``try_keys()`` loop of this process: what it holds on the server."""

    __slots__ = ("claimed", "handed", "orphans")

    def __init__(self) -> None:
        #: Handed to the loop, not freed yet (freed by the next round trip, if not finished).
        self.handed: list[str] = []
        #: Claimed ahead (key text, next start), in order, not handed yet.
        self.claimed: collections.deque[tuple[str, int]] = collections.deque()
        #: Orphans handed ahead of the loop's scan, by position: not to be handed twice in one pass.
        self.orphans: dict[str, int] = {}



def _flag(value: bool) -> str:
    return "1" if value else ""


def _ms(seconds: float, what: str) -> int:
    """Whole milliseconds of ``seconds`` (the server's clock counts in them)."""
    if not _number(seconds) or not 0 <= seconds < 1e12:
        raise ValueError(f"{what} must be a number of seconds >= 0, not {seconds!r}")
    return round(seconds * 1000)
