"""The daemon: APScheduler wiring only. One cron job per watch (collect it, then deliver
what is due) and one per digest (deliver what is due).

Catch-up after downtime needs no job store: at start one run collects every watch from its
stored watermark and delivers the digests whose schedule fired while the daemon was down
(once: the store remembers which scheduled moments have a digest).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from litwatch.cron import cron_trigger
from litwatch.records import Subscription, Watch

log = logging.getLogger(__name__)

# job(watches to collect) -> None; an empty list means "deliver only"
Job = Callable[[Sequence[Watch]], None]


def build_scheduler(
    watches: Sequence[Watch], digests: Sequence[Subscription], job: Job
) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},  # runs never overlap
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone="UTC",
    )
    for watch in watches:
        if watch.enabled:
            scheduler.add_job(
                job,
                cron_trigger(watch.schedule, "UTC"),
                args=[[watch]],
                id=f"watch:{watch.name}",
                name=f"collect {watch.name}",
            )
    for sub in digests:
        scheduler.add_job(
            job,
            cron_trigger(sub.schedule, sub.timezone),
            args=[[]],
            id=f"digest:{sub.name}",
            name=f"deliver {sub.name}",
        )
    return scheduler


def run_daemon(
    watches: Sequence[Watch], digests: Sequence[Subscription], job: Job, *, catch_up: bool = True
) -> None:
    """Blocks until SIGTERM or SIGINT; the job that is running then is finished first."""
    scheduler = build_scheduler(watches, digests, job)
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        log.info("daemon: %s received, stopping after the current job", signal.Signals(signum).name)
        stopping.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if catch_up:
            log.info("daemon: catching up from the stored watermarks")
            job([w for w in watches if w.enabled])
        for scheduled in scheduler.get_jobs():
            log.info("daemon: scheduled %s (%s)", scheduled.name, scheduled.trigger)
        if not stopping.is_set():
            scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("daemon: stopped")
