"""Random damage to every kind of file is reported, never read as other data.

A fast seeded sample; ``python tests/stress/damage_trials.py`` runs hundreds a kind.
"""

from __future__ import annotations

import random

import pytest
from store_helpers import DAMAGE_KINDS, DAMAGES, damage_trial

TRIALS = 30


# A journal cut short is what a crash leaves: tests/test_store_crash.py covers it.
CASES = [(kind, how) for kind in DAMAGE_KINDS for how in DAMAGES if (kind, how) != ("journal", "truncate")]


@pytest.mark.parametrize(("kind", "how"), CASES)
def test_random_damage_is_never_silent(tmp_path, kind, how):
    rng = random.Random(f"{kind}/{how}")
    outcomes = [damage_trial(tmp_path, kind, how, rng) for _ in range(TRIALS)]
    assert "silent" not in outcomes, outcomes
    assert outcomes.count("error") > TRIALS // 2, outcomes
