"""run_once(): the one function cron, CI and the daemon all call.

Collect: for each watch, search its window on PubMed's create date; fetch (once, across
all watches) the records not stored yet; then commit each watch's matches and move its
watermark. A watch's first run seeds: what already matches is known, not new.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from litwatch.config import CollectSettings, Settings
from litwatch.deliver.digests import DeliveryReport
from litwatch.deliver.digests import deliver as deliver_due
from litwatch.deliver.email import Mailer
from litwatch.errors import LitwatchError
from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import DeletedCitations, MalformedRecord, Paper, RunReport, Watch, WatchResult
from litwatch.render import check_templates, make_environment
from litwatch.sources.pubmed import EntrezClient
from litwatch.store.repository import Store, WatchState

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """One searched watch on its way to being recorded."""

    watch: Watch
    result: WatchResult
    candidates: set[str] = field(default_factory=set)  # PMIDs new to this watch


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def collect(
    store: Store,
    client: EntrezClient,
    watches: Sequence[Watch],
    settings: CollectSettings,
    now: dt.datetime,
    clock: Callable[[], dt.datetime] = utc_now,
) -> RunReport:
    started = clock()
    run_id = store.begin_run(now, started)
    plans: list[Plan] = []
    results: list[WatchResult] = []
    for watch in watches:
        state = store.watch_state(watch.name)
        plan = search_watch(store, client, watch, state, settings, now)
        if plan.result.ok and plan.result.seeded:
            store.record_watch(run_id, watch, plan.result, now, matched=plan.candidates)
            results.append(log_result(plan.result))
        elif plan.result.ok:
            plans.append(plan)
        else:
            store.record_watch(run_id, watch, plan.result, now)
            results.append(log_result(plan.result))

    waiting_before = store.pending()
    for plan in plans:
        plan.candidates |= waiting_before.get(plan.watch.name, set())
    wanted = sorted(set().union(*(p.candidates for p in plans)))
    outcome = fetch_missing(store, client, wanted, now)

    for plan in plans:
        results.append(log_result(finish_watch(store, run_id, plan, outcome, now)))
    report = RunReport(
        run_id=run_id,
        now=now,
        started=started,
        finished=clock(),
        watches=tuple(sorted(results, key=lambda r: [w.name for w in watches].index(r.watch))),
        malformed=tuple(outcome.malformed),
    )
    store.finish_run(run_id, report.finished, report.ok)
    return report


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
    with Store.open(settings.store_path) as store, store.exclusive():
        report = None
        if targets:
            if client is not None:
                report = collect(store, client, targets, settings.collect, now, clock)
            else:
                with EntrezClient(settings.entrez) as own_client:
                    report = collect(store, own_client, targets, settings.collect, now, clock)
        delivered = deliver_due(store, settings, watches, env, now, mailer) if deliver else None
    return RunOutcome(report, delivered)


def search_window(
    watch: Watch, state: WatchState | None, settings: CollectSettings, now: dt.datetime
) -> tuple[dt.date, dt.date, bool]:
    """(from, to, first run?). Windows are whole days, inclusive, ending today."""
    overlap = dt.timedelta(days=settings.overlap_days)
    first = state is None or state.watermark is None or state.term != watch.term
    if first:
        start = watch.backlog_since or (now - overlap).date()
    else:
        start = (state.watermark - overlap).date()
    return min(start, now.date()), now.date(), first


def search_watch(
    store: Store,
    client: EntrezClient,
    watch: Watch,
    state: WatchState | None,
    settings: CollectSettings,
    now: dt.datetime,
) -> Plan:
    start, end, first = search_window(watch, state, settings, now)
    seeding = first and watch.first_run == "seed"
    result = WatchResult(watch=watch.name, window=(start, end), seeded=seeding)
    try:
        found = client.search(
            watch.term, mindate=start, maxdate=end, datetype=settings.datetype, watch=watch.name
        )
    except LitwatchError as exc:
        return Plan(watch, replace(result, error=str(exc)))
    result = replace(
        result,
        found=len(found.ids),
        query_translation=found.query_translation,
        warnings=found.warnings,
    )
    if first and state is not None and state.term != watch.term:
        result = replace(result, warnings=(*result.warnings, "query changed: seeded again"))
    known = store.matched_pmids(watch.name, found.ids)
    candidates = {pmid for pmid in found.ids if pmid not in known}
    if seeding:
        result = replace(result, new=0)
    return Plan(watch, result, candidates)


@dataclass
class FetchOutcome:
    stored: set[str] = field(default_factory=set)  # wanted PMIDs whose records are in the store
    deleted: set[str] = field(default_factory=set)
    malformed: list[MalformedRecord] = field(default_factory=list)
    fetched: set[str] = field(default_factory=set)  # downloaded in this run
    error: str | None = None


def fetch_missing(
    store: Store, client: EntrezClient, wanted: list[str], now: dt.datetime
) -> FetchOutcome:
    """Download the records of ``wanted`` PMIDs that are not stored yet, one batch at a
    time, each batch committed before the next is asked for."""
    outcome = FetchOutcome()
    missing = sorted(set(wanted) - store.stored_pmids(wanted), key=int)
    try:
        for document in client.fetch(missing) if missing else ():
            papers: list[Paper] = []
            for item in parse_pubmed_xml(document):
                if isinstance(item, Paper):
                    papers.append(item)
                elif isinstance(item, DeletedCitations):
                    outcome.deleted.update(item.pmids)
                else:
                    log.warning("skipped a malformed record (PMID %s): %s", item.pmid, item.reason)
                    outcome.malformed.append(item)
            store.save_papers(papers, now)
            outcome.fetched.update(p.pmid for p in papers)
    except LitwatchError as exc:
        outcome.error = str(exc)
        log.error("fetching records failed: %s", exc)
    if outcome.deleted:
        store.mark_deleted(outcome.deleted, now)
    outcome.stored = store.stored_pmids(wanted)
    return outcome


def finish_watch(
    store: Store, run_id: int, plan: Plan, outcome: FetchOutcome, now: dt.datetime
) -> WatchResult:
    matched = plan.candidates & outcome.stored
    waiting = plan.candidates - outcome.stored - outcome.deleted
    result = replace(
        plan.result,
        new=len(matched),
        fetched=len(matched & outcome.fetched),
        pending=len(waiting),
    )
    warnings = list(result.warnings)
    bad = [m for m in outcome.malformed if m.pmid in plan.candidates]
    if bad:
        warnings.append(
            f"{len(bad)} malformed record(s) skipped: PMID {', '.join(str(m.pmid) for m in bad)}"
        )
    if waiting and outcome.error:
        result = replace(result, error=f"{len(waiting)} record(s) not fetched: {outcome.error}")
    elif waiting:
        warnings.append(f"{len(waiting)} record(s) not available from PubMed yet; will retry")
    result = replace(result, warnings=tuple(warnings))
    store.record_watch(run_id, plan.watch, result, now, matched=matched, waiting=waiting)
    if plan.candidates & outcome.deleted:
        store.drop_pending(plan.watch.name, plan.candidates & outcome.deleted)
    return result


def log_result(result: WatchResult) -> WatchResult:
    window = "..".join(d.isoformat() for d in result.window) if result.window else "-"
    if result.error:
        log.error("watch %s: FAILED (window %s): %s", result.watch, window, result.error)
    else:
        log.info(
            "watch %s: window %s, found %d, new %d, fetched %d, pending %d%s; query: %s",
            result.watch,
            window,
            result.found,
            result.new,
            result.fetched,
            result.pending,
            ", seeded" if result.seeded else "",
            result.query_translation,
        )
    for warning in result.warnings:
        log.warning("watch %s: %s", result.watch, warning)
    return result
