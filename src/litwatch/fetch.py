"""Download records PubMed has and the store lacks (or holds an old version of), one
batch at a time, each committed before the next is asked for; tell what changed."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from litwatch.errors import LitwatchError
from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import DeletedCitations, MalformedRecord, Paper
from litwatch.sources.pubmed import EntrezClient
from litwatch.store.repository import Store
from litwatch.updates import changes

log = logging.getLogger(__name__)


@dataclass
class FetchOutcome:
    stored: set[str] = field(default_factory=set)  # wanted PMIDs whose records are in the store
    deleted: set[str] = field(default_factory=set)
    malformed: list[MalformedRecord] = field(default_factory=list)
    fetched: set[str] = field(default_factory=set)  # downloaded in this run
    updated: set[str] = field(default_factory=set)  # stale PMIDs with a change worth telling
    error: str | None = None


def fetch_missing(
    store: Store,
    client: EntrezClient,
    wanted: list[str],
    now: dt.datetime,
    stale: set[str] = frozenset(),
) -> FetchOutcome:
    """Download the records of ``wanted`` PMIDs that are not stored yet and of the
    ``stale`` ones PubMed revised, one batch at a time, each committed before the next."""
    outcome = FetchOutcome()
    missing = set(wanted) - store.stored_pmids(wanted)
    try:
        for document in client.fetch(sorted(missing | stale, key=int)) if missing | stale else ():
            papers: list[Paper] = []
            for item in parse_pubmed_xml(document):
                if isinstance(item, Paper):
                    papers.append(item)
                elif isinstance(item, DeletedCitations):
                    outcome.deleted.update(item.pmids)
                else:
                    log.warning("skipped a malformed record (PMID %s): %s", item.pmid, item.reason)
                    outcome.malformed.append(item)
            before = {p.pmid: store.paper_by_pmid(p.pmid) for p in papers if p.pmid in stale}
            store.save_papers(papers, now)
            outcome.fetched.update(p.pmid for p in papers)
            for paper in papers:
                old = before.get(paper.pmid)
                found = changes(old[1], paper) if old else ()
                if found and store.record_updates(old[0], [(u.kind, u.detail) for u in found], now):
                    outcome.updated.add(paper.pmid)
                    log.info("PMID %s changed: %s", paper.pmid, "; ".join(u.detail for u in found))
    except LitwatchError as exc:
        outcome.error = str(exc)
        log.error("fetching records failed: %s", exc)
    if outcome.deleted:
        store.mark_deleted(outcome.deleted, now)
    outcome.stored = store.stored_pmids(wanted)
    return outcome
