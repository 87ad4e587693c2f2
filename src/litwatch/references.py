"""The article's own references: stored once, then watched for retractions, errata and
expressions of concern with one [mdat] search a day over all of them.

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
    article: ArticleRefs,
    now: dt.datetime,
    overlap_days: int,
) -> ReferenceCheck:
    today = now.date()
    try:
        pmids = resolve(store, client, article, today)
    except LitwatchError as exc:
        return ReferenceCheck(article.name, len(article.pmids) + len(article.dois), error=str(exc))
    article = replace(article, pmids=pmids)
    result = ReferenceCheck(article=article.name, references=len(pmids))
    if not pmids:
        return result
    store.set_article_refs(article.name, pmids)
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
    )
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


def resolve(
    store: Store, client: EntrezClient, article: ArticleRefs, today: dt.date
) -> tuple[str, ...]:
    """The article's PMIDs plus those of its DOIs: stored ones from the store, the others
    with one esearch on [aid] (their records are then fetched like any reference)."""
    pmids = list(article.pmids)
    unresolved = []
    for doi in article.dois:
        known = store.pmid_for_doi(doi)
        if known:
            pmids.append(known)
        else:
            unresolved.append(doi)
    if unresolved:
        term = " OR ".join(f'"{doi}"[aid]' for doi in unresolved)
        found = client.search(
            term,
            mindate=dt.date(1800, 1, 1),
            maxdate=today,
            datetype="pdat",
            watch=f"references of {article.name}",
        )
        pmids.extend(found.ids)
    return tuple(dict.fromkeys(pmids))


def check_all(
    store: Store,
    client: EntrezClient,
    articles: Sequence[ArticleRefs],
    now: dt.datetime,
    overlap_days: int,
) -> tuple[ReferenceCheck, ...]:
    results = []
    for article in articles:
        result = check_references(store, client, article, now, overlap_days)
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
