"""run_once(): the one function cron, CI and the daemon all call: collect, then deliver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from litwatch.article import refs_of
from litwatch.collect import collect, utc_now
from litwatch.config import Settings
from litwatch.deliver.digests import DeliveryReport
from litwatch.deliver.digests import deliver as deliver_due
from litwatch.deliver.email import Mailer
from litwatch.records import RunReport, Watch
from litwatch.render import check_templates, make_environment
from litwatch.sources.pubmed import EntrezClient
from litwatch.store.repository import Store
from litwatch.triage.matching import Article


@dataclass(frozen=True, slots=True)
class RunOutcome:
    collected: RunReport | None
    delivered: DeliveryReport | None

    @property
    def ok(self) -> bool:
        return all(r is None or r.ok for r in (self.collected, self.delivered))


def run_once(
    settings: Settings,
    watches: Sequence[Watch],
    now: dt.datetime,
    *,
    collect_from: Sequence[Watch] | None = None,
    deliver: bool = True,
    client: EntrezClient | None = None,
    mailer: Mailer | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    articles: Sequence[Article] = (),
) -> RunOutcome:
    """One run as of ``now``: collect for ``collect_from`` (default: every enabled watch),
    then deliver what is due. ``watches`` are all configured watches. Raises StoreBusy
    when another run holds the store, before touching anything."""
    targets = [w for w in watches if w.enabled] if collect_from is None else list(collect_from)
    env = make_environment(
        settings.resolve(settings.templates.dir) if settings.templates.dir else None
    )
    if deliver:
        check_templates(env)
    refs = [refs_of(a) for a in articles]
    by_name = {a.name: a for a in articles}
    with Store.open(settings.store_path) as store, store.exclusive():
        report = None
        if targets:
            if client is not None:
                report = collect(store, client, targets, settings.collect, now, clock, refs)
            else:
                with EntrezClient(settings.entrez) as own_client:
                    report = collect(store, own_client, targets, settings.collect, now, clock, refs)
        delivered = (
            deliver_due(store, settings, watches, env, now, mailer, by_name) if deliver else None
        )
    return RunOutcome(report, delivered)
