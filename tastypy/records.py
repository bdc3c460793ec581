"""Task records: their fields, how they are checked, and the proxy that guards them.

A record is ``{'_done': bool, '_tries': int, '_aborted': bool, ...the user's
own fields}``. ``RecordDict`` is the proxy of a whole record: it refuses a bad
special field before anything changes, so the tracker never has to undo.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tastypy.observe import ObservableDict, ObservableList, normalize, unwrap

if TYPE_CHECKING:
    from tastypy.observe.proxy import _Observable

#: The special fields of a record and their defaults, in their order on disk.
DEFAULTS = {"_done": False, "_tries": 0, "_aborted": False}

#: Bits of a record's state, as the tracker counts them.
DONE, TRIED, ABORTED = 1, 2, 4


# The special fields as a tracker writes them, first in every record
# (``{**DEFAULTS, **x}``): one match per line of the texts joined by newlines,
# empty where a record does not start so (a 0.x or edited one).
_PREFIX = re.compile(
    r'^(?:(\{)"_done":(?:(t)rue|false),"_tries":(?:0|([1-9])[0-9]*),"_aborted":(?:(t)rue|false)[,}]|)',
    re.MULTILINE,
)
_PREFIX_BITS = {
    ("{", done, tried, aborted): (done == "t") * DONE | (tried != "") * TRIED | (aborted == "t") * ABORTED
    for done in ("", "t")
    for tried in ("", *"123456789")
    for aborted in ("", "t")
}


def bits_of_texts(texts: list[str]) -> list[int | None]:
    """The state bits of each record's JSON text, read from its first fields
    without decoding it; None for a text that does not start with the three
    special fields in their order (decode that one).

    A text that starts so is a dict whose special fields are of their kinds.
    """
    if not texts:
        return []
    found = _PREFIX.findall("\n".join(texts))
    if len(found) != len(texts):  # a text holding a newline: not one of ours
        return [None] * len(texts)
    return list(map(_PREFIX_BITS.get, found))


def check_field(key: Any, field: str, value: Any) -> None:
    """Refuse a value of a special field that is not of its kind."""
    where = f"tracker[{key!r}][{field!r}]"
    if field == "_tries":
        if type(value) is not int:
            raise TypeError(f"{where} must be an int >= 0, not {type(value).__name__} {value!r}")
        if value < 0:
            raise ValueError(f"{where} must be >= 0, not {value!r}")
    elif type(value) is not bool:
        raise TypeError(f"{where} must be True or False, not {type(value).__name__} {value!r}")


def duplicate_message(key: Any, where: Any) -> str:
    """What ``add(key)`` of a present key says, for a tracker at ``where`` (a folder, or ``URL#NAME``)."""
    return (
        f"{key!r} is already in the tracker at {where}; "
        "use add_if_absent() or add_many_if_absent() to skip present keys"
    )


def absent_error(key: Any, where: Any) -> KeyError:
    """The error of a tracker method given a key the tracker at ``where`` has not got."""
    return KeyError(
        f"{key!r} is not in the tracker at {where}; add it first "
        "with add() (or use should_do_add() / should_try_add())"
    )


def no_try_error(key: Any) -> ValueError:
    """The error of ``decrement_tries(key)`` on a record with no try."""
    return ValueError(f"tracker[{key!r}] has 0 tries: there is no try to take back")


def check_record(key: Any, value: Any) -> None:
    """Refuse what a change left in ``tracker[key]`` when it is no longer a record (the record guard)."""
    if type(value) is not dict:
        raise TypeError(f"tracker[{key!r}] must stay a dict (a task record), not {type(value).__name__}")
    for field in DEFAULTS:
        if field not in value:
            raise TypeError(
                f"cannot delete tracker[{key!r}][{field!r}]: every record keeps "
                "_done, _tries and _aborted; set it instead (e.g. tracker.reset_tries(key))"
            )
        check_field(key, field, value[field])


def normal_record(key: Any, value: Any) -> dict[str, Any]:
    """``value`` as the record ``tracker[key] = value`` stores: a dict in normal
    form with the special fields (defaults where absent), each checked."""
    plain = unwrap(value)
    if not isinstance(plain, dict):
        raise TypeError(
            f"tracker[{key!r}] = {type(value).__name__}: a tracker value must be a "
            f"dict (a task record, e.g. {{'note': ...}}); use tracker.add({key!r}) "
            "for an empty one"
        )
    record = {**DEFAULTS, **normalize(plain, (key,))}
    for field in DEFAULTS:
        check_field(key, field, record[field])
    return record


def bits_of(record: Mapping[str, Any]) -> int:
    """The DONE / TRIED / ABORTED bits of a record."""
    tries = record.get("_tries")
    return (
        (record.get("_done") is True) * DONE
        | (type(tries) is int and tries > 0) * TRIED
        | (record.get("_aborted") is True) * ABORTED
    )


class RecordDict(ObservableDict):
    """The proxy of a whole record: refuses, *before* changing anything, a
    mutation that would delete a special field or give it a wrong kind of value.

    Fields deeper down are the user's; their proxies are the ordinary ones.
    """

    __slots__ = ()

    def _self_refuse_delete(self, field: Any) -> None:
        if type(field) is str and field in DEFAULTS:
            key = self._self_path[0]
            raise TypeError(
                f"cannot delete tracker[{key!r}][{field!r}]: every record keeps "
                "_done, _tries and _aborted; set it instead (e.g. tracker.reset_tries(key))"
            )

    def _self_check(self, given: Mapping[Any, Any]) -> None:
        key = self._self_path[0]
        for field, value in given.items():
            if type(field) is str and field in DEFAULTS:
                check_field(key, field, unwrap(value))

    def __setitem__(self, field: Any, value: Any) -> None:
        self._self_check({field: value})
        super().__setitem__(field, value)

    def __delitem__(self, field: Any) -> None:
        self._self_refuse_delete(field)
        super().__delitem__(field)

    def pop(self, field: Any, *default: Any) -> Any:
        self._self_refuse_delete(field)
        return super().pop(field, *default)

    def popitem(self) -> tuple[Any, Any]:
        if self.__wrapped__:
            self._self_refuse_delete(next(reversed(self.__wrapped__)))
        return super().popitem()

    def clear(self) -> None:
        for field in self.__wrapped__:
            self._self_refuse_delete(field)
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        given = dict(*args, **kwargs)
        self._self_check(given)
        super().update(given)


#: Proxy kinds of a writable tracker: a record at the top, ordinary below.
RECORD_PROXY_TYPES: dict[type, type[_Observable]] = {dict: RecordDict, list: ObservableList}


def record_problem(key: Any, record: Any) -> str | None:
    """Why ``record`` is not a task record, or None."""
    if type(record) is not dict:
        return f"holds a {type(record).__name__}, not a dict"
    for field in DEFAULTS:
        if field not in record:
            return f"has no {field!r} field"
        try:
            check_field(key, field, record[field])
        except (TypeError, ValueError) as error:
            return f"has a bad field: {error}"
    return None


def folder_kind(pairs: Iterable[tuple[Any, Any]]) -> str:
    """What ``(key, value)`` pairs hold: 'Tracker' when every value is a task
    record, 'POD' when a value is no dict or lacks a special field, 'empty'
    when there are none.

    Raises ``ValueError`` naming the key when a value holds the special
    fields but one of them is bad (``'_tries': 'x'``): a damaged record.
    """
    kind = "empty"
    damaged = None
    for key, value in pairs:
        if type(value) is not dict or any(field not in value for field in DEFAULTS):
            return "POD"
        if damaged is None:
            problem = record_problem(key, value)
            if problem:
                damaged = f"key {key!r} {problem}"
        kind = "Tracker"
    if damaged is not None:
        raise ValueError(f"{damaged}: a task record needs _done (bool), _tries (int >= 0) and _aborted (bool)")
    return kind
