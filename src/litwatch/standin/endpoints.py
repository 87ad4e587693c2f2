"""What esearch.fcgi, efetch.fcgi, einfo.fcgi and elink.fcgi answer, as NCBI does, over a
`Searcher`."""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from . import replies
from .faults import Fault
from .query import DATETYPES, Field, QueryError, run_query
from .search import Searcher, parse_date

MAX_IDS = 9999  # esearch returns at most this many ids per query (retstart 0..9998)
# The pubmed -> pubmed links the stand-in can compute from ReferenceList, in NCBI's order.
ELINK_NAMES = ("pubmed_pubmed_citedin", "pubmed_pubmed_refs")
# NCBI's other pubmed -> pubmed link names (Biopython's elink1.xml, biopython #1654): real, but
# computed by NCBI from usage and similarity, so not served here.
ELINK_NOT_SERVED = (
    "pubmed_pubmed",
    "pubmed_pubmed_alsoviewed",
    "pubmed_pubmed_combined",
    "pubmed_pubmed_five",
    "pubmed_pubmed_reviews",
    "pubmed_pubmed_reviews_five",
)


class History:
    """NCBI's history server, enough for usehistory=y then efetch by WebEnv + query_key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envs: dict[str, list[list[int]]] = {}

    def remember(self, webenv: str, ids: list[int]) -> tuple[str, int]:
        with self._lock:
            if webenv not in self._envs:
                webenv = "MCID_" + secrets.token_hex(12)
                self._envs[webenv] = []
            self._envs[webenv].append(ids)
            return webenv, len(self._envs[webenv])

    def get(self, webenv: str, query_key: int) -> list[int] | None:
        with self._lock:
            queries = self._envs.get(webenv, [])
            return queries[query_key - 1] if 1 <= query_key <= len(queries) else None

    def clear(self) -> None:
        with self._lock:
            self._envs.clear()


def esearch(
    p: Mapping[str, str], searcher: Searcher, today: dt.date, history: History, fault: Fault | None
) -> replies.Reply:
    """esearch.fcgi: NCBI's XML or JSON, the 9,999 cap, in-band errors at HTTP 200."""
    json_mode = p.get("retmode", "xml").strip().lower() == "json"
    db = p.get("db", "").strip() or "pubmed"
    if db.lower() != "pubmed":
        return replies.esearch_error(f"Invalid db name specified: {db}", json_mode)
    term = p.get("term", "")
    if not term.strip():
        return replies.esearch_error("Empty term and query_key - nothing todo", json_mode)
    retstart = max(0, _int(p.get("retstart"), 0))
    retmax = max(0, _int(p.get("retmax"), 20))
    if retstart >= MAX_IDS:
        return replies.esearch_error(replies.RETSTART_ERROR, json_mode)
    messages = []
    if retstart + retmax > MAX_IDS:
        retmax = MAX_IDS - retstart
        messages.append(f"Restrictions achieved. start and count adjusted to {retstart}, {retmax}")
    try:
        date_filter = _date_filter(p, today)
    except ValueError as e:
        return replies.esearch_error(str(e), json_mode)
    field = p.get("field", "").strip() or None
    try:
        result = run_query(term, searcher, today, date_filter, field=field)
    except QueryError as e:
        return replies.esearch_error(f"Search Backend failed: {e}", json_mode)
    ids = _sorted(searcher, result.pmids, p.get("sort", ""))
    page_ids = ids[retstart : retstart + retmax]
    if not ids:
        messages.append("No items found.")
    webenv = query_key = None
    if p.get("usehistory", "").strip().lower() == "y":
        webenv, query_key = history.remember(p.get("WebEnv", "").strip(), ids)
    page = replies.SearchPage(result, len(ids), retstart, page_ids, messages, webenv, query_key)
    extra = fault is not None and fault.kind == "new_element"
    if json_mode:
        return replies.Reply(200, replies.esearch_json(page, extra=extra), replies.JSON_TYPE)
    element = ""
    if extra:
        name = fault.opts["name"]
        element = f"<{name}>{replies.escape(fault.opts['text'])}</{name}>"
    unknown = fault is not None and fault.kind == "unknown_dtd"
    return replies.Reply(200, replies.esearch_xml(page, extra=element, unknown_dtd=unknown))


