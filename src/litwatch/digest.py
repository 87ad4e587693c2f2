"""What is due and what goes in it: schedules, digest assembly from the store, Digest values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from litwatch.config import Settings
from litwatch.cron import cron_trigger
from litwatch.records import Digest, DigestItem, PaperUpdate, Subscription, Watch, WatchStatus
from litwatch.store.ledger import Ledger, digest_key, stored_papers
from litwatch.store.repository import Store
from litwatch.triage.note import triage_note
from litwatch.updates import Update

if TYPE_CHECKING:
    from litwatch.triage.matching import Article

LOOKBACK = dt.timedelta(days=32)  # how far back a missed schedule is still caught up


def latest_due(
    schedule: str, timezone: str, now: dt.datetime, after: dt.datetime | None = None
) -> dt.datetime | None:
    """The last moment the cron ``schedule`` fired at or before ``now`` (and after
    ``after``), in UTC; None if it has not fired in that span."""
    trigger = cron_trigger(schedule, timezone)
    start = now - LOOKBACK
    if after is not None and after > start:
        start = after + dt.timedelta(seconds=1)
    latest = None
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return latest.astimezone(dt.UTC) if latest else None


def next_due(schedule: str, timezone: str, now: dt.datetime) -> dt.datetime | None:
    trigger = cron_trigger(schedule, timezone)
    fire = trigger.get_next_fire_time(None, now + dt.timedelta(seconds=1))
    return fire.astimezone(dt.UTC) if fire else None


def subscription_articles(sub: Subscription, watches: Sequence[Watch]) -> tuple[str, ...]:
    """The articles the subscription's watches serve."""
    return tuple(sorted({w.article for w in watches if w.name in sub.watches and w.article}))


def effective_subscription(sub: Subscription, watches: Sequence[Watch]) -> Subscription:
    """``sub`` plus the watches of papers citing its articles' references: a digest on
    an article's watches also carries what newly cites the article's sources."""
    articles = set(subscription_articles(sub, watches))
    extra = tuple(
        w.name
        for w in watches
        if w.kind == "citedin" and w.article in articles and w.name not in sub.watches
    )
    return replace(sub, watches=sub.watches + extra) if extra else sub


def feed_name(sub: Subscription) -> str:
    return sub.watches[0] if len(sub.watches) == 1 else "all"


def feed_url(settings: Settings, name: str) -> str:
    return settings.feeds.base_url.rstrip("/") + f"/{name}.atom"


def build_digest(
    store: Store,
    settings: Settings,
    sub: Subscription,
    watches: Sequence[Watch],
    due: dt.datetime,
    paper_ids: Sequence[int],
    more: int,
    updates: Sequence[tuple[int, str, str, dt.datetime]] = (),
    articles: Mapping[str, Article] | None = None,
) -> Digest:
    """The Digest value for ``paper_ids`` (already chosen) and ``updates`` (paper_id, kind,
    detail, detected_at), with the watches' status and, for an article, its sections."""
    ledger = Ledger(store)
    period_start = ledger.previous_due(sub.name, due)
    served = [articles[n] for n in subscription_articles(sub, watches) if n in (articles or {})]
    items = []
    for sp in stored_papers(store, paper_ids):
        ordered = tuple(w for w in sub.watches if w in sp.watches)
        items.append(
            DigestItem(
                paper=sp.paper,
                watches=ordered,
                first_seen=sp.first_seen,
                triage=triage_note(sp.paper, served[0] if served else None, due),
            )
        )
    references = store.reference_paper_ids(subscription_articles(sub, watches))
    return Digest(
        subscription=sub,
        key=digest_key(sub.name, due),
        period_start=period_start,
        period_end=due,
        items=tuple(items),
        more=more,
        watch_status=watch_status(store, sub, watches, period_start),
        feed_url=feed_url(settings, feed_name(sub)),
        updates=paper_updates(store, updates, references),
        sections=tuple(dict.fromkeys(s.title for a in served for s in a.sections)),
    )


def explain(digest: Digest) -> str:
    """Why each paper is where it is: for ``litwatch preview``."""
    lines = ["", "Why each paper is where it is", "-----------------------------"]
    for item in digest.items:
        note = item.triage
        if note is None:
            continue
        lines.append(f"{item.paper.pmid}  {item.paper.title[:70]}")
        lines.append(f"    evidence: {note.evidence_why}")
        lines.append(f"    sections: {'; '.join(note.sections) or 'Other'}")
        if note.matched_terms:
            lines.append(f"    matched: {', '.join(note.matched_terms)}")
        if note.score_why:
            lines.append(f"    {note.score_why}")
    return "\n".join(lines) + "\n"


def paper_updates(
    store: Store,
    updates: Sequence[tuple[int, str, str, dt.datetime]],
    references: set[int] = frozenset(),
) -> tuple[PaperUpdate, ...]:
    """Serious updates (retracted, withdrawn, expression of concern) first."""
    papers = dict(store.papers_by_id(sorted({u[0] for u in updates}), matched_only=False))
    out = [
        PaperUpdate(
            paper=papers[paper_id].paper,
            kind=kind,
            detail=detail,
            detected_at=detected_at,
            serious=Update(kind, detail).serious,
            reference=paper_id in references,
        )
        for paper_id, kind, detail, detected_at in updates
        if paper_id in papers
    ]
    return tuple(sorted(out, key=lambda u: (not u.serious, not u.reference, u.detected_at)))


def watch_status(
    store: Store, sub: Subscription, watches: Sequence[Watch], since: dt.datetime | None
) -> tuple[WatchStatus, ...]:
    by_name = {w.name: w for w in watches}
    out = []
    for name in sub.watches:
        watch = by_name.get(name)
        state = store.watch_state(name)
        found, new, translation = store.watch_activity(name, since)
        out.append(
            WatchStatus(
                name=name,
                title=watch.title if watch else name,
                term=watch.term if watch else (state.term if state else ""),
                query_translation=translation,
                found=found,
                new=new,
                checked_until=state.watermark if state else None,
                failing_since=state.failing_since if state else None,
                error=state.last_error if state else None,
            )
        )
    return tuple(out)


def preview_digest(
    store: Store,
    settings: Settings,
    sub: Subscription,
    watches: Sequence[Watch],
    now: dt.datetime,
    articles: Mapping[str, Article] | None = None,
) -> Digest:
    """The digest the first recipient would get at the next scheduled moment, from what
    is in the store now. Writes nothing."""
    due = next_due(sub.schedule, sub.timezone, now) or now
    ledger = Ledger(store)
    recipient = sub.recipients[0].lower()
    sub = effective_subscription(sub, watches)
    cited_by = subscription_articles(sub, watches)
    subscribed = ledger.is_subscribed(sub, recipient)
    eligible = ledger.eligible(sub, recipient) if subscribed else []
    pending = ledger.pending_updates(sub, recipient, cited_by) if subscribed else []
    updates = ledger.updates_by_id(pending)
    chosen = eligible[: sub.max_papers]
    return build_digest(
        store, settings, sub, watches, due, chosen, len(eligible) - len(chosen), updates, articles
    )
