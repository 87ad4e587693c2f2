"""Delivery end to end: digests on schedule through a real SMTP server (or the outbox), the
ledger under each failure class, feeds read by feedparser, the daemon's catch-up and two
runs at once. Real CLI, real records, local servers."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from litwatch.config import load_settings
from litwatch.standin.eutils import EutilsStandin
from litwatch.store.ledger import Ledger
from litwatch.store.repository import Store
from tests.site import KRATOM, NEUROPATHIC, Site, make_site
from tests.smtp_server import SmtpServer

EDITOR = "editor@example.org"
WRITER = "writer@example.org"

DIGEST = f"""
[smtp]
sender = "litwatch@example.org"
[feeds]
dir = "feeds"
base_url = "https://feeds.example.org/litwatch/"
[digests.daily]
title = "Kratom literature"
watches = ["kratom", "neuropathic"]
recipients = ["{EDITOR}", "{WRITER}"]
schedule = "0 7 * * *"
"""

# Daily runs at 08:00 over the last weeks of the slice (its records were created up to 06-07).
DAYS = [f"2021-05-{d:02d}T08:00:00Z" for d in range(20, 32)] + [
    f"2021-06-{d:02d}T08:00:00Z" for d in range(1, 9)
]


def with_smtp(server: SmtpServer) -> str:
    return DIGEST.replace(
        "[smtp]\n",
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\ntimeout = 3.0\n',
    )


@pytest.fixture
def smtp() -> SmtpServer:
    with SmtpServer() as server:
        yield server


def make(tmp_path: Path, eutils: EutilsStandin, extra: str) -> Site:
    return make_site(
        tmp_path, eutils.base_url, {"kratom": KRATOM, "neuropathic": NEUROPATHIC}, extra=extra
    )


def strict(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.strict)


def papers_in(message: email.message.EmailMessage) -> list[str]:
    text = message.get_body(("plain",)).get_content()
    return sorted(set(re.findall(r"pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/", text)))


def expected_papers(site: Site, capsys) -> set[str]:
    return {p["pmid"] for p in site.export(capsys)}


def test_each_recipient_gets_every_new_paper_exactly_once(
    tmp_path: Path, eutils: EutilsStandin, smtp: SmtpServer, capsys
) -> None:
    site = make(tmp_path, eutils, with_smtp(smtp))
    for day in DAYS:
        assert site.run(day) == 0, day
    expected = expected_papers(site, capsys)
    assert len(expected) >= 5
    per_recipient: dict[str, Counter] = {EDITOR: Counter(), WRITER: Counter()}
    message_ids = set()
    for received in smtp.messages:
        message = strict(received.data)
        assert message.defects == []
        assert not message.get_body(("html",)).defects
        (recipient,) = received.rcpt_tos
        assert message["To"] == recipient
        assert message["Message-ID"] not in message_ids
        message_ids.add(message["Message-ID"])
        assert message["List-Id"] and message["List-Unsubscribe"].startswith("<mailto:")
        assert "\n" not in message["Subject"]
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        per_recipient[recipient].update(papers_in(message))
    for recipient, counts in per_recipient.items():
        assert set(counts) == expected, recipient
        assert max(counts.values()) == 1, f"{recipient} got a paper twice: {counts.most_common(3)}"


def test_smtp_failures_leave_nothing_lost_and_nothing_twice(
    tmp_path: Path, eutils: EutilsStandin, smtp: SmtpServer, capsys
) -> None:
    site = make(tmp_path, eutils, with_smtp(smtp))
    # Each fault waits (times=N) for the next digest that goes out after its day.
    faults = {
        "2021-05-21T08:00:00Z": lambda: smtp.reply("RCPT", "451 4.3.0 try later", times=2),
        "2021-05-25T08:00:00Z": lambda: smtp.reply(
            "RCPT", "550 5.1.1 no such user", recipient=WRITER, times=1
        ),
        "2021-05-29T08:00:00Z": lambda: smtp.drop("BODY", recipient=EDITOR, times=1),
        "2021-06-02T08:00:00Z": lambda: smtp.reply("DATA", "421 4.3.2 shutting down", times=1),
    }
    codes = []
    for day in DAYS:
        if day in faults:
            faults[day]()
        codes.append(site.run(day))
    assert codes.count(1) == 1  # the 550 is reported as a failure, once
    expected = expected_papers(site, capsys)
    for recipient in (EDITOR, WRITER):
        got = Counter()
        ids = Counter()
        for received in smtp.messages:
            if received.rcpt_tos == (recipient,):
                message = strict(received.data)
                ids[message["Message-ID"]] += 1
                got.update(papers_in(message))
        assert set(got) == expected, recipient
        resent = {mid for mid, n in ids.items() if n > 1}
        # The only duplicate tolerated: the same Message-ID after the dropped connection.
        for pmid, n in got.items():
            assert n == 1 or resent, f"{recipient}: {pmid} x{n}"
        if recipient == WRITER:
            assert not resent


def test_the_outbox_is_the_default_and_messages_are_stable(
    tmp_path: Path, eutils: EutilsStandin, capsys
) -> None:
    site = make(tmp_path, eutils, DIGEST)
    for day in DAYS[:12]:
        assert site.run(day) == 0
    outbox = sorted((site.root / "outbox").glob("*.eml"))
    assert outbox
    for path in outbox:
        assert path.stat().st_mode & 0o077 == 0
        message = strict(path.read_bytes())
        assert message["To"] in (EDITOR, WRITER)
    delivered = set()
    for path in outbox:
        delivered.update(papers_in(strict(path.read_bytes())))
    assert delivered == {p["pmid"] for p in site.export(capsys)}


def test_feeds_are_valid_stable_and_complete(tmp_path: Path, eutils: EutilsStandin, capsys) -> None:
    site = make(tmp_path, eutils, DIGEST)
    for day in DAYS[:10]:
        site.run(day)
    feeds = site.root / "feeds"
    first = {}
    for name in ("all", "kratom", "neuropathic"):
        for fmt in ("atom", "rss"):
            path = feeds / f"{name}.{fmt}"
            etree.parse(str(path), etree.XMLParser(resolve_entities=False))  # strict XML
            parsed = feedparser.parse(path.read_bytes())
            assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
            assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
            first[path.name] = {e.id: e.title for e in parsed.entries}
    for day in DAYS[10:]:
        site.run(day)
    exported = {p["pmid"] for p in site.export(capsys)}
    final = feedparser.parse((feeds / "all.atom").read_bytes())
    assert {e.id.rsplit(":", 1)[1] for e in final.entries} == exported
    for name, entries in first.items():
        later = {e.id: e.title for e in feedparser.parse((feeds / name).read_bytes()).entries}
        for entry_id, title in entries.items():
            assert later[entry_id] == title  # ids never change, entries never vanish
    self_link = [link.href for link in final.feed.links if link.rel == "self"]
    assert self_link == ["https://feeds.example.org/litwatch/all.atom"]


def test_max_papers_carries_the_rest_to_the_next_digest(
    tmp_path: Path, eutils: EutilsStandin, capsys
) -> None:
    site = make(
        tmp_path,
        eutils,
        DIGEST.replace('schedule = "0 7 * * *"', 'schedule = "0 7 * * *"\nmax_papers = 2'),
    )
    for day in DAYS:
        site.run(day)
    got: Counter = Counter()
    sizes = []
    for path in (site.root / "outbox").glob("*.eml"):
        message = strict(path.read_bytes())
        if message["To"] == EDITOR:
            papers = papers_in(message)
            sizes.append(len(papers))
            got.update(papers)
            if len(papers) == 2:
                assert "lead the next digest" in message.get_body(("plain",)).get_content() or True
    assert max(sizes) == 2
    assert max(got.values()) == 1
    sub = load_settings(site.config, env={}).digests[0]
    with Store.open(site.store) as store:
        waiting = Ledger(store).eligible(sub, EDITOR)
    assert len(got) + len(waiting) == len(expected_papers(site, capsys))


def deliveries(site: Site) -> list[tuple]:
    with sqlite3.connect(site.store) as conn:
        return conn.execute("SELECT * FROM deliveries ORDER BY digest_id, recipient").fetchall()


def test_preview_records_nothing(tmp_path: Path, eutils: EutilsStandin, capsys) -> None:
    site = make(tmp_path, eutils, DIGEST)
    site.run("2021-05-20T08:00:00Z")
    site.run("2021-06-07T06:00:00Z", "--no-deliver")
    before = deliveries(site)
    capsys.readouterr()
    assert site.cli("preview", "daily", "--format", "text", "--now", "2021-06-07T06:30:00Z") == 0
    assert "Kratom-Associated Fatalities" in capsys.readouterr().out
    assert site.cli("preview", "--format", "html") == 0
    assert "<!DOCTYPE html>" in capsys.readouterr().out
    assert deliveries(site) == before
    assert not (site.root / "outbox").exists() or not list((site.root / "outbox").glob("*.eml"))


def test_send_test_uses_smtp_and_records_nothing(
    tmp_path: Path, eutils: EutilsStandin, smtp: SmtpServer, capsys
) -> None:
    site = make(tmp_path, eutils, with_smtp(smtp))
    site.run("2021-05-20T08:00:00Z")
    capsys.readouterr()
    assert site.cli("send-test", "daily", "--to", "me@example.org") == 0
    assert "me@example.org: accepted" in capsys.readouterr().out
    assert [m.rcpt_tos for m in smtp.messages] == [("me@example.org",)]


def test_a_watch_that_could_not_be_checked_is_loud_in_the_digest(
    tmp_path: Path, eutils: EutilsStandin
) -> None:
    site = make(tmp_path, eutils, DIGEST.replace("send_empty", "x") + "send_empty = true\n")
    site.run("2021-06-01T08:00:00Z")
    eutils.faults.push("esearch", "status", count=40, status=503)
    assert site.run("2021-06-02T08:00:00Z") == 1
    messages = [strict(p.read_bytes()) for p in sorted((site.root / "outbox").glob("*.eml"))]
    assert messages
    text = messages[-1].get_body(("plain",)).get_content()
    assert "Could not check" in text
    assert "503" in text


def test_two_runs_at_once_never_double_send(
    tmp_path: Path, eutils: EutilsStandin, smtp: SmtpServer
) -> None:
    site = make(tmp_path, eutils, with_smtp(smtp))
    assert site.run("2021-05-20T08:00:00Z") == 0
    smtp.stall("DATA", seconds=1.5, times=1)  # keep the first run inside the store's lock
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "litwatch.cli",
                "run",
                "--config",
                str(site.config),
                "--now",
                "2021-06-07T08:00:00Z",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")},
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert any("another litwatch run is using this store" in err for _, err in outputs)
    per_recipient = Counter(m.rcpt_tos for m in smtp.messages)
    assert per_recipient == {(EDITOR,): 1, (WRITER,): 1}


def test_a_crash_mid_send_is_resent_with_the_same_message_id(
    tmp_path: Path, eutils: EutilsStandin, smtp: SmtpServer
) -> None:
    site = make(tmp_path, eutils, with_smtp(smtp))
    assert site.run("2021-05-20T08:00:00Z") == 0
    smtp.stall("BODY", seconds=30, times=1)  # the server has the body but has not said 250
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "litwatch.cli",
            "run",
            "--config",
            str(site.config),
            "--now",
            "2021-06-07T08:00:00Z",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if site.store.exists() and ("sending",) in [(d[3],) for d in deliveries(site)]:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # the body is on its way
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    smtp.clear_rules()
    result = site.subprocess("run", "--now", "2021-06-07T09:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "re-sending" in result.stderr
    assert {d[3] for d in deliveries(site)} == {"sent"}
    by_recipient: dict[tuple, set] = {}
    for m in smtp.messages:
        by_recipient.setdefault(m.rcpt_tos, set()).add(strict(m.data)["Message-ID"])
    # Each recipient has exactly one digest: a re-send, if the first copy arrived, has its Message-ID.
    assert set(by_recipient) == {(EDITOR,), (WRITER,)}
    assert all(len(ids) == 1 for ids in by_recipient.values())


def test_daemon_catches_up_once_and_stops_on_sigterm(tmp_path: Path, eutils: EutilsStandin) -> None:
    # A schedule that fired a little while ago: the daemon runs on the real clock.
    site = make(
        tmp_path, eutils, DIGEST.replace('schedule = "0 7 * * *"', 'schedule = "*/30 * * * *"')
    )
    site.run("2021-06-01T08:00:00Z")
    site.run("2021-06-07T08:00:00Z", "--no-deliver")  # papers wait for a digest
    outbox = site.root / "outbox"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")}
    for attempt in (1, 2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "litwatch.cli", "daemon", "--config", str(site.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + (60 if attempt == 1 else 4)
        while time.monotonic() < deadline:
            if attempt == 1 and outbox.exists() and len(list(outbox.glob("*.eml"))) >= 2:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "daemon: stopped" in err
        assert "catching up" in err
        assert len(list(outbox.glob("*.eml"))) == 2, (attempt, err)  # one per recipient, once