def _date_filter(p: Mapping[str, str], today: dt.date) -> tuple[Field, int, int] | None:
    datetype = p.get("datetype", "").strip().lower() or "pdat"
    mindate, maxdate = p.get("mindate", "").strip(), p.get("maxdate", "").strip()
    reldate = p.get("reldate", "").strip()
    if not (mindate and maxdate) and not reldate:
        return None  # NCBI ignores mindate without maxdate and vice versa
    f = DATETYPES.get(datetype)
    if f is None:
        raise ValueError(f"Invalid datetype: {datetype}")
    if mindate and maxdate:
        lo, hi = parse_date(mindate, today), parse_date(maxdate, today)
        if lo is None or hi is None:
            bad = mindate if lo is None else maxdate
            raise ValueError(f"Invalid date format: {bad} (use YYYY/MM/DD, YYYY/MM or YYYY)")
        return f, lo[0], hi[1]
    days = _int(reldate, -1)
    if days < 0:
        raise ValueError(f"Invalid reldate: {reldate}")
    return f, (today - dt.timedelta(days=days)).toordinal(), today.toordinal()


def efetch(
    p: Mapping[str, str], searcher: Searcher, history: History, fault: Fault | None
) -> replies.Reply:
    """efetch.fcgi: the records' original bytes in the order asked; unknown PMIDs left out."""
    db = p.get("db", "").strip() or "pubmed"
    if db.lower() != "pubmed":
        return replies.efetch_error(f"Invalid db name specified: {db}")
    retmode = p.get("retmode", "xml").strip().lower() or "xml"
    if retmode != "xml":
        return replies.efetch_error(
            f"retmode={retmode} is not served by the litwatch stand-in (only xml)"
        )
    if p.get("id", "").strip():
        asked = parse_ids(p["id"])
        if not asked:
            return replies.efetch_error("Empty id list - nothing todo")
    elif p.get("WebEnv", "").strip() or p.get("query_key", "").strip():
        key = _int(p.get("query_key"), 1)
        stored = history.get(p.get("WebEnv", "").strip(), key)
        if stored is None:
            return replies.efetch_error(f"Unable to obtain query #{key}")
        start = max(0, _int(p.get("retstart"), 0))
        stop = start + max(0, _int(p.get("retmax"), 20))
        asked = [(pmid, None) for pmid in stored[start:stop]]
    else:
        return replies.efetch_error("Empty id list - nothing todo")
    seen: set[tuple[int, int | None]] = set()
    records: list[bytes] = []
    for pmid, version in asked:
        if (pmid, version) in seen:
            continue
        seen.add((pmid, version))
        if (r := searcher.record(pmid, version)) is not None:
            records.append(r.xml)  # unknown PMIDs are left out silently, as NCBI does
    dtd_url = None
    if fault is not None and fault.kind == "drop_records":
        records = _drop(records, fault.opts)
    elif fault is not None and fault.kind == "new_element":
        o = fault.opts
        records = [replies.inject_element(x, o["name"], o["text"], o["parent"]) for x in records]
    elif fault is not None and fault.kind == "unknown_dtd":
        dtd_url = fault.opts["url"] or replies.UNKNOWN_PUBMED_DTD_URL
    return replies.efetch_xml(records, dtd_url=dtd_url)


def einfo(p: Mapping[str, str], searcher: Searcher, today: dt.date) -> replies.Reply:
    """einfo.fcgi: the database list, or pubmed's DbInfo (Count, LastUpdate)."""
    json_mode = p.get("retmode", "xml").strip().lower() == "json"
    newest = max(
        (r.dates.get("edat", 0) for ix, _ in searcher.parts for r in ix.records.values()),
        default=today.toordinal(),
    )
    last_update = dt.date.fromordinal(newest).strftime("%Y/%m/%d") + " 06:00"
    count = len(searcher.all_pmids())
    return replies.einfo(p.get("db", "").strip() or None, count, last_update, json_mode)


