"""Collect: for each watch, search its window on PubMed's create date; fetch (once, across
all watches) the records not stored yet; then commit each watch's matches and move its
watermark. A watch's first run seeds: what already matches is known, not new.

Once a day per watch, one more search on the modification date ([mdat]) finds the stored
papers PubMed revised; only those are fetched again and compared (retracted, erratum, ...).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from litwatch.config import CollectSettings
from litwatch.errors import LitwatchError
from litwatch.fetch import FetchOutcome, fetch_missing
from litwatch.records import RunReport, Watch, WatchResult
from litwatch.references import ArticleRefs, check_all, resolve, with_resolved_references
from litwatch.sources.pubmed import EntrezClient
from litwatch.store.repository import Store, WatchState

log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Plan:
    """One searched watch on its way to being recorded."""

    watch: Watch
    result: WatchResult
    candidates: set[str] = field(default_factory=set)  # PMIDs new to this watch
    stale: set[str] = field(default_factory=set)  # its stored PMIDs PubMed revised since
    updates_checked: dt.date | None = None  # set when the [mdat] search succeeded


def collect(
    store: Store,
    client: EntrezClient,
    watches: Sequence[Watch],
    settings: CollectSettings,
    now: dt.datetime,
    clock: Callable[[], dt.datetime] = utc_now,
    articles: Sequence[ArticleRefs] = (),
) -> RunReport:
    started = clock()
    run_id = store.begin_run(now, started)
    plans: list[Plan] = []
    results: list[WatchResult] = []
    resolved = [resolve(store, client, article, now.date()) for article in articles]
    watches = with_resolved_references(watches, resolved)
    for watch in watches:
        state = store.watch_state(watch.name)
        if watch.kind == "citedin" and (
            error := cover_new_references(store, client, watch, state, run_id, now)
        ):
            result = WatchResult(watch=watch.name, error=error)
            store.record_watch(run_id, watch, result, now)
            results.append(log_result(result))
            continue
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
    stale = set().union(*(p.stale for p in plans))
    outcome = fetch_missing(store, client, wanted, now, stale=stale)

    for plan in plans:
        results.append(log_result(finish_watch(store, run_id, plan, outcome, now)))
    references = check_all(store, client, resolved, now, settings.overlap_days)
    report = RunReport(
        run_id=run_id,
        now=now,
        started=started,
        finished=clock(),
        watches=tuple(sorted(results, key=lambda r: [w.name for w in watches].index(r.watch))),
        malformed=tuple(outcome.malformed),
        references=references,
    )
    store.finish_run(run_id, report.finished, report.ok)
    return report


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
        if watch.kind == "citedin":
            found = client.cited_in(watch.references, watch=watch.name)
        else:
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
        return Plan(watch, replace(result, new=0), candidates)
    # Records fetched today are fresh: the [mdat] search is needed once a day, and only
    # when the watch already holds papers.
    plan = Plan(watch, result, candidates, updates_checked=end)
    if (
        watch.kind == "search"
        and state is not None
        and state.updates_checked != end
        and store.has_new_matches(watch.name)
    ):
        check_revised(store, client, plan, min(state.updates_checked or start, end), end)
    return plan


def cover_new_references(
    store: Store,
    client: EntrezClient,
    watch: Watch,
    state: WatchState | None,
    run_id: int,
    now: dt.datetime,
) -> str | None:
    """A reference the citers watch did not cover yet (a DOI PubMed has just resolved): the
    papers already citing it are a backlog, seeded as on a first run, not news. A first run
    (or a changed term) seeds everything anyway. Returns an error, or None."""
    added = [pmid for pmid in watch.references if pmid not in store.citers_covered(watch.name)]
    if not added:
        return None
    if state is not None and state.watermark is not None and state.term == watch.term:
        try:
            found = client.cited_in(added, watch=watch.name)
        except LitwatchError as exc:
            return f"could not seed the citers of {len(added)} new reference(s): {exc}"
        seeded = store.seed_matches(watch.name, found.ids, run_id, now)
        log.info(
            "watch %s: %d new reference(s), %d citer(s) seeded", watch.name, len(added), seeded
        )
    store.cover_citers(watch.name, added)
    return None


def check_revised(
    store: Store, client: EntrezClient, plan: Plan, start: dt.date, end: dt.date
) -> None:
    """Find the watch's stored papers that PubMed revised since the last check: one
    esearch on [mdat] from the day of that check (whole days, so it is searched again)
    to today. A record fetched today is current; one fetched earlier may not be."""
    watch = plan.watch
    try:
        revised = client.search(
            watch.term, mindate=start, maxdate=end, datetype="mdat", watch=watch.name
        )
    except LitwatchError as exc:
        warning = f"could not check stored papers for updates: {exc}"
        plan.result = replace(plan.result, warnings=(*plan.result.warnings, warning))
        plan.updates_checked = None
        return
    plan.stale = store.stale_pmids(revised.ids, before=end)


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
        updated=len(plan.stale & outcome.updated),
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
    checked = plan.updates_checked if not (plan.stale and outcome.error) else None
    store.record_watch(
        run_id, plan.watch, result, now, matched=matched, waiting=waiting, updates_checked=checked
    )
    if plan.candidates & outcome.deleted:
        store.drop_pending(plan.watch.name, plan.candidates & outcome.deleted)
    return result


def log_result(result: WatchResult) -> WatchResult:
    window = "..".join(d.isoformat() for d in result.window) if result.window else "-"
    if result.error:
        log.error("watch %s: FAILED (window %s): %s", result.watch, window, result.error)
    else:
        log.info(
            "watch %s: window %s, found %d, new %d, fetched %d, pending %d, updated %d%s; query: %s",
            result.watch,
            window,
            result.found,
            result.new,
            result.fetched,
            result.pending,
            result.updated,
            ", seeded" if result.seeded else "",
            result.query_translation,
        )
    for warning in result.warnings:
        log.warning("watch %s: %s", result.watch, warning)
    return result
