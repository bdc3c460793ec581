"""Many machines for real (network namespaces): a cut-off worker's key goes to the other.

The scenario is tests/stress/netns_redis.py (runnable by hand as root); it
runs here where namespaces can be made, and skips saying why elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "stress"))
import netns_redis

pytestmark = pytest.mark.timeout(2 * netns_redis.TIMEOUT)


def test_a_cut_off_workers_key_goes_to_the_other_machine():
    why = netns_redis.can_run()
    if why:
        pytest.skip(why)
    netns_redis.check(netns_redis.run())
