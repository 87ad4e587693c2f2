"""Deliver what is due: assemble digests, send them one recipient at a time, record each
one only after the server accepted it, and rewrite the feeds from the store.

Every step is safe to repeat. A crash between "sending" and the ledger write leaves the
delivery 'sending'; the next run re-sends it with the same Message-ID and says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import jinja2

from litwatch import __version__
from litwatch.config import Settings
from litwatch.deliver.email import (
    Mailer,
    Outcome,
    SendResult,
    build_message,
    digest_subject,
    make_mailer,
    message_id,
    parse_address,
)
from litwatch.deliver.feeds import Feed, FeedEntry, render_feed_files, write_feed_files
from litwatch.digest import (
    build_digest,
    effective_subscription,
    feed_url,
    latest_due,
    subscription_articles,
)
from litwatch.errors import DeliveryError
from litwatch.records import Digest, Subscription, TriageNote, Watch
from litwatch.render import render_digest
from litwatch.store.ledger import Delivery, Ledger
from litwatch.store.repository import Store, StoredPaper
from litwatch.triage.matching import Article
from litwatch.triage.note import triage_note

log = logging.getLogger(__name__)

RETRY_FIRST = dt.timedelta(minutes=5)
RETRY_MAX = dt.timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    subscription: str
    recipient: str
    message_id: str
    outcome: str  # sent | retry | failed | unknown
    papers: int
    detail: str = ""
    resent: bool = False  # a re-send after an unknown outcome


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    results: tuple[DeliveryResult, ...] = ()
    feeds: tuple[Path, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and all(
            r.outcome in ("sent", "retry", "unknown") for r in self.results
        )


@dataclass
class Context:
    store: Store
    settings: Settings
    watches: Sequence[Watch]
    env: jinja2.Environment
    now: dt.datetime
    articles: Mapping[str, Article] = field(default_factory=dict)
    ledger: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.store)

    def subscription(self, name: str) -> Subscription | None:
        sub = next((s for s in self.settings.digests if s.name == name), None)
        return effective_subscription(sub, self.watches) if sub else None


def sender_domain(settings: Settings) -> str:
    return parse_address(settings.smtp.sender).addr_spec.rpartition("@")[2] or "localhost"


def deliver(
    store: Store,
    settings: Settings,
    watches: Sequence[Watch],
    env: jinja2.Environment,
    now: dt.datetime,
    mailer: Mailer | None = None,
    articles: Mapping[str, Article] | None = None,
) -> DeliveryReport:
    ctx = Context(store, settings, watches, env, now, dict(articles or {}))
    assemble_due(ctx)
    results, errors = send_open(ctx, mailer)
    feeds: tuple[Path, ...] = ()
    try:
        feeds = write_feeds(ctx)
    except DeliveryError as exc:
        errors.append(str(exc))
        log.error("%s", exc)
    return DeliveryReport(tuple(results), feeds, tuple(errors))


def assemble_due(ctx: Context) -> None:
    """For each subscription whose schedule fired since its last digest, assemble one."""
    domain = sender_domain(ctx.settings)
    for configured in ctx.settings.digests:
        sub = effective_subscription(configured, ctx.watches)
        new = ctx.ledger.register(sub, ctx.now)
        due = latest_due(sub.schedule, sub.timezone, ctx.now, after=ctx.ledger.last_due(sub.name))
        if due is None:
            continue
        if new:  # a new subscription starts after the moment that just passed
            ctx.ledger.mark_handled(sub.name, due, ctx.now)
            continue
        digest_id = ctx.ledger.create_digest(
            sub,
            due,
            ctx.now,
            lambda key, rcpt: message_id(key, rcpt, domain),
            articles=subscription_articles(sub, ctx.watches),
        )
        if digest_id is not None:
            log.info("digest %s: assembled for %s", sub.name, due.isoformat())


def send_open(ctx: Context, mailer: Mailer | None) -> tuple[list[DeliveryResult], list[str]]:
    results: list[DeliveryResult] = []
    errors: list[str] = []
    open_ = ctx.ledger.open_deliveries(ctx.now)
    if not open_:
        return results, errors
    own_mailer = mailer is None
    try:
        mailer = mailer or make_mailer(ctx.settings.smtp, ctx.settings.root)
        for delivery in open_:
            results.append(send_one(ctx, mailer, delivery))
    except DeliveryError as exc:  # the server as a whole (connect, TLS, login): the rest wait
        errors.append(str(exc))
        log.error("delivery stopped: %s", exc)
        for waiting in open_[len(results) :]:
            retry_later(ctx, waiting, str(exc))
    finally:
        if own_mailer and mailer is not None:
            mailer.close()
    return results, errors


def send_one(ctx: Context, mailer: Mailer, delivery: Delivery) -> DeliveryResult:
    sub = ctx.subscription(delivery.subscription)
    if sub is None:
        log.warning(
            "digest %s is no longer configured; its open deliveries wait", delivery.subscription
        )
        return DeliveryResult(
            delivery.subscription,
            delivery.recipient,
            delivery.message_id,
            "retry",
            0,
            "digest no longer configured",
        )
    resent = delivery.status in ("sending", "unknown")
    if resent:
        log.warning(
            "re-sending %s to %s: the outcome of the previous attempt is unknown",
            delivery.message_id,
            delivery.recipient,
        )
    paper_ids = ctx.ledger.delivery_papers(delivery.digest_id, delivery.recipient)
    updates = ctx.ledger.delivery_updates(delivery.digest_id, delivery.recipient)
    digest = build_digest(
        ctx.store,
        ctx.settings,
        sub,
        ctx.watches,
        delivery.due,
        paper_ids,
        delivery.more,
        updates,
        ctx.articles,
    )
    message = compose(ctx.settings, ctx.env, ctx.now, digest, delivery.recipient)
    ctx.ledger.set_status(delivery, "sending")
    result = mailer.send(message)
    count = len(digest.items)
    base = dict(
        subscription=sub.name,
        recipient=delivery.recipient,
        message_id=delivery.message_id,
        papers=count,
        detail=result.detail,
        resent=resent,
    )
    if result.outcome is Outcome.ACCEPTED:
        ctx.ledger.mark_sent(delivery, ctx.now)
        log.info("digest %s: sent %d paper(s) to %s", sub.name, count, delivery.recipient)
        return DeliveryResult(outcome="sent", **base)
    if result.outcome is Outcome.FAILED:
        ctx.ledger.set_status(delivery, "failed", error=result.detail)
        log.error("digest %s: %s refused: %s", sub.name, delivery.recipient, result.detail)
        return DeliveryResult(outcome="failed", **base)
    if result.outcome is Outcome.UNKNOWN:
        ctx.ledger.set_status(delivery, "unknown", error=result.detail)
        log.warning(
            "digest %s: outcome unknown for %s: %s", sub.name, delivery.recipient, result.detail
        )
        return DeliveryResult(outcome="unknown", **base)
    retry_later(ctx, delivery, result.detail)
    return DeliveryResult(outcome="retry", **base)


def retry_later(ctx: Context, delivery: Delivery, error: str) -> None:
    wait = min(RETRY_FIRST * 2**delivery.attempts, RETRY_MAX)
    status = "unknown" if delivery.status in ("sending", "unknown") else "pending"
    ctx.ledger.set_status(delivery, status, error=error, next_attempt=ctx.now + wait)
    log.warning(
        "digest %s: %s will be retried after %s: %s",
        delivery.subscription,
        delivery.recipient,
        wait,
        error,
    )


def compose(
    settings: Settings, env: jinja2.Environment, now: dt.datetime, digest: Digest, recipient: str
) -> EmailMessage:
    sub = digest.subscription
    domain = sender_domain(settings)
    sender = parse_address(settings.smtp.sender, "sender").addr_spec  # not "Name <addr>"
    unsubscribe = sub.unsubscribe or f"mailto:{sender}?subject=unsubscribe%20{sub.name}"
    return build_message(
        subject=digest_subject(
            sub.title, len(digest.items) + digest.more, digest.period_end.date()
        ),
        sender=settings.smtp.sender,
        recipient=recipient,
        text=render_digest(env, digest, now, "text"),
        html=render_digest(env, digest, now, "html"),
        digest_key=digest.key,
        list_id=f"{sub.title} <{sub.name}.{domain}>",
        unsubscribe=unsubscribe,
        now=now,
        domain=domain,
    )


def write_feeds(ctx: Context) -> tuple[Path, ...]:
    """One Atom and one RSS feed per watch and one combined, from the store."""
    settings = ctx.settings
    limit = settings.feeds.max_entries
    files: dict[str, str] = {}
    targets = [(w.name, f"litwatch: {w.title}", [w.name]) for w in ctx.watches]
    targets.append(("all", "litwatch: all watches", None))
    titles = {w.name: w.title for w in ctx.watches}
    served = {
        w.name: ctx.articles[w.article]
        for w in ctx.watches
        if w.article in ctx.articles and w.kind == "search"
    }
    notes: dict[str, TriageNote] = {}  # one note per paper, though it stands in several feeds

    def note_for(sp: StoredPaper) -> TriageNote:
        if sp.paper.pmid not in notes:
            article = next((served[w] for w in sp.watches if w in served), None)
            notes[sp.paper.pmid] = triage_note(sp.paper, article, ctx.now)
        return notes[sp.paper.pmid]

    for name, title, watch_names in targets:
        papers = ctx.store.matched_papers(watch_names, newest_first=True, limit=limit)
        entries = tuple(
            FeedEntry(
                paper=sp.paper,
                watches=sp.watches,
                first_seen=sp.first_seen,
                updated=sp.updated,
                triage=note_for(sp),
            )
            for sp in papers
        )
        feed = Feed(
            name=name,
            title=title,
            self_url=feed_url(settings, name),
            updated=max((e.updated for e in entries), default=ctx.now),
            entries=entries,
            watch_titles=titles,
        )
        files.update(
            render_feed_files(ctx.env, feed, settings.feeds.base_url, ctx.now, version=__version__)
        )
    folder = settings.resolve(settings.feeds.dir)
    write_feed_files(folder, files)
    return tuple(folder / name for name in files)


def send_sample(
    settings: Settings,
    watches: Sequence[Watch],
    sub: Subscription,
    now: dt.datetime,
    recipients: Sequence[str] | None = None,
    env: jinja2.Environment | None = None,
    articles: Mapping[str, Article] | None = None,
) -> list[SendResult]:
    """Send a sample of ``sub`` (its newest stored papers) to check SMTP. Records nothing."""
    from litwatch.render import make_environment

    env = env or make_environment(
        settings.resolve(settings.templates.dir) if settings.templates.dir else None
    )
    if settings.store_path.exists():
        with Store.open(settings.store_path) as store:
            ids = store.newest_paper_ids(list(sub.watches), limit=min(sub.max_papers, 5))
            digest = build_digest(store, settings, sub, watches, now, ids, 0, (), articles)
    else:
        digest = Digest(
            subscription=sub, key=f"{sub.name}/sample", period_start=None, period_end=now, items=()
        )
    digest = Digest(
        subscription=sub,
        key=f"{sub.name}/test/{now.isoformat(timespec='seconds')}",
        period_start=digest.period_start,
        period_end=digest.period_end,
        items=digest.items,
        watch_status=digest.watch_status,
        feed_url=digest.feed_url,
        sections=digest.sections,
    )
    results = []
    mailer = make_mailer(settings.smtp, settings.root)
    try:
        for recipient in recipients or sub.recipients:
            results.append(mailer.send(compose(settings, env, now, digest, recipient)))
    finally:
        mailer.close()
    return results
