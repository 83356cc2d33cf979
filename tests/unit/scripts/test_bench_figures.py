"""The figures ``make bench`` prints from the jobs' own times and the machine's counters
(``tests/benchmarks``): the drain window, the rate in it, the cores busy, the Aer windows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from tests.benchmarks.aer_ceiling import GAP, _windows
from tests.benchmarks.run_all import MachineBusy, busy_line, drain_rate, drain_window

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _job(worker: str, start: float, finish: float) -> dict:
    return {
        "worker": worker,
        "started": T0 + timedelta(seconds=start),
        "finished": T0 + timedelta(seconds=finish),
    }


# Worker a starts at 0 s and finishes at 4 s; b starts late (1 s) and stops early (3 s).
DRAIN = [
    _job("a", 0.0, 0.5),
    _job("a", 1.0, 1.5),
    _job("a", 2.0, 2.5),
    _job("a", 3.5, 4.0),
    _job("b", 1.0, 2.0),
    _job("b", 2.0, 3.0),
]


def test_the_drain_window_is_the_time_every_worker_was_at_work():
    start, end, inside = drain_window(DRAIN)
    assert (start, end) == (T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    assert inside == 4  # a's 1.0 and 2.0 jobs and both of b's; a's first and last are out


def test_the_drain_rate_counts_only_the_jobs_inside_the_window():
    assert drain_rate(DRAIN) == pytest.approx(4 / 2.0)


def test_one_worker_drain_spans_its_first_start_to_its_last_finish():
    jobs = [_job("a", 0.0, 1.0), _job("a", 1.0, 2.5)]
    assert drain_window(jobs)[2] == 2
    assert drain_rate(jobs) == pytest.approx(2 / 2.5)


def _busy(samples: list[tuple[float, int]]) -> MachineBusy:
    busy = MachineBusy()  # not started: the samples are the test's
    busy.ticks = 100
    busy.samples = [(T0.timestamp() + t, ticks) for t, ticks in samples]
    return busy


def test_cores_busy_is_the_busy_ticks_per_second_inside_the_window():
    # 150 ticks a second at 100 ticks a core-second: 1.5 cores; the sample at 5 s is outside
    busy = _busy([(0.5, 1000), (1.0, 1075), (2.0, 1225), (3.0, 1375), (5.0, 9999)])
    start, end = T0 + timedelta(seconds=1), T0 + timedelta(seconds=3)
    assert busy.cores_busy(start, end) == pytest.approx(1.5)


def test_cores_busy_is_unknown_with_fewer_than_two_samples_in_the_window():
    busy = _busy([(0.0, 0), (10.0, 1000)])  # no figure rather than a wrong one
    assert math.isnan(busy.cores_busy(T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)))


def test_busy_line_gives_the_cores_and_the_cpu_a_job():
    # 1.5 cores for the 2 s window: 3 core-seconds for the 4 jobs inside, 750 ms each
    busy = _busy([(1.0, 0), (2.0, 150), (3.0, 300)])
    assert busy_line(busy, [DRAIN]) == "1.50 cores (750.00 ms a job)"


def test_the_aer_windows_follow_each_other_with_a_gap():
    windows = _windows(100.0, 2.0)
    assert windows == [
        (100.0, 102.0),
        (102.0 + GAP, 104.0 + GAP),
        (104.0 + 2 * GAP, 106.0 + 2 * GAP),
    ]
