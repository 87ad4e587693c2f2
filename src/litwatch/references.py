"""The article's own references: stored once, then watched for retractions, errata and
expressions of concern with one [mdat] search a day over all of them.

References given as DOIs are resolved to PMIDs before the run's searches, so the watch of
new citers covers them too: one "DOI"[aid] search per DOI, kept in the store once it found
something, repeated at most once a day while it finds nothing (a warning each run).

(Papers that newly cite the references are a watch of kind "citedin": see
``citing_watch``; they flow through collect like any other watch.)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from litwatch.errors import LitwatchError
from litwatch.fetch import fetch_missing
from litwatch.records import ReferenceCheck, Watch
from litwatch.sources.pubmed import EntrezClient
from litwatch.store.repository import Store
from litwatch.updates import current_notices

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ArticleRefs:
    """What collect needs of an article file: its name and the PMIDs it cites."""

    name: str
    title: str
    pmids: tuple[str, ...]
    source: Path
    dois: tuple[str, ...] = ()  # resolved to PMIDs through PubMed once they are stored


@dataclass(frozen=True, slots=True)
class Resolved:
    """An article's references as PMIDs: its own plus those its DOIs resolved to."""

    article: ArticleRefs  # ``pmids``: every reference PubMed knows so far
    unknown: tuple[str, ...] = ()  # DOIs PubMed found nothing for
    error: str | None = None  # an [aid] search failed


def citing_watch(article: ArticleRefs) -> Watch:
    """The watch that finds new papers citing any of the article's references."""
    return Watch(
        name=f"cites-{article.name}",
        title="New papers citing the article's references",
        # the references as the article file gives them: DOIs resolving later do not change it
        term=f"papers citing any of the {len(article.pmids) + len(article.dois)} references"
        f" of {article.name}",
        source=article.source,
        article=article.name,
        kind="citedin",
        references=article.pmids,
    )


def check_references(
    store: Store,
    client: EntrezClient,
    resolved: Resolved,
    now: dt.datetime,
    overlap_days: int,
) -> ReferenceCheck:
    today = now.date()
    article = resolved.article
    if resolved.error:
        return ReferenceCheck(article.name, len(article.pmids), error=resolved.error)
    result = ReferenceCheck(article=article.name, references=len(article.pmids))
    if not article.pmids:
        return replace(result, warnings=_unknown_dois(resolved.unknown))
    store.set_article_refs(article.name, article.pmids)
    stored = store.stored_pmids(article.pmids)
    missing = [p for p in article.pmids if p not in stored]
    stale: set[str] = set()
    checked = store.refs_checked(article.name)
    if stored and checked != today:
        start = checked or today - dt.timedelta(days=overlap_days)
        term = " OR ".join(f"{pmid}[uid]" for pmid in article.pmids)
        try:
            revised = client.search(
                term,
                mindate=start,
                maxdate=today,
                datetype="mdat",
                watch=f"references of {article.name}",
            )
        except LitwatchError as exc:
            return ReferenceCheck(article.name, len(article.pmids), error=str(exc))
        stale = store.stale_pmids(revised.ids, before=today)
    outcome = fetch_missing(store, client, missing, now, stale=stale)
    updated = set(outcome.updated)
    for pmid in sorted(outcome.fetched & set(missing), key=int):
        found = store.paper_by_pmid(pmid)
        notices = current_notices(found[1]) if found else ()
        if notices and store.record_updates(found[0], [(u.kind, u.detail) for u in notices], now):
            updated.add(pmid)
    if outcome.error:
        return ReferenceCheck(article.name, len(article.pmids), error=outcome.error)
    store.mark_refs_checked(article.name, today)
    still_missing = tuple(p for p in missing if p not in outcome.fetched)
    warnings = (
        (f"{len(still_missing)} reference(s) not found in PubMed: {', '.join(still_missing)}",)
        if still_missing
        else ()
    ) + _unknown_dois(resolved.unknown)
    for pmid in sorted(updated, key=int):
        log.warning("article %s: reference PMID %s has a new notice", article.name, pmid)
    return ReferenceCheck(
        article=article.name,
        references=len(article.pmids),
        fetched=len(outcome.fetched),
        updated=tuple(sorted(updated, key=int)),
        missing=still_missing,
        warnings=warnings,
    )


def _unknown_dois(dois: Sequence[str]) -> tuple[str, ...]:
    if not dois:
        return ()
    return (f"{len(dois)} reference DOI(s) not found in PubMed: {', '.join(dois)}",)


def resolve(store: Store, client: EntrezClient, article: ArticleRefs, today: dt.date) -> Resolved:
    """The article's PMIDs plus those of its DOIs. A DOI is searched ("DOI"[aid]) the first
    time, then only on a new day for as long as PubMed finds nothing for it."""
    pmids = list(article.pmids)
    unknown: list[str] = []
    error = None
    lookups = store.doi_lookups(article.dois)
    for doi in article.dois:
        found, day = lookups.get(doi, ((), None))
        if not found and day != today and error is None:
            try:
                found = client.search(
                    f'"{doi}"[aid]',
                    mindate=dt.date(1800, 1, 1),
                    maxdate=today,
                    datetype="pdat",
                    watch=f"references of {article.name}",
                ).ids
            except LitwatchError as exc:
                error = str(exc)
                continue
            store.record_doi_lookup(doi, found, today)
        if found:
            pmids.extend(found)
        elif day is not None or error is None:
            unknown.append(doi)
    return Resolved(replace(article, pmids=tuple(dict.fromkeys(pmids))), tuple(unknown), error)


def with_resolved_references(watches: Sequence[Watch], resolved: Sequence[Resolved]) -> list[Watch]:
    """The citers watch of each article made to cover every resolved reference."""
    pmids = {r.article.name: r.article.pmids for r in resolved}
    return [
        replace(w, references=pmids[w.article]) if w.kind == "citedin" and w.article in pmids else w
        for w in watches
    ]


def check_all(
    store: Store,
    client: EntrezClient,
    articles: Sequence[Resolved],
    now: dt.datetime,
    overlap_days: int,
) -> tuple[ReferenceCheck, ...]:
    results = []
    for resolved in articles:
        article = resolved.article
        result = check_references(store, client, resolved, now, overlap_days)
        if result.error:
            log.error("article %s: references could not be checked: %s", article.name, result.error)
        else:
            log.info(
                "article %s: %d reference(s), %d fetched, %d with a new notice",
                article.name,
                result.references,
                result.fetched,
                len(result.updated),
            )
        for warning in result.warnings:
            log.warning("article %s: %s", article.name, warning)
        results.append(result)
    return tuple(results)
