"""Shares of a tracker's tasks, derived from its counts.

``Fractions`` gives every tracker face (local, shared, Redis) the same
``fraction_*`` and ``percent_*`` methods from the three counts its host
keeps: it needs only ``num_done()``, ``num_tried()``, ``num_aborted()`` and
``len()`` of the object it is mixed into.

``TaskRecord`` is the type of a record's three counted fields: a tracker is
typed by a ``TypedDict`` that extends it with the user's own fields
(``Tracker[str, Page]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, TypeVar


class TaskRecord(TypedDict):
    """The fields every task record holds; extend it with your own (``total=False`` for optional ones)."""

    _done: bool
    _tries: int
    _aborted: bool


# The record parameter of the tracker faces; ``Any`` when not given (see ``tastypy.keys``).
if TYPE_CHECKING:
    from typing_extensions import TypeVar as TypeVarWithDefault

    R = TypeVarWithDefault("R", bound=TaskRecord, default=Any)
else:
    R = TypeVar("R", bound=TaskRecord)


class Fractions:
    """``fraction_*`` / ``percent_*`` from ``num_*()`` and ``len()``."""

    if TYPE_CHECKING:  # what the class it is mixed into provides

        def __len__(self) -> int: ...
        def num_done(self) -> int: ...
        def num_tried(self) -> int: ...
        def num_aborted(self) -> int: ...

    def _fraction(self, count: int) -> float:
        total = len(self)
        return count / total if total else 0.0

    def fraction_done(self) -> float:
        """``num_done() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_done())

    def fraction_tried(self) -> float:
        """``num_tried() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_tried())

    def fraction_aborted(self) -> float:
        """``num_aborted() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_aborted())

    def percent_done(self, decimals: int = 2) -> str:
        """The share of done tasks, e.g. ``'34.70 %'``."""
        return percent(self.fraction_done(), decimals)

    def percent_not_done(self, decimals: int = 2) -> str:
        """The share of tasks not done; ``'0.00 %'`` when empty."""
        return self._percent_not(self.num_done(), decimals)

    def percent_tried(self, decimals: int = 2) -> str:
        """The share of tasks tried at least once."""
        return percent(self.fraction_tried(), decimals)

    def percent_not_tried(self, decimals: int = 2) -> str:
        """The share of tasks never tried; ``'0.00 %'`` when empty."""
        return self._percent_not(self.num_tried(), decimals)

    def percent_aborted(self, decimals: int = 2) -> str:
        """The share of aborted tasks."""
        return percent(self.fraction_aborted(), decimals)

    def percent_not_aborted(self, decimals: int = 2) -> str:
        """The share of tasks not aborted; ``'0.00 %'`` when empty."""
        return self._percent_not(self.num_aborted(), decimals)

    def _percent_not(self, count: int, decimals: int) -> str:
        # One len() for both terms: a shared host may change in between calls.
        total = len(self)
        return percent((total - count) / total if total else 0.0, decimals)


def percent(fraction: float, decimals: int) -> str:
    """``fraction`` as a percentage with ``decimals`` decimals, e.g. ``'34.70 %'``."""
    if type(decimals) is not int or decimals < 0:
        raise ValueError(f"decimals must be an int >= 0, not {decimals!r}")
    return f"{100 * fraction:.{decimals}f} %"
