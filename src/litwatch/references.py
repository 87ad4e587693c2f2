"""The article's own references: stored once, then watched for retractions, errata and
expressions of concern with one [mdat] search a day over all of them.

References given as DOIs are resolved to PMIDs before the run's searches: from the store
when their records are stored, otherwise with one [aid] search (at most once a day), so
the watch of new citers covers them too. A DOI PubMed does not know is a warning.

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
    dois: tuple[str, ...] = ()  # the DOIs not (yet) resolved from the store
    error: str | None = None  # the [aid] search failed


def citing_watch(article: ArticleRefs) -> Watch:
    """The watch that finds new papers citing any of the article's references."""
    return Watch(
        name=f"cites-{article.name}",
        title="New papers citing the article's references",
        term=f"papers citing any of the {len(article.pmids)} references of {article.name}",
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
        return replace(result, warnings=_unknown_dois(store, resolved.dois))
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
    ) + _unknown_dois(store, resolved.dois)
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


def _unknown_dois(store: Store, dois: Sequence[str]) -> tuple[str, ...]:
    """The warning for DOIs no stored record carries, after this run's fetch."""
    unknown = [doi for doi in dois if not store.pmid_for_doi(doi)]
    if not unknown:
        return ()
    return (f"{len(unknown)} reference DOI(s) not found in PubMed: {', '.join(unknown)}",)


def resolve(store: Store, client: EntrezClient, article: ArticleRefs, today: dt.date) -> Resolved:
    """The article's PMIDs plus those of its DOIs: stored ones from the store, the others
    with one esearch on [aid] when the day's reference check is still due (their records
    are then fetched like any reference)."""
    pmids = list(article.pmids)
    unresolved = []
    for doi in article.dois:
        if known := store.pmid_for_doi(doi):
            pmids.append(known)
        else:
            unresolved.append(doi)
    error = None
    if unresolved and store.refs_checked(article.name) != today:
        try:
            found = client.search(
                " OR ".join(f'"{doi}"[aid]' for doi in unresolved),
                mindate=dt.date(1800, 1, 1),
                maxdate=today,
                datetype="pdat",
                watch=f"references of {article.name}",
            )
            pmids.extend(found.ids)
        except LitwatchError as exc:
            error = str(exc)
    return Resolved(replace(article, pmids=tuple(dict.fromkeys(pmids))), tuple(unresolved), error)


def resolve_all(
    store: Store, client: EntrezClient, articles: Sequence[ArticleRefs], today: dt.date
) -> list[Resolved]:
    return [resolve(store, client, article, today) for article in articles]


def with_resolved_references(watches: Sequence[Watch], resolved: Sequence[Resolved]) -> list[Watch]:
    """The citers watch of each article made to cover every resolved reference."""
    articles = {r.article.name: r.article for r in resolved}
    return [
        citing_watch(articles[w.article]) if w.kind == "citedin" and w.article in articles else w
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
