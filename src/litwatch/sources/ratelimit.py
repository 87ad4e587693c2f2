"""A process-wide limit on how many requests start per second (NCBI: 3/s, or 10/s with a key).

``RateLimiter`` keeps the start times of the last ``capacity`` acquisitions and lets a new
one through only when the oldest of them is at least ``window`` seconds old, so any window
of that length holds at most ``capacity`` starts:

- ``rate >= 1``: ``capacity = floor(rate)``, ``window = 1 s`` (2.5/s is rounded down to 2/s:
  never above the limit);
- ``rate < 1``: ``capacity = 1``, ``window = 1 / rate`` (0.5/s is one start every 2 s).

NCBI counts per API key (or IP), not per process: ``shared_limiter`` returns a
``SharedRateLimiter``, which keeps the start times in a file shared by this user's litwatch
processes, so a run that starts right after another one does not exceed the limit.

A start time is recorded under the lock at the moment the slot is granted; waiting happens
outside the lock, then the check is made again, so a thread that sleeps never blocks the others
from reading the clock.

``margin`` widens the window. The server counts requests when they *arrive*: a new connection
or network jitter delays one request more than the next, so starts exactly one second apart
can arrive 0.99 s apart and be the eleventh "in one second" (seen against the local stand-in:
one 429 in twelve requests at 10/s without a margin). ``shared_limiter`` therefore uses
``SHARED_MARGIN`` (0.1 s): at most ``rate`` starts in any 1.1 s, under 10% of throughput.
"""

from __future__ import annotations

import fcntl
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

__all__ = ["RateLimiter", "SharedRateLimiter", "shared_limiter"]


class RateLimiter:
    """At most ``rate`` request starts per rolling second; thread-safe. One per process and rate."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        margin: float = 0.0,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of requests per second, not {rate!r}")
        if not (margin >= 0 and math.isfinite(margin)):
            raise ValueError(f"margin must be a number of seconds >= 0, not {margin!r}")
        self.rate = float(rate)
        self.capacity = max(1, math.floor(self.rate))
        self.window = (1.0 if self.rate >= 1 else 1.0 / self.rate) + margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()

    def acquire(self) -> None:
        """Block until a request may start, and count it as started."""
        while True:
            with self._lock:
                now = self._clock()
                starts = self._starts
                while starts and starts[0] + self.window <= now:
                    starts.popleft()
                if len(starts) < self.capacity:
                    starts.append(now)
                    return
                wait = starts[0] + self.window - now
            self._sleep(wait)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}, window={self.window:g})"


class SharedRateLimiter(RateLimiter):
    """A ``RateLimiter`` whose start times are shared by every litwatch process of this
    user through a small file (read and rewritten under an exclusive ``flock``): NCBI
    counts requests per API key, or per IP without one, not per process, so a run that
    starts right after another (cron jobs in a row, a daemon beside cron) must count the
    other's last second too. Wall-clock times; without a usable file it falls back to
    counting this process alone."""

    def __init__(
        self,
        rate: float,
        path: Path,
        *,
        margin: float = 0.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(rate, clock=time.time, sleep=sleep, margin=margin)
        self.path = path

    def acquire(self) -> None:
        while True:
            with self._lock:
                try:
                    wait = self._claim()
                except OSError:
                    wait = None  # no shared file to be had: this process alone
                    shared = False
                else:
                    shared = True
            if not shared:
                return super().acquire()
            if wait is None:
                return
            self._sleep(wait)

    def _claim(self) -> float | None:
        """Take a slot (None) or say how long to wait; raises OSError without a file."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            if os.fstat(fd).st_uid != os.getuid():
                raise PermissionError(f"{self.path} belongs to another user")
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            starts = []
            for token in os.read(fd, 1 << 16).split():
                try:
                    moment = float(token)
                except ValueError:
                    continue
                if now - self.window < moment <= now + self.window:  # a clock set back
                    starts.append(moment)  # more than a window forgets the rest
            starts.sort()
            if len(starts) >= self.capacity:
                return starts[-self.capacity] + self.window - now
            starts.append(now)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, " ".join(f"{t:.6f}" for t in starts).encode("ascii"))
            return None
        finally:
            os.close(fd)  # releases the flock


def shared_path(rate: float) -> Path:
    """One file per user and rate: in $XDG_RUNTIME_DIR (private) or the temp folder."""
    folder = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(folder) / f"litwatch-{os.getuid()}-eutils-{rate:g}.starts"


SHARED_MARGIN = 0.1  # seconds added to the window of the process-wide limiters

_registry: dict[float, RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(rate: float) -> RateLimiter:
    """The one limiter of this process for ``rate`` (created on first use, with a margin),
    counting the requests of this user's other litwatch processes too."""
    key = float(rate)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = SharedRateLimiter(
                key, shared_path(key), margin=SHARED_MARGIN
            )
        return limiter
