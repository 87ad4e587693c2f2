"""RateLimiter: never more than ``rate`` starts in any rolling second, also across threads."""

from __future__ import annotations

import itertools
import math
import threading
import time

import pytest

from litwatch.sources.ratelimit import SHARED_MARGIN, RateLimiter, shared_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def max_in_window(stamps: list[float], window: float) -> int:
    """The most timestamps in any half-open interval [t, t + window)."""
    stamps = sorted(stamps)
    best = 0
    j = 0
    for i, start in enumerate(stamps):
        j = max(j, i)
        while j < len(stamps) and stamps[j] < start + window:
            j += 1
        best = max(best, j - i)
    return best


@pytest.mark.parametrize("rate", [1, 3, 10])
def test_fake_clock_never_more_than_rate_per_second(rate):
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    stamps = []
    n = 5 * rate + 2
    for _ in range(n):
        limiter.acquire()
        stamps.append(clock())
    assert max_in_window(stamps, 1.0) == rate
    # and it is not slower than it needs to be: n starts take ceil(n / rate) - 1 seconds
    assert stamps[-1] - stamps[0] == pytest.approx(math.ceil(n / rate) - 1)


def test_first_burst_is_immediate_then_waits():
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert clock.sleeps == []
    clock.now += 0.25
    limiter.acquire()
    assert clock.sleeps == [pytest.approx(0.75)]


def test_fractional_rates_round_down_or_stretch_the_window():
    clock = FakeClock()
    limiter = RateLimiter(2.5, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(10):
        limiter.acquire()
        stamps.append(clock())
    assert max_in_window(stamps, 1.0) <= 2.5

    clock = FakeClock()
    slow = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(4):
        slow.acquire()
        stamps.append(clock())
    assert [b - a for a, b in itertools.pairwise(stamps)] == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
def test_rejects_nonsense_rates(rate):
    with pytest.raises(ValueError):
        RateLimiter(rate)


def test_threads_never_exceed_the_rate():
    # 4 threads x 10 acquisitions at 20/s: at least one second of real waiting.
    rate = 20
    limiter = RateLimiter(rate)
    stamps: list[float] = []
    stamps_lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(10):
            limiter.acquire()
            now = time.monotonic()
            with stamps_lock:
                stamps.append(now)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(stamps) == 40
    # The limiter reads the clock under its lock; the worker reads it again a moment later,
    # so allow 5 ms of scheduling jitter between the two readings.
    assert max_in_window(stamps, 1.0 - 0.005) <= rate
    assert max(stamps) - min(stamps) >= 0.95  # it did have to wait


def test_threads_at_rate_50_as_in_the_brief():
    limiter = RateLimiter(50)
    stamps: list[float] = []
    stamps_lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            limiter.acquire()
            with stamps_lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(stamps) == 40
    assert max_in_window(stamps, 1.0 - 0.005) <= 50


def test_shared_limiter_is_one_per_rate_and_lazy():
    a = shared_limiter(3)
    assert shared_limiter(3.0) is a
    assert shared_limiter(10) is not a
    assert a.rate == 3.0
    assert a.window == pytest.approx(1.0 + SHARED_MARGIN)  # slack for arrival jitter


def test_margin_widens_the_window():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep, margin=0.1)
    stamps = []
    for _ in range(6):
        limiter.acquire()
        stamps.append(clock())
    assert [s - stamps[0] for s in stamps] == pytest.approx([0, 0, 1.1, 1.1, 2.2, 2.2])
    with pytest.raises(ValueError):
        RateLimiter(2, margin=-0.1)


def test_shared_limiter_is_safe_to_create_from_many_threads():
    rate = 7.25  # a rate nobody else uses in this process
    seen: list[RateLimiter] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        seen.append(shared_limiter(rate))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(x) for x in seen}) == 1
