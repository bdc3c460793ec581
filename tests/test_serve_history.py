"""serve's rates and ETA, on timelines of a job that runs, stops and resumes (times are given, not waited)."""

from __future__ import annotations

import pytest

from tastypy.serve.history import GAP, History

T0 = 1_800_000_000.0


def run(history: History, start: float, seconds: int, rate: float, done: int, every: float = 1.0) -> int:
    """Feed ``seconds`` of a job settling ``rate`` keys a second, sampled ``every`` seconds; the done count after."""
    t = start
    for _ in range(int(seconds / every)):
        t += every
        done += round(rate * every)
        history.observe(t, done, done)
    return done


@pytest.mark.parametrize("stopped", [120, 600, 3600 * 5])
def test_the_eta_sixty_seconds_after_a_resume_is_the_rate_since_the_resume(stopped):
    total = 100_000
    history = History(T0, 0, 0)
    done = run(history, T0, 600, 20, 0)  # 10 minutes at 20 keys/s
    now = T0 + 600 + stopped  # stopped: no change at all
    for t in range(int(T0 + 600), int(now), 5):
        history.observe(t, done, done)
    assert history.eta(now, total - done)["state"] == "paused"
    done = run(history, now, 60, 5, done)  # resumed slower: 5 keys/s
    now += 60
    eta = history.eta(now, total - done)
    actual = (total - done) / 5
    assert eta["state"] == "running"
    assert abs(eta["seconds"] - actual) <= 0.2 * actual, (eta, actual)
    assert eta["run_started"] > T0 + 600 + stopped - 1


def test_serve_started_after_the_resume_measures_from_the_first_change_it_sees():
    history = History(T0, 5000, 5000)  # the job has been stopped; serve opens
    assert history.eta(T0 + 1, 1000)["state"] == "waiting for the first change"
    for t in range(1, 200):
        history.observe(T0 + t, 5000, 5000)
    done = history.samples[-1][1]
    done = run(history, T0 + 200, 60, 4, done)
    eta = history.eta(T0 + 260, 2000)
    assert eta["seconds"] == pytest.approx(2000 / 4, rel=0.05)


def test_bursty_commits_are_not_taken_for_pauses():
    history = History(T0, 0, 0)
    done = 0
    t = T0
    for _ in range(20):  # 1,000 keys every 90 s: 11 keys/s in bursts
        for _ in range(90):
            t += 1
            history.observe(t, done, done)
        done += 1000
        history.observe(t, done, done)
    eta = history.eta(t + 30, 50_000)
    assert eta["state"] == "running"
    assert eta["seconds"] == pytest.approx(50_000 / (1000 / 90), rel=0.2)
    assert history.gap() > GAP


def test_rates_per_window_and_the_series_per_minute():
    history = History(T0, 0, 0)
    done = run(history, T0, 540, 2, 0)  # 9 minutes at 2/s
    run(history, T0 + 540, 60, 10, done)  # then a minute at 10/s
    now = T0 + 600
    assert history.rate(now, 60) == pytest.approx(10, rel=0.02)
    assert history.rate(now, 600) == pytest.approx((540 * 2 + 600) / 600, rel=0.02)
    series = history.series()
    assert series[0][0] == int(T0 // 60) * 60
    assert sum(n for _, n in series) == 540 * 2 + 600
    assert [t for t, _ in series] == list(range(series[0][0], series[-1][0] + 1, 60))


def test_finished_and_undone_keys():
    history = History(T0, 10, 10)
    history.observe(T0 + 1, 10, 10)
    assert history.eta(T0 + 1, 0) == {"seconds": 0.0, "state": "finished", "rate": None, "run_started": None}
    history.observe(T0 + 2, 8, 8)  # mark_not_done: fewer done, nothing breaks
    assert history.rate(T0 + 2, 60) == 0.0