def elink(
    p: Mapping[str, str], id_values: Sequence[str], searcher: Searcher, fault: Fault | None
) -> replies.Reply:
    """elink.fcgi, cmd=neighbor, pubmed -> pubmed: pubmed_pubmed_citedin (the served records
    whose ReferenceList cites the id) and pubmed_pubmed_refs (every PMID the id's record cites).

    `id_values` are the values of every `id=` parameter, in order. As at NCBI, each one is a
    group answered by one LinkSet: `id=1,2` is one LinkSet with the links of 1 and 2 unioned,
    `id=1&id=2` is one LinkSet per id. No `linkname`: every link name served. Links are PMID
    descending, as in NCBI's replies; an id group with no links gets a LinkSet without
    LinkSetDb. Not served: other link names (pubmed_pubmed "similar articles", ...), other
    databases, other cmds, and the term/mindate/maxdate filters.
    """
    json_mode = p.get("retmode", "xml").strip().lower() == "json"
    retmode = p.get("retmode", "xml").strip().lower() or "xml"
    if retmode not in ("xml", "json"):
        return replies.elink_error(
            f"retmode={retmode} is not served by the litwatch stand-in (only xml, json)", False
        )
    for name in ("dbfrom", "db"):
        db = p.get(name, "").strip() or "pubmed"
        if db.lower() != "pubmed":
            return replies.elink_error(f"Invalid db name specified: {db}", json_mode)
    cmd = p.get("cmd", "").strip() or "neighbor"
    if cmd.lower() != "neighbor":
        return replies.elink_error(
            f"Exception:\ncmd={cmd} is not served by the litwatch stand-in (only neighbor)",
            json_mode,
            in_linkset=True,
        )
    linkname = p.get("linkname", "").strip()
    if linkname and linkname.lower() not in ELINK_NAMES:
        served = ", ".join(ELINK_NAMES)
        if linkname.lower() in ELINK_NOT_SERVED:
            message = f"linkname={linkname} is not served by the litwatch stand-in (only {served})"
        else:
            message = f"Invalid linkname: {linkname} (the litwatch stand-in serves {served})"
        return replies.elink_error(f"Exception:\n{message}", json_mode, in_linkset=True)
    names = (linkname.lower(),) if linkname else ELINK_NAMES
    groups = [g for g in (_unique(parse_ids(v)) for v in id_values) if g]
    if not groups:
        return replies.elink_error("Empty id list - nothing todo", json_mode)
    linksets = []
    for group in groups:
        dbs = []
        for name in names:
            links: set[int] = set()
            for pmid in group:
                if name == "pubmed_pubmed_citedin":
                    links |= searcher.cited_by(pmid)
                else:
                    links.update(searcher.refs(pmid))
            dbs.append((name, sorted(links, reverse=True)))
        linksets.append(replies.LinkSet([str(i) for i in group], dbs))
    unknown = fault is not None and fault.kind == "unknown_dtd"
    return replies.elink(linksets, json_mode, unknown_dtd=unknown)


def _unique(ids: list[tuple[int, int | None]]) -> list[int]:
    """PMIDs in order without repeats (a version suffix is ignored: links are per PMID)."""
    return list(dict.fromkeys(pmid for pmid, _ in ids))


def _drop(records: list[bytes], opts: Mapping[str, Any]) -> list[bytes]:
    """The drop_records fault: leave out the PMIDs given, or a seeded random fraction."""
    if opts.get("pmids") is not None:
        drop = {str(p) for p in opts["pmids"]}
        return [x for x in records if _pmid_of(x) not in drop]
    rng = random.Random(opts.get("seed", 0))
    n = round(len(records) * opts["fraction"])
    gone = set(rng.sample(range(len(records)), min(n, len(records))))
    return [x for i, x in enumerate(records) if i not in gone]


_PMID_RE = re.compile(rb"<PMID[^>]*>\s*(\d+)\s*</PMID>")


def _pmid_of(xml: bytes) -> str:
    m = _PMID_RE.search(xml)
    return m.group(1).decode() if m else ""


def _sorted(searcher: Searcher, pmids: set[int], sort: str) -> list[int]:
    sort = sort.strip().lower().replace("+", " ").replace("_", " ")
    ids = sorted(pmids, reverse=True)
    rec = searcher.record
    if sort in ("pub date", "pubdate", "date desc"):
        ids.sort(key=lambda p: rec(p).dates.get("pdat", 0), reverse=True)
    elif sort in ("author", "first author"):
        ids.sort(key=lambda p: rec(p).sort_author)
    elif sort in ("journal", "journalname"):
        ids.sort(key=lambda p: rec(p).sort_journal)
    elif sort == "title":
        ids.sort(key=lambda p: rec(p).sort_title)
    return ids  # default, "relevance", "most recent": PMID descending


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def parse_ids(text: str) -> list[tuple[int, int | None]]:
    """'1,2, 3.2' -> [(1, None), (2, None), (3, 2)]; anything else is ignored."""
    out = []
    for token in re.split(r"[,\s]+", text.strip()):
        if m := re.fullmatch(r"(\d+)(?:\.(\d+))?", token):
            out.append((int(m.group(1)), int(m.group(2)) if m.group(2) else None))
    return out
