"""Nothing lost, nothing twice: real ``litwatch run`` subprocesses over 40 simulated days
of failing E-utilities, a misbehaving SMTP server, kill -9 at chosen moments, runs that
overlap, then a daemon and a cron run sharing the store on the real clock. The invariants
(``invariants.py``) are checked after every day; the figures go to
``<tmp>/fault-report.json`` and are printed (``pytest -s``).

Reproducible: everything random comes from ``LITWATCH_FAULT_SEED`` (default below).

    LITWATCH_FAULT_SEED=7 python -m pytest tests/faults -m faults -s -k fault_days
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    EDITOR,
    WATCHES,
    WRITER,
    FeedWatcher,
    Proc,
    World,
    drop_rule,
    queue_anyway,
    release,
    smtp_rules,
)
from tests.faults.invariants import Checker, Figures
from tests.faults.records import SYNTHETIC_BASE, TEMPLATE_PMID, derive_record

pytestmark = pytest.mark.faults

SEED = int(os.environ.get("LITWATCH_FAULT_SEED", "20210607"))
SEED_DAY = dt.datetime(2021, 4, 30, 8, 0, tzinfo=dt.UTC)
DAYS = int(
    os.environ.get("LITWATCH_FAULT_DAYS", "40")
)  # 2021-05-01 .. 2021-06-09; the slice's records were created up to 2021-06-07
RECOVERY_DAYS = 3
MAX_RECOVERY_DAYS = 12

# E-utilities faults drawn at random (the stall outlasts [entrez].timeout).
EUTILS_KINDS = [
    "status",
    "status",
    "backend_error",
    "json_error",
    "empty",
    "truncate",
    "reset",
    {"kind": "stall", "seconds": 1.4},
    {"kind": "drop_records", "fraction": 0.5},
    "new_element",
    "unknown_dtd",
]
SMTP_FAULTS = [
    "none", "none", "none",
    "rcpt-451", "rcpt-421", "data-451", "data-421", "rcpt-550-one", "drop-after-body",
    "auth-refused", "server-down",
]  # fmt: skip
CRASH_STAGES = [
    "esearch",
    "efetch",
    "commit",
    "digest",
    "smtp-body",
    "smtp-rcpt",
    "feed-write",
    "random",
]
PROCESS_EVENTS = ["plain"] * 4 + ["crash"] * 5 + ["concurrent"]
TOPICS = {  # title words that make a synthetic record match a watch
    "kratom": "Kratom use and withdrawal",
    "neuropathic": "Neuropathic pain after spinal injury",
    "pain": "Postoperative pain and opioid use",
    "cancer": "Tumor growth in a cancer cohort",
}


def moment(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Scenario:
    def __init__(self, world: World, figures: Figures, checker: Checker) -> None:
        self.world = world
        self.figures = figures
        self.checker = checker
        self.synthetic = 0
        self.template = world.eutils.record(TEMPLATE_PMID).xml
        self.waiting_rules: list[tuple[str, object]] = []  # SMTP faults not fired yet
        self.bodies_seen = 0  # of the server's unacknowledged bodies

    # --- faults -----------------------------------------------------------------------

    def eutils_faults(self, rng: random.Random, rate: float) -> None:
        self.world.eutils.faults.clear()
        if rate:
            self.world.eutils.faults.randomize(rng.randrange(2**31), rate, EUTILS_KINDS)

    def smtp_fault(self, kind: str) -> None:
        smtp = self.world.smtp
        self.figures.smtp_faults_planned[kind] += 1
        if kind == "rcpt-451":
            smtp.reply("RCPT", "451 4.3.0 mailbox busy, try later", times=2)
        elif kind == "rcpt-421":
            smtp.reply("RCPT", "421 4.3.2 service shutting down", times=1)
        elif kind == "data-451":
            smtp.reply("DATA", "451 4.3.0 local error", times=1)
        elif kind == "data-421":
            smtp.reply("DATA", "421 4.3.2 closing connection", times=1)
        elif kind == "rcpt-550-one":
            smtp.reply("RCPT", "550 5.1.1 no such user", recipient=WRITER, times=1)
        elif kind == "drop-after-body":
            smtp.drop("BODY", recipient=EDITOR, times=1)
        elif kind == "auth-refused":
            smtp.refuse_auth = True
        elif kind == "server-down":
            self.world.smtp_down()
        if kind not in ("none", "auth-refused", "server-down"):
            self.waiting_rules.append((kind, smtp_rules(smtp)[-1]))

    def smtp_day_over(self, kind: str, procs: list[Proc], rng: random.Random) -> None:
        """Count the SMTP faults that fired; bring the server back; and for some bodies
        the client never heard a reply to, let the server have queued them anyway."""
        self.world.smtp.refuse_auth = False
        self.world.smtp_back()
        if kind in ("auth-refused", "server-down") and any(
            "delivery FAILED" in p.stdout for p in procs
        ):
            self.figures.smtp_faults_fired[kind] += 1
        rules = smtp_rules(self.world.smtp)
        for kind_, rule in list(self.waiting_rules):
            if all(rule is not r for r in rules):
                self.figures.smtp_faults_fired[kind_] += 1
                self.waiting_rules.remove((kind_, rule))
        bodies = self.world.smtp.unacknowledged
        for received in bodies[self.bodies_seen :]:
            if rng.random() < 0.5:
                queue_anyway(self.world.smtp, received)
                self.figures.bodies_queued_without_reply += 1
        self.bodies_seen = len(bodies)

    def add_synthetic(self, created: dt.date, when: dt.datetime, watch: str) -> str:
        self.synthetic += 1
        pmid = SYNTHETIC_BASE + self.synthetic
        xml = derive_record(
            self.template,
            pmid,
            title=f"{TOPICS[watch]}: a synthetic record ({self.synthetic})",
            abstract=f"{TOPICS[watch]}. Made for the fault suite from a real record.",
            created=created,
        )
        (added,) = self.world.add_records(xml, when)
        return added

    # --- crashes ----------------------------------------------------------------------

    def crash(self, now: dt.datetime, stage: str, rng: random.Random) -> Proc:
        """Start a run and kill -9 it at ``stage``; returns the process (killed or, when
        the stage never came, finished normally)."""
        world = self.world
        lock = None
        own_before = smtp_rules(world.smtp)
        if stage in ("esearch", "efetch"):
            world.eutils.faults.push(stage, "stall", seconds=0.9)
            proc = world.spawn("run", iso(now), label=f"kill at {stage}")
            hit = world.wait_for(
                proc, lambda: not any(f["kind"] == "stall" for f in world.eutils.faults.pending)
            )
            if hit:
                time.sleep(rng.uniform(0.0, 0.3))
        elif stage == "commit":

            def crdt_searches() -> int:
                return sum(
                    1
                    for r in world.eutils.requests
                    if r.endpoint == "esearch"
                    and r.status == 200
                    and r.params.get("datetype") == "crdt"
                )

            before = crdt_searches()

            def searched() -> bool:
                return crdt_searches() - before >= len(WATCHES)

            proc = world.spawn("run", iso(now), label="kill at commit")
            hit = world.wait_for(proc, searched, step=0.002)
            if hit:
                lock = world.hold_write_lock()  # the run now waits at its next commit
                time.sleep(0.3)
        elif stage == "digest":
            world.smtp.stall("MAIL", seconds=3.0, times=1)
            (before,) = world.query("SELECT COUNT(*) FROM digests")[0]
            proc = world.spawn("run", iso(now), label="kill after digest assembly")
            hit = world.wait_for(
                proc, lambda: world.query("SELECT COUNT(*) FROM digests")[0][0] > before, step=0.002
            )
        elif stage in ("smtp-body", "smtp-rcpt"):
            smtp_stage = "BODY" if stage == "smtp-body" else "RCPT"
            world.smtp.stall(smtp_stage, seconds=1.5, times=1)
            before_bodies = len(world.smtp.unacknowledged)

            def at_stage() -> bool:
                if smtp_stage == "BODY":
                    return len(world.smtp.unacknowledged) > before_bodies
                rows = world.query("SELECT COUNT(*) FROM deliveries WHERE status = 'sending'")
                return bool(rows and rows[0][0])

            proc = world.spawn("run", iso(now), label=f"kill at SMTP {smtp_stage}")
            hit = world.wait_for(proc, at_stage, step=0.003)
            if hit and smtp_stage == "RCPT":
                time.sleep(0.2)
        elif stage == "feed-write":
            folder = world.feeds

            def writing() -> bool:
                try:
                    return any(n.endswith(".tmp") for n in os.listdir(folder))
                except FileNotFoundError:
                    return False

            proc = world.spawn("run", iso(now), label="kill at feed write")
            hit = world.wait_for(proc, writing, step=0.0005)
        else:
            delay = rng.uniform(0.3, 2.0)
            start = time.monotonic()
            proc = world.spawn("run", iso(now), label=f"kill after {delay:.2f} s")
            hit = world.wait_for(proc, lambda: time.monotonic() - start >= delay, step=0.01)
        if hit and proc.popen.poll() is None:
            world.kill(proc, stage)
            self.figures.crashes[stage] += 1
        else:
            world.finish(proc)
            self.figures.crashes_missed[stage] += 1
        if lock is not None:
            release(lock)
        for rule in smtp_rules(world.smtp):
            if all(rule is not r for r in own_before) and all(
                rule is not r for _, r in self.waiting_rules
            ):
                drop_rule(world.smtp, rule)  # the crash's own stall, if it never fired
        return proc

    # --- the days ---------------------------------------------------------------------

    def seed_day(self) -> list[Proc]:
        """Day 0: two runs at once on a store that does not exist yet; no faults."""
        world = self.world
        procs = [
            world.spawn("run", iso(SEED_DAY), label="seed A"),
            world.spawn("run", iso(SEED_DAY), label="seed B"),
        ]
        for proc in procs:
            world.finish(proc)
        self.figures.concurrency["two runs at once on a new store"] += 1
        assert not all(p.busy for p in procs), [p.tail() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [p.tail() for p in procs]
        return procs

    def day(self, index: int, day: dt.date) -> list[Proc]:
        rng = random.Random(f"{SEED}:{index}")
        world = self.world
        now = moment(day, 8)
        rate = rng.choice([0.0, 0.1, 0.25, 0.4])
        burst = rng.random() < 0.15
        smtp_kind = rng.choice(SMTP_FAULTS)
        event = rng.choice(PROCESS_EVENTS)
        late = rng.random() < 0.3
        if late:
            watch = rng.choice(list(WATCHES))
            # created two days ago (inside the overlap), but after the seeding day
            created = max(day - dt.timedelta(days=2), SEED_DAY.date() + dt.timedelta(days=1))
            self.add_synthetic(created, now - dt.timedelta(hours=1), watch)
            self.figures.late_records += 1
        procs: list[Proc] = []
        self.eutils_faults(rng, rate)
        if event == "crash":
            stage = rng.choice(CRASH_STAGES)
            procs.append(self.crash(now, stage, rng))
            self.eutils_faults(rng, rate)
            now = moment(day, 9)
        if burst:  # more failures than retries: the first watch searched fails today
            world.eutils.faults.push("esearch", "status", count=5, status=503)
        self.smtp_fault(smtp_kind)
        if event == "concurrent":
            pair = [
                world.spawn("run", iso(now), label="together A"),
                world.spawn("run", iso(now), label="together B"),
            ]
            procs += [world.finish(p) for p in pair]
            self.figures.concurrency["two runs at once"] += 1
            if all(p.busy for p in pair):
                raise AssertionError("both runs said another run holds the store")
        else:
            procs.append(world.run(iso(now)))
        self.smtp_day_over(smtp_kind, procs, rng)
        if burst:  # the truth the exit code must tell, known without asking litwatch
            ran = [p for p in procs[-2:] if not p.busy and not p.killed and p.now == iso(now)]
            first = sorted(WATCHES)[0]
            assert any(p.returncode == 1 and f"  {first}: FAILED" in p.stdout for p in ran), [
                (p.returncode, p.tail()) for p in ran
            ]
            self.figures.watch_failures_forced += 1
        return procs

    def quiet_day(self, day: dt.date, hour: int = 14) -> list[Proc]:
        self.world.eutils.faults.clear()
        self.world.smtp.clear_rules()
        return [self.world.run(iso(moment(day, hour)), label="recovery")]

    def daemon_day(self, rng: random.Random) -> tuple[list[Proc], dt.datetime]:
        """The real clock: a daemon and a cron run on the same store, E-utilities failing,
        new records created today."""
        world = self.world
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for watch in ("kratom", "neuropathic", "cancer"):
            self.add_synthetic(now.date(), now - dt.timedelta(hours=1), watch)
        self.eutils_faults(rng, 0.25)
        daemon = world.spawn("daemon", None, label="daemon")
        time.sleep(rng.uniform(0.0, 1.0))
        cron = world.run(iso(now), label="cron beside the daemon")
        world.wait_for(
            daemon,
            lambda: "daemon: scheduled" in daemon.err_path.read_text(),
            timeout=60,
            step=0.05,
        )
        daemon.popen.send_signal(signal.SIGTERM)
        world.finish(daemon)
        self.figures.concurrency["daemon and cron on one store"] += 1
        return [daemon, cron], max(now, dt.datetime.now(dt.UTC))


def test_forty_days_of_faults(tmp_path_factory: pytest.TempPathFactory) -> None:
    started = time.monotonic()
    figures = Figures(seed=SEED)
    report_path = tmp_path_factory.getbasetemp() / "fault-report" / "fault-days.json"
    report_path.parent.mkdir(exist_ok=True)
    tmp_path = tmp_path_factory.mktemp("fault-days")
    with World(tmp_path) as world:
        checker = Checker(world, SEED_DAY, figures)
        scenario = Scenario(world, figures, checker)
        watcher = FeedWatcher(world.feeds, checker.feed_problems.append)
        try:
            with watcher:
                checker.check_day("day 0 (seeding)", SEED_DAY, scenario.seed_day())
                figures.days += 1
                day = SEED_DAY.date()
                for index in range(1, DAYS + 1):
                    day = SEED_DAY.date() + dt.timedelta(days=index)
                    procs = scenario.day(index, day)
                    checker.check_day(f"day {index}", moment(day, 9), procs)
                    figures.days += 1
                day = recover(checker, scenario, figures, moment(day, 14))
                checker.check_final(day)

                rng = random.Random(f"{SEED}:daemon")
                procs, now = scenario.daemon_day(rng)
                checker.check_day("daemon + cron day (real clock)", now, procs)
                figures.days += 1
                later = recover(
                    checker, scenario, figures, now.replace(hour=14, minute=0, second=0)
                )
                checker.check_final(later)
        finally:
            figures.feed_versions_checked = watcher.versions
            figures.feed_reads = watcher.reads
            figures.wall_seconds = round(time.monotonic() - started, 1)
            report = figures.as_json()
            report["reproduce"] = (
                f"LITWATCH_FAULT_SEED={SEED} python -m pytest tests/faults -m faults -s -k fault_days"
            )
            report_path.write_text(json.dumps(report, indent=2, default=str))
            print_summary(report, report_path)
    assert figures.crashes.total() >= 10, figures.crashes
    assert sum(figures.eutils_faults.values()) >= 30


def recover(
    checker: Checker, scenario: Scenario, figures: Figures, last: dt.datetime
) -> dt.datetime:
    """Fault-free days until every expected paper reached every recipient (at least
    RECOVERY_DAYS, at most MAX_RECOVERY_DAYS: a digest carries max_papers at a time)."""
    for count in range(1, MAX_RECOVERY_DAYS + 1):
        last += dt.timedelta(days=1)
        checker.check_day(f"recovery {last.date()}", last, scenario.quiet_day(last.date()))
        figures.days += 1
        figures.recovery_days += 1
        if count >= RECOVERY_DAYS and not checker.undelivered(last):
            break
    return last


def print_summary(report: dict, path: Path) -> None:
    lines = [
        f"fault suite (seed {report['seed']}): {report['days']} simulated days"
        f" ({report['recovery_days']} of them fault-free recovery), {report['runs']} litwatch"
        f" processes, {report['wall_seconds']} s ({report['checking_seconds']:.0f} s checking)",
        f"  E-utilities faults served: {report['eutils_faults']}",
        f"  watch failures forced (more faults than retries): {report['watch_failures_forced']}",
        f"  records that reached PubMed late (inside the overlap): {report['late_records']}",
        f"  SMTP faults planned: {report['smtp_faults_planned']}",
        f"  SMTP faults fired: {report['smtp_faults_fired']}",
        f"  bodies the server queued though the client never got its reply:"
        f" {report['bodies_queued_without_reply']}",
        f"  kill -9 by stage: {report['crashes']}; stage never reached: {report['crashes_missed']}",
        f"  concurrency: {report['concurrency']}",
        f"  exit codes: {report['exit_codes']}",
        *(f"  {key}: {value}" for key, value in report["papers"].items()),
        f"  duplicates: {len(report['duplicates'])}, kinds:"
        f" {sorted({d['kind'] for d in report['duplicates']})}",
        f"  records downloaded twice: {len(report['refetches'])}, kinds:"
        f" {sorted({r['kind'] for r in report['refetches']})}",
        f"  requests NCBI's own rate limit refused (not injected): {report['rate_limited_by_ncbi']}",
        f"  feed versions checked: {report['feed_versions_checked']} ({report['feed_reads']}"
        f" reads, runs in flight included); temp files left: {report['stale_temp_files']}",
        f"  report: {path}",
        f"  reproduce: {report['reproduce']}",
    ]
    print("\n" + "\n".join(lines))
