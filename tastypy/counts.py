"""Shares of a tracker's tasks, derived from its counts.

``Fractions`` gives every tracker face (local, shared, Redis) the same
``fraction_*`` and ``percent_*`` methods from the three counts its host
keeps: it needs only ``num_done()``, ``num_tried()``, ``num_aborted()`` and
``len()`` of the object it is mixed into.
"""

from __future__ import annotations


class Fractions:
    """``fraction_*`` / ``percent_*`` from ``num_*()`` and ``len()``."""

    def _fraction(self, count: int) -> float:
        total = len(self)  # type: ignore[arg-type]
        return count / total if total else 0.0

    def fraction_done(self) -> float:
        """``num_done() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_done())  # type: ignore[attr-defined]

    def fraction_tried(self) -> float:
        """``num_tried() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_tried())  # type: ignore[attr-defined]

    def fraction_aborted(self) -> float:
        """``num_aborted() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_aborted())  # type: ignore[attr-defined]

    def percent_done(self, decimals: int = 2) -> str:
        """The share of done tasks, e.g. ``'34.70 %'``."""
        return percent(self.fraction_done(), decimals)

    def percent_not_done(self, decimals: int = 2) -> str:
        """The share of tasks not done; ``'0.00 %'`` when empty."""
        return self._percent_not(self.num_done(), decimals)  # type: ignore[attr-defined]

    def percent_tried(self, decimals: int = 2) -> str:
        """The share of tasks tried at least once."""
        return percent(self.fraction_tried(), decimals)

    def percent_not_tried(self, decimals: int = 2) -> str:
        """The share of tasks never tried; ``'0.00 %'`` when empty."""
        return self._percent_not(self.num_tried(), decimals)  # type: ignore[attr-defined]

    def percent_aborted(self, decimals: int = 2) -> str:
        """The share of aborted tasks."""
        return percent(self.fraction_aborted(), decimals)

    def percent_not_aborted(self, decimals: int = 2) -> str:
        """The share of tasks not aborted; ``'0.00 %'`` when empty."""
        return self._percent_not(self.num_aborted(), decimals)  # type: ignore[attr-defined]

    def _percent_not(self, count: int, decimals: int) -> str:
        # One len() for both terms: a shared host may change in between calls.
        total = len(self)  # type: ignore[arg-type]
        return percent((total - count) / total if total else 0.0, decimals)


def percent(fraction: float, decimals: int) -> str:
    """``fraction`` as a percentage with ``decimals`` decimals, e.g. ``'34.70 %'``."""
    if type(decimals) is not int or decimals < 0:
        raise ValueError(f"decimals must be an int >= 0, not {decimals!r}")
    return f"{100 * fraction:.{decimals}f} %"
