"""``fraction_*`` and ``percent_*`` come from ``num_*()`` and ``len()`` alone."""

from __future__ import annotations

import pytest

from tastypy.counts import Fractions


class Host(Fractions):
    """Anything with the three counts and a length."""

    def __init__(self, total: int, done: int, tried: int, aborted: int) -> None:
        self.total, self.done, self.tried, self.aborted = total, done, tried, aborted

    def __len__(self) -> int:
        return self.total

    def num_done(self) -> int:
        return self.done

    def num_tried(self) -> int:
        return self.tried

    def num_aborted(self) -> int:
        return self.aborted


def test_fractions_and_percents():
    host = Host(total=8, done=2, tried=6, aborted=1)
    assert (host.fraction_done(), host.fraction_tried(), host.fraction_aborted()) == (0.25, 0.75, 0.125)
    assert host.percent_done() == "25.00 %" and host.percent_not_done() == "75.00 %"
    assert host.percent_tried(0) == "75 %" and host.percent_not_tried(1) == "25.0 %"
    assert host.percent_aborted(3) == "12.500 %" and host.percent_not_aborted() == "87.50 %"


def test_an_empty_host_is_zero_everywhere():
    host = Host(0, 0, 0, 0)
    assert host.fraction_done() == host.fraction_tried() == host.fraction_aborted() == 0.0
    assert {host.percent_not_done(), host.percent_not_tried(), host.percent_not_aborted()} == {"0.00 %"}


@pytest.mark.parametrize("bad", [-1, 1.5, "2"])
def test_bad_decimals_are_refused(bad):
    with pytest.raises(ValueError, match="decimals"):
        Host(1, 1, 1, 0).percent_done(bad)
