"""Regression tests for what the fault suite broke, each at the depth of its fix (the
end-to-end suites find them again, slowly; these say exactly what was wrong, fast)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from litwatch.config import load_settings
from litwatch.deliver.email import OutboxMailer, build_message
from litwatch.deliver.feeds import write_feed_files
from litwatch.errors import ConfigError
from litwatch.sources.ratelimit import SharedRateLimiter, shared_limiter
from litwatch.store import schema
from litwatch.store.repository import Store

pytestmark = pytest.mark.faults


def test_two_processes_opening_a_new_store_at_once_both_succeed(tmp_path: Path) -> None:
    """Two cron runs on a store that does not exist yet both read schema version 0; the
    second used to fail with "table papers already exists" (exit 1)."""
    for attempt in range(25):
        path = tmp_path / f"store-{attempt}.db"
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def open_store(
            path: Path = path, barrier: threading.Barrier = barrier, errors: list = errors
        ) -> None:
            barrier.wait()
            try:
                Store.open(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, f"attempt {attempt}: {errors}"
        with Store.open(path) as store:
            assert schema.current_version(store.conn) == schema.SCHEMA_VERSION


def test_migration_statements_split_like_sqlite_reads_them() -> None:
    script = "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE INDEX i ON a(x);\n-- the end\n"
    assert [s.strip() for s in schema.statements(script)] == [
        "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE INDEX i ON a(x);",
    ]


def test_a_sender_with_a_display_name_gives_a_usable_default_unsubscribe(tmp_path: Path) -> None:
    """``sender = "Litwatch <litwatch@example.org>"`` made the default List-Unsubscribe
    ``mailto:Litwatch <litwatch@...>?...``, refused when building every digest: nothing
    was ever delivered."""
    from litwatch.deliver.digests import compose
    from litwatch.records import Digest, Subscription
    from litwatch.render import make_environment

    config = tmp_path / "litwatch.toml"
    config.write_text(
        '[entrez]\nemail = "a@example.org"\n[smtp]\nsender = "Litwatch <litwatch@example.org>"\n'
    )
    settings = load_settings(config, env={})
    now = dt.datetime(2021, 6, 7, 8, tzinfo=dt.UTC)
    sub = Subscription("daily", "Daily", ("kratom",), ("editor@example.org",))
    digest = Digest(subscription=sub, key="daily/x", period_start=None, period_end=now, items=())
    message = compose(settings, make_environment(), now, digest, "editor@example.org")
    assert (
        message["List-Unsubscribe"] == "<mailto:litwatch@example.org?subject=unsubscribe%20daily>"
    )
    assert message["From"].addresses[0].display_name == "Litwatch"


def test_a_sender_that_is_no_address_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "litwatch.toml"
    config.write_text('[entrez]\nemail = "a@example.org"\n[smtp]\nsender = "litwatch at example"\n')
    with pytest.raises(ConfigError, match=r"\[smtp\]\.sender: not an email address"):
        load_settings(config, env={})


def test_temp_files_of_a_killed_writer_are_cleared_by_the_next_write(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    stale = feeds / ".all.atom.k1ll3d.tmp"
    stale.write_text("<feed>half")
    other = feeds / ".kratom.atom.k1ll3d.tmp"  # another feed's: left alone until it is written
    other.write_text("<feed>half")
    write_feed_files(feeds, {"all.atom": "<feed/>"})
    assert not stale.exists() and other.exists()
    assert (feeds / "all.atom").read_text() == "<feed/>"

    outbox = tmp_path / "outbox"
    message = build_message(
        subject="s", sender="a@example.org", recipient="b@example.org", text="t", html="<p>h</p>",
        digest_key="k", list_id="L", unsubscribe=None, now=dt.datetime(2021, 6, 7, tzinfo=dt.UTC),
        domain="example.org",
    )  # fmt: skip
    mailer = OutboxMailer(outbox)
    outbox.mkdir(mode=0o700)
    leftover = outbox / f".{mailer.path_for(message).name}.abc123.tmp"
    leftover.write_bytes(b"From: half a message")
    mailer.send(message)
    assert not leftover.exists()
    sent = email.message_from_bytes(
        mailer.path_for(message).read_bytes(), policy=email.policy.default
    )
    assert sent["To"] == "b@example.org"


def test_the_store_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Store.open(tmp_path / "state" / "litwatch.db").close()
        write_feed_files(tmp_path / "feeds", {"all.rss": "<rss/>"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "litwatch.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "feeds").stat().st_mode) == 0o755


def test_back_to_back_processes_share_ncbis_rate_limit(tmp_path: Path) -> None:
    """NCBI counts requests per key; two runs in a row (a daemon, then cron) used to
    have a limiter each and together went over 10/s: HTTP 429 (the fault suite saw ten).
    Two limiters on one file stand for two processes."""
    assert isinstance(shared_limiter(10), SharedRateLimiter)  # what EntrezClient uses
    path = tmp_path / "eutils-10.starts"
    limiters = [SharedRateLimiter(10, path), SharedRateLimiter(10, path)]
    stamps: list[float] = []
    lock = threading.Lock()

    def worker(limiter: SharedRateLimiter) -> None:
        for _ in range(13):
            limiter.acquire()
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=worker, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stamps.sort()
    assert len(stamps) == 26
    most = max(sum(1 for s in stamps if start <= s < start + 0.995) for start in stamps)
    assert most <= 10, most
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
