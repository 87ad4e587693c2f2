"""The promises, checked after every simulated day: nothing lost, nothing twice, polite to
NCBI, clear errors, readable feeds, an intact store, secrets kept.

What is expected comes from outside litwatch: the fault-free oracle stand-in (the same
records, asked for each watch's term over [crdt] windows) and the SMTP server's own list of
accepted messages. litwatch's store is read only to learn what it *claims* (a watch's
watermark, the ledger) so that each claim can be held against those.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from tests.faults.harness import DIGESTS, SECRETS, WATCHES, Proc, World, feed_problem

ATOM = "{http://www.w3.org/2005/Atom}"
PUBMED_LINK = re.compile(r"pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/")
RUN_LINE = re.compile(r"^run (\d+) as of ", re.M)
RESEND = re.compile(r"re-sending (<[^>\s]+>) to (\S+)")
CLEAN_FETCH = (None, "new_element", "unknown_dtd")  # faults that leave the records intact


class Violation(AssertionError):
    """A promise broken; the message says which, where and with what data."""


def parse_moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclass
class Accepted:
    """One message the SMTP server accepted (250 after the body)."""

    digest: str
    recipient: str
    message_id: str
    pmids: tuple[str, ...]


@dataclass
class Figures:
    """What the run did, for the report."""

    seed: int
    days: int = 0
    recovery_days: int = 0
    runs: int = 0
    exit_codes: Counter = field(default_factory=Counter)
    eutils_faults: Counter = field(default_factory=Counter)
    smtp_faults_planned: Counter = field(default_factory=Counter)
    smtp_faults_fired: Counter = field(default_factory=Counter)
    crashes: Counter = field(default_factory=Counter)
    crashes_missed: Counter = field(default_factory=Counter)
    concurrency: Counter = field(default_factory=Counter)
    late_records: int = 0
    watch_failures_forced: int = 0
    bodies_queued_without_reply: int = 0
    rate_limited_by_ncbi: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    refetches: list[dict[str, Any]] = field(default_factory=list)
    papers: dict[str, dict[str, int]] = field(default_factory=dict)
    feed_versions_checked: int = 0
    feed_reads: int = 0
    stale_temp_files: int = 0
    invariant_checks: int = 0
    checking_seconds: float = 0.0
    wall_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            out[name] = dict(sorted(value.items())) if isinstance(value, Counter) else value
        return out


class Checker:
    def __init__(self, world: World, seed_day: dt.datetime, figures: Figures) -> None:
        self.world = world
        self.seed_day = seed_day  # the moment every watch seeded (a fault-free run)
        self.figures = figures
        self.feed_problems: list[str] = []
        self.feed_ids: dict[str, set[str]] = {}  # feed file -> entry ids ever seen in it
        self.logged_resends: set[tuple[str, str]] = set()  # (Message-ID, recipient)
        self.checked_procs = 0

    # --- expected sets (the oracle) ---------------------------------------------------

    def expected(self, watch: str, upto: dt.datetime) -> set[str]:
        """PMIDs that are new to ``watch`` for a run at ``upto``: matched on [crdt] after
        the seeding day up to that day, and (for records added during the run) present
        in PubMed by then."""
        first = self.seed_day.date() + dt.timedelta(days=1)
        found = self.world.oracle_search(WATCHES[watch], first, upto.date())
        return {p for p in found if p not in self.world.added or self.world.added[p] <= upto}

    def seeded(self, watch: str) -> set[str]:
        day = self.seed_day.date()
        found = self.world.oracle_search(WATCHES[watch], day - dt.timedelta(days=3), day)
        return {
            p for p in found if p not in self.world.added or self.world.added[p] <= self.seed_day
        }

    def expected_for_digest(self, digest: str, upto: dt.datetime) -> set[str]:
        watches, *_ = DIGESTS[digest]
        return set().union(*(self.expected(w, upto) for w in watches))

    # --- the checks -------------------------------------------------------------------

    def check_day(self, label: str, now: dt.datetime, procs: list[Proc]) -> None:
        started = time.monotonic()
        try:
            self._check_day(label, now, procs)
        finally:
            self.figures.checking_seconds += time.monotonic() - started

    def _check_day(self, label: str, now: dt.datetime, procs: list[Proc]) -> None:
        problems: list[str] = []
        conn = sqlite3.connect(self.world.store, timeout=30)
        try:
            for check in (
                lambda: self.check_procs(conn, procs),
                lambda: self.check_store(conn),
                lambda: self.check_collect(conn, now),
                lambda: self.check_politeness(),
                lambda: self.check_delivery(conn, now),
                lambda: self.check_feeds(conn, procs),
                lambda: self.check_files(),
            ):
                problems.extend(check())
                self.figures.invariant_checks += 1
        finally:
            conn.close()
        problems.extend(self.feed_problems)
        self.feed_problems.clear()
        if problems:
            logs = "\n".join(
                f"--- {p.describe()} rc={p.returncode} killed={p.killed}\n{p.tail()}" for p in procs
            )
            raise Violation(
                f"{label} ({now.isoformat()}):\n  " + "\n  ".join(problems) + f"\n{logs}"
            )

    # processes: exit codes and output

    def check_procs(self, conn: sqlite3.Connection, procs: list[Proc]) -> list[str]:
        problems = []
        for proc in procs:
            self.figures.runs += 1
            text = proc.stdout + proc.stderr
            for secret in SECRETS:
                if secret in text:
                    problems.append(f"{proc.describe()}: a secret appears in its output")
            for mid, rcpt in RESEND.findall(proc.stderr):
                self.logged_resends.add((mid, rcpt.rstrip(":").lower()))
            if proc.killed:
                self.figures.exit_codes["killed"] += 1
                continue
            self.figures.exit_codes[str(proc.returncode)] += 1
            if "Traceback" in text:
                problems.append(f"{proc.describe()}: a traceback in its output")
            if proc.command == "daemon":
                if proc.returncode != 0 or "daemon: stopped" not in proc.stderr:
                    problems.append(f"{proc.describe()}: daemon exit {proc.returncode}")
                continue
            if proc.returncode not in (0, 1):
                problems.append(f"{proc.describe()}: exit code {proc.returncode}, expected 0 or 1")
                continue
            if proc.busy:
                if proc.returncode != 0:
                    problems.append(f"{proc.describe()}: 'another run' must exit 0")
                continue
            match = RUN_LINE.search(proc.stdout)
            if not match:
                problems.append(f"{proc.describe()}: no 'run N as of' line in its output")
                continue
            run_id = int(match.group(1))
            failed_watches = {
                w
                for (w,) in conn.execute(
                    "SELECT watch FROM run_watches WHERE run_id = ? AND error IS NOT NULL",
                    (run_id,),
                )
            }
            status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            delivery_failed = "delivery FAILED" in proc.stdout or re.search(
                r"^  digest \S+ -> \S+: failed,", proc.stdout, re.M
            )
            truth = 1 if failed_watches or delivery_failed else 0
            if proc.returncode != truth:
                problems.append(
                    f"{proc.describe()}: exit code {proc.returncode} but failed watches"
                    f" {sorted(failed_watches)}, delivery failed: {bool(delivery_failed)}"
                )
            for watch in failed_watches:
                if f"  {watch}: FAILED" not in proc.stdout:
                    problems.append(f"{proc.describe()}: watch {watch} failed without saying so")
            want = "failed" if failed_watches else "ok"
            if status is None or status[0] != want:
                problems.append(f"{proc.describe()}: run {run_id} status {status}, expected {want}")
        return problems

    # the store

    def check_store(self, conn: sqlite3.Connection) -> list[str]:
        problems = []
        result = conn.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            problems.append(f"store integrity_check: {result[:5]}")
        if conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append("store foreign_key_check failed")
        return problems

    # collect: watermarks tell the truth

    def check_collect(self, conn: sqlite3.Connection, now: dt.datetime) -> list[str]:
        problems = []
        stored = {
            p
            for (p,) in conn.execute(
                "SELECT i.value FROM paper_ids i JOIN papers p ON p.id = i.paper_id"
                " WHERE i.scheme = 'pmid' AND p.deleted IS NULL"
            )
        }
        for watch in WATCHES:
            row = conn.execute("SELECT watermark FROM watches WHERE name = ?", (watch,)).fetchone()
            if row is None or row[0] is None:
                problems.append(f"watch {watch}: never seeded")
                continue
            watermark = parse_moment(row[0])
            matched = {
                p
                for (p,) in conn.execute(
                    "SELECT pmid FROM matches WHERE watch = ? AND seeded = 0", (watch,)
                )
            }
            seeded = {
                p
                for (p,) in conn.execute(
                    "SELECT pmid FROM matches WHERE watch = ? AND seeded = 1", (watch,)
                )
            }
            pending = {
                p for (p,) in conn.execute("SELECT pmid FROM pending WHERE watch = ?", (watch,))
            }
            required = self.expected(watch, watermark)
            missing = required - matched - pending
            if missing:
                problems.append(
                    f"watch {watch}: checked up to {watermark.isoformat()} but PMIDs"
                    f" {sorted(missing)} that matched by then are neither stored as matches nor pending (lost)"
                )
            allowed = self.expected(watch, now)
            spurious = matched - allowed
            if spurious:
                problems.append(
                    f"watch {watch}: PMIDs {sorted(spurious)} stored as new but the query does not match them in the window"
                )
            if seeded != self.seeded(watch):
                problems.append(
                    f"watch {watch}: seeded {sorted(seeded)}, oracle says {sorted(self.seeded(watch))}"
                )
            unstored = matched - stored
            if unstored:
                problems.append(
                    f"watch {watch}: matched PMIDs {sorted(unstored)} have no stored record"
                )
            if watermark > now + dt.timedelta(days=1):
                problems.append(
                    f"watch {watch}: watermark {watermark} is after the run's now {now}"
                )
        return problems

    # politeness: the real rate limit never hit, no record downloaded twice

    def check_politeness(self) -> list[str]:
        problems = []
        requests = self.world.eutils.requests
        self.figures.eutils_faults = Counter(
            (f"{r.fault} {r.status}" if r.fault == "status" else r.fault)
            for r in requests
            if r.fault
        )
        real_429 = [r for r in requests if r.status == 429 and r.fault is None]
        self.figures.rate_limited_by_ncbi = len(real_429)
        for r in real_429:
            # NCBI counts per key, whichever process sends: never over the limit
            alone = (
                len(
                    [
                        p
                        for p in self.world.procs
                        if p.wall_started <= r.time and (p.wall_ended or r.time) >= r.time - 1.1
                    ]
                )
                <= 1
            )
            who = "one run alone" if alone else "back-to-back or overlapping runs"
            before = [q for q in requests if r.time - 1.2 <= q.time <= r.time]
            problems.append(
                f"{r.endpoint} refused by NCBI's rate limit (not injected) at {r.time:.3f}; {who}"
                " talking to it; the requests logged in the 1.2 s before: "
                + ", ".join(
                    f"{q.time - r.time:+.3f} {q.endpoint} {q.status} {q.fault}" for q in before
                )
            )
        first_fetch: dict[str, dt.date] = {}
        self.figures.refetches = []
        for r in requests:
            if r.endpoint != "efetch" or r.status != 200 or r.fault not in CLEAN_FETCH:
                continue
            alive = [p for p in self.world.alive_at(r.time) if p.now]
            day = parse_moment(alive[0].now.replace("Z", "+00:00")).date() if alive else None
            for pmid in re.split(r"[,\s]+", r.params.get("id", "").strip()):
                if not pmid:
                    continue
                if pmid in first_fetch:
                    crashed = any(k <= r.time for k in self.world.kills)
                    record = self.world.oracle.record(int(pmid))
                    revised = record.dates.get("mdat") if record else None
                    legit_revision = (
                        revised is not None
                        and first_fetch[pmid] is not None
                        and (dt.date.fromordinal(revised) >= first_fetch[pmid])
                    )
                    kind = (
                        "revised by PubMed since"
                        if legit_revision
                        else "after a crash"
                        if crashed
                        else "UNEXPLAINED"
                    )
                    entry = {"pmid": pmid, "kind": kind}
                    if entry not in self.figures.refetches:
                        self.figures.refetches.append(entry)
                    if kind == "UNEXPLAINED":
                        problems.append(
                            f"PMID {pmid} downloaded again though it was stored, unchanged, and no run crashed"
                        )
                first_fetch.setdefault(pmid, day)
        return problems

    # delivery: each paper once per subscriber, nothing the ledger claims that the server did not take

    def accepted(self) -> tuple[list[Accepted], list[str]]:
        problems, out = [], []
        for received in self.world.smtp.messages:
            message = email.message_from_bytes(received.data, policy=email.policy.strict)
            if message.defects:
                problems.append(f"message {message['Message-ID']}: defects {message.defects}")
            (recipient,) = received.rcpt_tos
            subject = str(message["Subject"])
            if "\n" in subject or "\r" in subject:
                problems.append(f"message {message['Message-ID']}: Subject spans lines")
            if message["To"].addresses[0].addr_spec.lower() != recipient.lower():
                problems.append(
                    f"message {message['Message-ID']}: To {message['To']} but RCPT {recipient}"
                )
            text = message.get_body(("plain",)).get_content()
            digest = str(message["X-Litwatch-Digest"]).split("/", 1)[0]
            out.append(
                Accepted(
                    digest,
                    recipient.lower(),
                    str(message["Message-ID"]),
                    tuple(sorted(set(PUBMED_LINK.findall(text)))),
                )
            )
        return out, problems

    def check_delivery(self, conn: sqlite3.Connection, now: dt.datetime) -> list[str]:
        messages, problems = self.accepted()
        by_key: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        mids: Counter = Counter()
        for m in messages:
            mids[(m.message_id, m.recipient)] += 1
            for pmid in m.pmids:
                by_key[(m.digest, m.recipient)][pmid].append(m.message_id)
        duplicates = []
        for (mid, rcpt), n in mids.items():
            if n > 1:
                logged = (mid, rcpt) in self.logged_resends
                duplicates.append(
                    {
                        "recipient": rcpt,
                        "message_id": mid,
                        "copies": n,
                        "kind": "re-send of the same Message-ID after an unknown outcome"
                        if logged
                        else "UNEXPLAINED",
                    }
                )
                if not logged:
                    problems.append(f"{rcpt} got {mid} {n} times and no run logged a re-send of it")
        self.figures.duplicates = duplicates
        for digest, (_watches, recipients, *_rest) in DIGESTS.items():
            expected = self.expected_for_digest(digest, now)
            for recipient in (r.lower() for r in recipients):
                got = by_key[(digest, recipient)]
                for pmid, ids in got.items():
                    if len(set(ids)) > 1:
                        problems.append(
                            f"{digest} -> {recipient}: PMID {pmid} in {len(set(ids))} different digests {sorted(set(ids))}"
                        )
                spurious = set(got) - expected
                if spurious:
                    problems.append(
                        f"{digest} -> {recipient}: got PMIDs {sorted(spurious)} that are not new papers of its watches"
                    )
                ledger = {
                    p
                    for (p,) in conn.execute(
                        "SELECT i.value FROM delivered d JOIN paper_ids i ON i.paper_id = d.paper_id"
                        " AND i.scheme = 'pmid' WHERE d.subscription = ? AND d.recipient = ?",
                        (digest, recipient),
                    )
                }
                claimed = ledger - set(got)
                if claimed:
                    problems.append(
                        f"{digest} -> {recipient}: the ledger records PMIDs {sorted(claimed)} as delivered but the server never accepted them"
                    )
                items = defaultdict(set)
                for status, pmid in conn.execute(
                    "SELECT d.status, i.value FROM deliveries d JOIN digests g ON g.id = d.digest_id"
                    " JOIN delivery_items di ON di.digest_id = d.digest_id AND di.recipient = d.recipient"
                    " JOIN paper_ids i ON i.paper_id = di.paper_id AND i.scheme = 'pmid'"
                    " WHERE g.subscription = ? AND d.recipient = ?",
                    (digest, recipient),
                ):
                    items[status].add(pmid)
                in_flight = items["pending"] | items["sending"] | items["unknown"]
                orphans = set(got) - ledger - in_flight
                if orphans:
                    problems.append(
                        f"{digest} -> {recipient}: the server accepted PMIDs {sorted(orphans)} that the ledger neither records nor will re-send"
                    )
                problems.extend(
                    self.check_due(
                        conn, digest, recipient, set(got) | ledger, in_flight | items["failed"]
                    )
                )
        return problems

    def check_due(
        self,
        conn: sqlite3.Connection,
        digest: str,
        recipient: str,
        delivered: set[str],
        waiting: set[str],
    ) -> list[str]:
        """Once a digest was assembled (and had room for everything), every paper its
        watches matched by then went to the recipient or waits in a delivery."""
        row = conn.execute(
            "SELECT g.id, g.assembled_at, d.more FROM digests g LEFT JOIN deliveries d"
            " ON d.digest_id = g.id AND d.recipient = ? WHERE g.subscription = ?"
            " ORDER BY g.due DESC LIMIT 1",
            (recipient, digest),
        ).fetchone()
        if row is None or (row[2] or 0) > 0:
            return []
        watches = DIGESTS[digest][0]
        marks = ",".join("?" * len(watches))
        due = {
            p
            for (p,) in conn.execute(
                f"SELECT DISTINCT pmid FROM matches WHERE seeded = 0 AND watch IN ({marks})"
                " AND matched_at <= ?",
                (*watches, row[1]),
            )
        }
        lost = due - delivered - waiting
        if lost:
            return [
                f"{digest} -> {recipient}: PMIDs {sorted(lost)} matched before the digest assembled at {row[1]} but are in no email and no open delivery"
            ]
        return []

    # feeds

    def check_feeds(self, conn: sqlite3.Connection, procs: list[Proc]) -> list[str]:
        problems = []
        folder = self.world.feeds
        if not folder.is_dir():
            return problems
        complete = any(p.returncode == 0 and not p.killed and not p.busy for p in procs[-1:])
        stale = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
        self.figures.stale_temp_files = max(self.figures.stale_temp_files, len(stale))
        if complete and stale:
            problems.append(f"feeds: temp files left behind after a complete run: {stale}")
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".atom", ".rss"):
                continue
            data = path.read_bytes()
            problem = feed_problem(path.name, data)
            if problem:
                problems.append(problem)
                continue
            ids = feed_entry_ids(path.name, data)
            if len(ids) != len(set(ids)):
                problems.append(f"feed {path.name}: an entry id appears twice")
            before = self.feed_ids.setdefault(path.name, set())
            vanished = before - set(ids)
            if vanished:
                problems.append(f"feed {path.name}: entries {sorted(vanished)[:5]} vanished")
            before.update(ids)
            if complete:
                name = path.stem
                if name == "all":
                    sql, args = "SELECT DISTINCT pmid FROM matches WHERE seeded = 0", ()
                else:
                    sql, args = "SELECT pmid FROM matches WHERE seeded = 0 AND watch = ?", (name,)
                stored = {f"tag:litwatch,2026:pubmed:{p}" for (p,) in conn.execute(sql, args)}
                if set(ids) != stored:
                    problems.append(
                        f"feed {path.name}: after a successful run it lists {len(ids)} entries,"
                        f" the store has {len(stored)} (missing {sorted(stored - set(ids))[:5]},"
                        f" extra {sorted(set(ids) - stored)[:5]})"
                    )
        return problems

    # files: private state, no secrets anywhere

    def check_files(self) -> list[str]:
        problems = []
        for path in self.world.store.parent.iterdir():
            if path.is_file() and path.stat().st_mode & 0o077:
                problems.append(
                    f"{path.name} is readable by others (mode {oct(path.stat().st_mode & 0o777)})"
                )
        for path in self.world.site.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in SECRETS:
                    if secret.encode() in data:
                        problems.append(
                            f"a secret is stored in {path.relative_to(self.world.site)}"
                        )
        for received in self.world.smtp.messages:
            for secret in SECRETS:
                if secret.encode() in received.data:
                    problems.append("a secret is in an email")
        return problems

    def undelivered(self, now: dt.datetime) -> dict[str, set[str]]:
        """Expected papers not yet accepted by the server, per digest and recipient."""
        messages, _ = self.accepted()
        out = {}
        for digest, (_watches, recipients, *_rest) in DIGESTS.items():
            expected = self.expected_for_digest(digest, now)
            for recipient in (r.lower() for r in recipients):
                got = {
                    p
                    for m in messages
                    if m.digest == digest and m.recipient == recipient
                    for p in m.pmids
                }
                if expected - got:
                    out[f"{digest} -> {recipient}"] = expected - got
        return out

    # the end: everything delivered, exactly once

    def check_final(self, now: dt.datetime) -> None:
        messages, problems = self.accepted()
        conn = sqlite3.connect(self.world.store, timeout=30)
        try:
            pending = conn.execute("SELECT watch, pmid FROM pending").fetchall()
            if pending:
                problems.append(f"still pending at the end: {pending[:10]}")
            open_ = conn.execute(
                "SELECT d.recipient, d.status FROM deliveries d WHERE d.status IN ('pending', 'sending', 'unknown')"
            ).fetchall()
            if open_:
                problems.append(f"deliveries still open at the end: {open_}")
        finally:
            conn.close()
        for digest, (_watches, recipients, *_rest) in DIGESTS.items():
            expected = self.expected_for_digest(digest, now)
            for recipient in (r.lower() for r in recipients):
                got: Counter = Counter()
                for m in messages:
                    if m.digest == digest and m.recipient == recipient:
                        got.update(m.pmids)
                distinct = set(got)
                self.figures.papers[f"{digest} -> {recipient}"] = {
                    "expected": len(expected),
                    "delivered": len(distinct & expected),
                    "copies_accepted": sum(got.values()),
                    "emails_accepted": sum(
                        1 for m in messages if m.digest == digest and m.recipient == recipient
                    ),
                }
                if distinct != expected:
                    problems.append(
                        f"{digest} -> {recipient}: expected {len(expected)} papers, delivered"
                        f" {len(distinct)}; missing {sorted(expected - distinct)}, extra {sorted(distinct - expected)}"
                    )
        if problems:
            raise Violation("at the end:\n  " + "\n  ".join(problems))


def feed_entry_ids(name: str, data: bytes) -> list[str]:
    root = etree.fromstring(
        data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    )
    if name.endswith(".atom"):
        return [e.findtext(f"{ATOM}id") for e in root.iterfind(f"{ATOM}entry")]
    return [e.findtext("guid") for e in root.iterfind("channel/item")]
