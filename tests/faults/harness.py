"""The fault suite's world: a litwatch installation driven as real subprocesses, the
E-utilities stand-in (with faults), a second, fault-free stand-in as the oracle, and a
real SMTP server that wants a login.

Secrets reach litwatch only through the environment (``LITWATCH_ENTREZ_API_KEY``,
``LITWATCH_SMTP_PASSWORD``), so no file of the installation may ever contain them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx
from lxml import etree

from litwatch.standin.eutils import EutilsStandin
from tests.smtp_server import SmtpServer

API_KEY = "5b0e8d4c2a9f7e1d3c6b8a0f2e4d6c8b1a3f"  # accepted by the stand-in: 10 requests/s
SMTP_USER = "litwatch-bot"
SMTP_PASSWORD = "Qm7-vTz9#pL2wK4sR8nX"
SECRETS = (API_KEY, SMTP_PASSWORD)

EDITOR = "editor@example.org"
WRITER = "writer@example.org"
REVIEWER = "reviewer@example.net"

WATCHES = {
    "kratom": "kratom[tw] OR mitragyn*[tiab] OR hydroxymitragynine[tiab]",
    "neuropathic": '"neuropathic pain"[tiab] OR neuralgia[tiab]',
    "pain": "opioid*[tiab] OR analgesi*[tiab] OR pain[tiab]",
    "cancer": "cancer[tiab] OR tumor[tiab] OR tumour[tiab]",
}
DIGESTS = {
    # name: (watches, recipients, schedule, timezone, max_papers)
    "daily": (("kratom", "neuropathic", "pain"), (EDITOR, WRITER), "0 7 * * *", "UTC", 12),
    "thrice": (("cancer", "kratom"), (REVIEWER, EDITOR), "0 9 * * 1,3,5", "America/New_York", 50),
}

ENTREZ_TIMEOUT = 1.0  # a stall longer than this is a timeout
SMTP_TIMEOUT = 2.0


def litwatch_toml(base_url: str) -> str:
    lines = [
        "[entrez]",
        'email = "faults@litwatch.invalid"',
        f'base_url = "{base_url}"',
        f"timeout = {ENTREZ_TIMEOUT}",
        "backoff = 0.02",
        "max_retries = 4",
        "batch_size = 40",
        "[store]",
        'url = "sqlite:///state/litwatch.db"',
        "[smtp]",
        'sender = "Litwatch <litwatch@example.org>"',
        'security = "none"',
        f"timeout = {SMTP_TIMEOUT}",
        f'username = "{SMTP_USER}"',
        "[feeds]",
        'dir = "feeds"',
        'base_url = "https://feeds.example.org/litwatch/"',
        "max_entries = 500",
    ]
    for name, (watches, recipients, schedule, tz, max_papers) in DIGESTS.items():
        lines += [
            f"[digests.{name}]",
            f"title = {json.dumps(name.title() + ' literature')}",
            f"watches = {json.dumps(list(watches))}",
            f"recipients = {json.dumps(list(recipients))}",
            f'schedule = "{schedule}"',
            f'timezone = "{tz}"',
            f"max_papers = {max_papers}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Proc:
    """One ``litwatch`` subprocess and what became of it."""

    number: int
    command: str
    now: str | None
    label: str
    popen: subprocess.Popen
    out_path: Path
    err_path: Path
    started: float
    wall_started: float = 0.0  # time.time(), to line up with the stand-in's request log
    wall_ended: float = 0.0
    killed: str | None = None  # the stage it was killed in
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    ended: float = 0.0

    @property
    def busy(self) -> bool:
        return "another litwatch run is using this store" in self.stderr

    def describe(self) -> str:
        return f"#{self.number} {self.command} --now {self.now} ({self.label})"

    def tail(self, lines: int = 25) -> str:
        return "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-lines:])


class FeedWatcher:
    """Reads every feed file over and over while runs are in flight: each version of a
    file must be well-formed XML (lxml, strict) and parse in feedparser without bozo."""

    def __init__(self, folder: Path, on_bad: Callable[[str], None]) -> None:
        self.folder = folder
        self.on_bad = on_bad
        self.seen: dict[str, str] = {}  # file name -> digest of the last version checked
        self.versions = 0  # distinct versions checked
        self.reads = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def check_now(self) -> None:
        with self._lock:
            if not self.folder.is_dir():
                return
            for path in sorted(self.folder.iterdir()):
                if path.suffix not in (".atom", ".rss"):
                    continue
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                self.reads += 1
                digest = hashlib.sha256(data).hexdigest()
                if self.seen.get(path.name) == digest:
                    continue
                self.seen[path.name] = digest
                self.versions += 1
                problem = feed_problem(path.name, data)
                if problem:
                    self.on_bad(problem)

    def _loop(self) -> None:
        while not self._stop.wait(0.03):
            self.check_now()

    def __enter__(self) -> FeedWatcher:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="feed-watcher")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.check_now()


_verdicts: dict[tuple[str, str], str | None] = {}


def feed_problem(name: str, data: bytes) -> str | None:
    """Why this version of a feed file is unusable to a reader, or None (remembered per
    content: the watcher and the daily check often see the same version)."""
    key = (name, hashlib.sha256(data).hexdigest())
    if key not in _verdicts:
        _verdicts[key] = _feed_problem(name, data)
    return _verdicts[key]


def _feed_problem(name: str, data: bytes) -> str | None:
    try:
        root = etree.fromstring(
            data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        )
    except etree.XMLSyntaxError as exc:
        return f"feed {name}: not well-formed XML ({exc}); {len(data)} bytes, ends {data[-80:]!r}"
    expected_root = "{http://www.w3.org/2005/Atom}feed" if name.endswith(".atom") else "rss"
    if root.tag != expected_root:
        return f"feed {name}: root <{root.tag}>, expected <{expected_root}>"
    parsed = feedparser.parse(data)
    if parsed.bozo:
        return f"feed {name}: feedparser bozo: {parsed.get('bozo_exception')!r}"
    return None


class World:
    """Everything one fault run needs; a context manager."""

    def __init__(self, root: Path, *, records_log: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.site = root / "site"
        self.logs = root / "logs"
        self.eutils = EutilsStandin(today=dt.date(2021, 6, 8))
        self.oracle = EutilsStandin(rate_limit=False, today=dt.date(2021, 6, 8))
        self.smtp = SmtpServer(users={SMTP_USER: SMTP_PASSWORD})
        self.smtp_up = True
        self.dead_port: int | None = None
        self.procs: list[Proc] = []
        self.kills: list[float] = []  # wall-clock times of kill -9
        self.added: dict[str, dt.datetime] = {}  # synthetic PMID -> (simulated) moment added
        self._oracle_cache: dict[tuple[str, str, str], frozenset[str]] = {}
        self._http = httpx.Client(timeout=30)

    # --- life cycle -------------------------------------------------------------------

    def __enter__(self) -> World:
        self.eutils.start()
        self.oracle.start()
        self.smtp.start()
        self.site.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        queries = self.site / "queries"
        queries.mkdir()
        for name, term in WATCHES.items():
            (queries / f"{name}.toml").write_text(
                f"title = {json.dumps(name.title())}\nterm = {json.dumps(term)}\n"
            )
        (self.site / "litwatch.toml").write_text(litwatch_toml(self.eutils.base_url))
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait()
        self._http.close()
        self.smtp.stop()
        self.oracle.stop()
        self.eutils.stop()

    @property
    def config(self) -> Path:
        return self.site / "litwatch.toml"

    @property
    def store(self) -> Path:
        return self.site / "state" / "litwatch.db"

    @property
    def feeds(self) -> Path:
        return self.site / "feeds"

    # --- the SMTP server's bad days ---------------------------------------------------

    def smtp_down(self) -> None:
        self.dead_port = self.smtp.port
        self.smtp.stop()
        self.smtp_up = False

    def smtp_back(self) -> None:
        if not self.smtp_up:
            self.smtp.start()  # a new port: the next runs get it from the environment
            self.smtp_up = True
            self.dead_port = None

    # --- records ----------------------------------------------------------------------

    def add_records(self, xml: bytes, moment: dt.datetime) -> list[str]:
        pmids = [str(p) for p in self.eutils.add_records(xml)]
        self.oracle.add_records(xml)
        for pmid in pmids:
            self.added[pmid] = moment
        self._oracle_cache.clear()
        return pmids

    def oracle_search(self, term: str, lo: dt.date, hi: dt.date) -> frozenset[str]:
        """PMIDs matching ``term`` with [crdt] in [lo, hi], from the fault-free stand-in."""
        if hi < lo:
            return frozenset()
        key = (term, lo.isoformat(), hi.isoformat())
        if key not in self._oracle_cache:
            response = self._http.post(
                self.oracle.base_url + "esearch.fcgi",
                data={
                    "db": "pubmed",
                    "term": term,
                    "datetype": "crdt",
                    "mindate": lo.strftime("%Y/%m/%d"),
                    "maxdate": hi.strftime("%Y/%m/%d"),
                    "retmax": "9999",
                    "retmode": "json",
                },
            )
            response.raise_for_status()
            ids = response.json()["esearchresult"]["idlist"]
            self._oracle_cache[key] = frozenset(ids)
        return self._oracle_cache[key]

    # --- subprocesses -----------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")}
        env.update(
            {
                "LITWATCH_ENTREZ_API_KEY": API_KEY,
                "LITWATCH_SMTP_HOST": self.smtp.host,
                "LITWATCH_SMTP_PORT": str(self.smtp.port if self.smtp_up else self.dead_port),
                "LITWATCH_SMTP_PASSWORD": SMTP_PASSWORD,
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def alive_at(self, moment: float) -> list[Proc]:
        """The processes running at wall-clock ``moment``."""
        return [p for p in self.procs if p.wall_started <= moment <= (p.wall_ended or float("inf"))]

    def spawn(self, command: str, now: str | None, *args: str, label: str = "") -> Proc:
        number = len(self.procs) + 1
        out = self.logs / f"{number:03d}-{command}.out"
        err = self.logs / f"{number:03d}-{command}.err"
        argv = [sys.executable, "-m", "litwatch.cli", command, "--config", str(self.config)]
        if now is not None:
            argv += ["--now", now]
        argv += list(args)
        with out.open("wb") as fo, err.open("wb") as fe:
            popen = subprocess.Popen(
                argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=self.env()
            )
        proc = Proc(number, command, now, label, popen, out, err, time.monotonic(), time.time())
        self.procs.append(proc)
        return proc

    def finish(self, proc: Proc, timeout: float = 90) -> Proc:
        try:
            proc.returncode = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()
            raise AssertionError(f"{proc.describe()} did not finish within {timeout} s") from None
        proc.ended = time.monotonic()
        proc.wall_ended = time.time()
        proc.stdout = proc.out_path.read_text("utf-8", "replace")
        proc.stderr = proc.err_path.read_text("utf-8", "replace")
        return proc

    def run(self, now: str | None, *args: str, label: str = "run") -> Proc:
        return self.finish(self.spawn("run", now, *args, label=label))

    def kill(self, proc: Proc, stage: str) -> Proc:
        if proc.popen.poll() is None:
            os.kill(proc.popen.pid, signal.SIGKILL)
            proc.killed = stage
            self.kills.append(time.time())
        return self.finish(proc)

    # --- looking inside while a run is in flight --------------------------------------

    def query(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        if not self.store.exists():
            return []
        conn = sqlite3.connect(self.store, timeout=10)
        try:
            return conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError:
            return []  # not migrated yet
        finally:
            conn.close()

    def wait_for(
        self, proc: Proc, condition: Callable[[], bool], timeout: float = 20, step: float = 0.005
    ) -> bool:
        """Poll ``condition`` until it holds (True) or the process ended (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if proc.popen.poll() is not None:
                return condition()
            time.sleep(step)
        return False

    def hold_write_lock(self) -> sqlite3.Connection:
        """Take SQLite's write lock on the store: a run then waits at its next commit."""
        conn = sqlite3.connect(self.store, timeout=10, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        return conn


# --- reaching into the test SMTP server (tests/smtp_server.py) ----------------------------


def smtp_rules(smtp: SmtpServer) -> list:
    """The server's programmed rules, oldest first (the objects themselves)."""
    with smtp._state.lock:
        return list(smtp._state.rules)


def drop_rule(smtp: SmtpServer, rule: object) -> None:
    with smtp._state.lock:
        if rule in smtp._state.rules:
            smtp._state.rules.remove(rule)


def queue_anyway(smtp: SmtpServer, received: object) -> None:
    """The server had queued this body before the connection died, so the client never
    heard its 250: what a real MTA does when the reply is lost. The message counts as
    accepted; a re-send then gives the recipient a second copy with the same Message-ID."""
    with smtp._state.lock:
        smtp._state.messages.append(received)


def release(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    finally:
        conn.close()
