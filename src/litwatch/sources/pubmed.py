"""PubMed through NCBI E-utilities: esearch a date window for PMIDs, efetch them in batches,
elink the papers that cite given PMIDs (``cited_in``).

What this edge promises (see DESIGN.md, "Guarantees"):

- Never an empty result on failure: a search or fetch either returns complete data or raises
  ``SourceError`` (``RateLimited`` after repeated 429s, ``QueryError`` when the query is the
  problem), naming the watch.
- Polite: every attempt (retries included) first takes a slot from a process-wide
  ``RateLimiter``; retries back off exponentially with full jitter and honour ``Retry-After``.
- The api_key travels only in POST bodies (httpx logs URLs at INFO) and is redacted ("***")
  from any response text put in a log line or an exception (NCBI echoes a rejected key).

How NCBI answers, and what each answer becomes here:

============================================  =============================================
HTTP 429 (JSON ``{"error": "API rate ...``)    retry after ``Retry-After`` (<= 60 s) or backoff
HTTP 5xx, connection reset/refused, timeout,   retry with backoff
incomplete body, empty 200, not well-formed
XML, efetch without ``</PubmedArticleSet>``
200 with ``<ERROR>`` / ``{"error": ...}``      retry (outages: "Search Backend failed: Database
                                              is not supported: pubmed", "... Unable to open
                                              connection to #PMQuerySrv", "... 502 Proxy Error";
                                              elink: "Couldn't resolve #exLinkSrv2, the address
                                              table is empty.", ``<LinkSet><ERROR>``)
200 with ``<ERROR>`` naming a query problem    ``QueryError`` at once ("Empty term and query_key
                                              - nothing todo", or text saying syntax/invalid
                                              query/unbalanced)
other HTTP 4xx (400 = rejected api_key)        ``SourceError`` at once, body redacted, a hint
ErrorList/FieldNotFound                        ``QueryError``: NCBI dropped part of the query
ErrorList/PhraseNotFound                       a warning, with or without ids: the query is
                                              valid, one phrase matches no record
WarningList/*                                  warnings ("PhraseIgnored: of", ...)
============================================  =============================================

NCBI does *not* reject unbalanced parentheses: it runs what it could read and says so at most
in a WarningList, which silently changes the query. So unbalanced parentheses, brackets or
quotes are refused here, before any request, as a ``QueryError``.

Sources for the ``<ERROR>`` texts: biopython issues #5025 and metapub #73 ("Search Backend
failed: Database is not supported: pubmed", an outage in July 2025), biopython #3890 ("Unable
to open connection to #PMQuerySrv"), biopython #4189/#4193 (retstart >= 9999, which litwatch
never sends), kblin/ncbi-entrez-error-messages (proxy texts in 200 bodies); "Empty term and
query_key - nothing todo" for an empty term, and no ``<ERROR>`` for ``melanoma AND (``,
as observed against the live endpoint in public client test suites. NCBI publishes no list of
its error messages, so an unknown ``<ERROR>`` is treated as transient and, if it persists,
reported as a ``SourceError`` whose hint says to try the query on the PubMed website.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import httpx
from lxml import etree

from litwatch import __version__
from litwatch.config import EntrezSettings
from litwatch.errors import QueryError, RateLimited, SourceError
from litwatch.parse.elink import ElinkResult, parse_elink
from litwatch.parse.esearch import EsearchPage, MalformedResponse, parse_esearch
from litwatch.sources.ratelimit import RateLimiter, shared_limiter

__all__ = [
    "CITEDIN",
    "ELINK_BATCH",
    "ESEARCH_MAX_IDS",
    "EntrezClient",
    "RateLimiter",
    "SearchResult",
    "make_http_client",
    "shared_limiter",
]

log = logging.getLogger(__name__)

ESEARCH_MAX_IDS = 9999  # PubMed's esearch returns at most this many ids per query
ELINK_BATCH = 200  # ids per elink POST (comma-separated: one LinkSet, links unioned)
CITEDIN = "pubmed_pubmed_citedin"
RETRY_AFTER_CAP = 60.0  # seconds
_SNIPPET = 300  # characters of a response body quoted in an error

# <ERROR> texts that say the query itself is unusable: retrying cannot help.
_QUERY_PROBLEM = re.compile(
    r"empty term|invalid query|query syntax|syntax error|unbalanced|unmatched|malformed (?:query|term)",
    re.IGNORECASE,
)
_PMID = re.compile(r"[1-9][0-9]{0,9}")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SearchResult:
    ids: tuple[str, ...]  # every PMID in the window, no duplicates
    count: int  # NCBI's total Count (sum over split windows)
    query_translation: str | None
    warnings: tuple[str, ...]  # "QuotedPhraseNotFound: ...", "PhraseIgnored: ...", ...
    requests: int  # HTTP requests it took, retries included


def make_http_client(settings: EntrezSettings) -> httpx.Client:
    """The HTTP client for E-utilities: timeouts from settings, a litwatch User-Agent."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout),
        headers={"User-Agent": f"litwatch/{__version__}"},
        follow_redirects=False,
    )


class _Retry(Exception):
    """This attempt failed in a way another attempt may not (internal)."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.ncbi_error = False  # NCBI said <ERROR>/{"error"} in a 200


class EntrezClient:
    """esearch, efetch and elink for PubMed with retries, rate limiting and NCBI's error
    shapes."""

    def __init__(
        self,
        settings: EntrezSettings,
        *,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._owns_http = http is None
        self._http = http if http is not None else make_http_client(settings)
        self._limiter = limiter if limiter is not None else shared_limiter(settings.rate_limit)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        base = settings.base_url if settings.base_url.endswith("/") else settings.base_url + "/"
        self._base_url = base
        identity = {"tool": settings.tool, "email": settings.email, "api_key": settings.api_key}
        self._identity = {k: v for k, v in identity.items() if v}
        secret = settings.api_key or ""
        self._secrets = tuple(
            s for s in {secret, quote(secret, safe=""), quote_plus(secret)} if len(s) >= 4
        )
        self._count_lock = threading.Lock()
        self._requests = 0

    # -- public API ------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """HTTP requests this client has sent so far (retries included)."""
        return self._requests

    def search(
        self,
        term: str,
        *,
        mindate: dt.date,
        maxdate: dt.date,
        datetype: str = "crdt",
        watch: str | None = None,
    ) -> SearchResult:
        """Every PMID matching ``term`` with ``datetype`` in [mindate, maxdate] (whole days).

        Windows with more matches than esearch returns (9,999) are split in halves until each
        fits; a single day that does not fit is a ``SourceError``, never a silent truncation.
        """
        if mindate > maxdate:
            raise ValueError(f"mindate {mindate} is after maxdate {maxdate}")
        if not re.fullmatch(r"[a-z]{2,8}", datetype):
            raise ValueError(
                f"datetype must be an E-utilities date field like 'crdt', not {datetype!r}"
            )
        self._refuse_bad_term(term, watch)
        acc = _Accumulator()
        self._search_window(term, mindate, maxdate, datetype, watch, acc)
        return SearchResult(
            ids=tuple(acc.ids),
            count=acc.count,
            query_translation=acc.query_translation,
            warnings=tuple(acc.warnings),
            requests=acc.requests,
        )

    def _refuse_bad_term(self, term: str, watch: str | None) -> None:
        problem = term_problem(term)
        if problem:
            raise QueryError(
                f"the query cannot be sent to PubMed: {problem}",
                watch=watch,
                url=self._safe_url("esearch.fcgi"),
                hint="fix the watch's term",
            )

    def count(self, term: str, *, watch: str | None = None) -> SearchResult:
        """How many records match ``term`` in all of PubMed, with PubMed's translation and
        warnings, in one request and without ids (for ``litwatch check --online``)."""
        self._refuse_bad_term(term, watch)
        form = {"db": "pubmed", "term": term, "retmax": "0", "retmode": "xml"}
        page, attempts = self._call(
            "esearch.fcgi", form, watch=watch, check=lambda r: self._check_esearch(r, watch)
        )
        acc = _Accumulator()
        acc.note(page)
        return SearchResult(
            ids=(),
            count=page.count,
            query_translation=acc.query_translation,
            warnings=tuple(acc.warnings),
            requests=attempts,
        )

    def fetch(self, pmids: Sequence[str], *, watch: str | None = None) -> Iterator[bytes]:
        """POST efetch in batches of ``settings.batch_size``; yield each complete XML document.

        Each body is checked (well-formed, a complete ``PubmedArticleSet``, not an
        ``eFetchResult/ERROR``) before it is yielded; a bad one is retried like a 5xx.
        """
        ids = _pmid_list(pmids)
        size = self._settings.batch_size
        if size < 1:
            raise ValueError(f"[entrez].batch_size must be at least 1, not {size}")
        batches = [ids[i : i + size] for i in range(0, len(ids), size)]
        return self._fetch_batches(batches, watch)

    def cited_in(self, pmids: Sequence[str], *, watch: str | None = None) -> SearchResult:
        """The PMIDs of the papers that cite any of ``pmids`` (elink ``pubmed_pubmed_citedin``).

        One POST per ``ELINK_BATCH`` ids, comma-separated (NCBI then answers one LinkSet with
        the links of all of them unioned). The result's ids are deduplicated, sorted by PMID
        and never include ``pmids`` themselves; ``count`` is their number. A failed or
        in-band-error elink is retried like the other endpoints and then raised, never
        reported as "cited by nothing".
        """
        ids = _pmid_list(pmids)
        asked = set(ids)
        found: set[str] = set()
        attempts = 0
        for start in range(0, len(ids), ELINK_BATCH):
            batch = ids[start : start + ELINK_BATCH]
            form = {
                "dbfrom": "pubmed",
                "db": "pubmed",
                "cmd": "neighbor",
                "linkname": CITEDIN,
                "retmode": "xml",
                "id": ",".join(batch),
            }
            result, n = self._call(
                "elink.fcgi",
                form,
                watch=watch,
                check=lambda r: self._check_elink(r, watch),
                n_ids=len(batch),
            )
            attempts += n
            found.update(p for p in result.links(CITEDIN) if _PMID.fullmatch(p))
        citing = tuple(sorted(found - asked, key=int))
        return SearchResult(
            ids=citing, count=len(citing), query_translation=None, warnings=(), requests=attempts
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> EntrezClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "set" if self._settings.api_key else "unset"
        return f"EntrezClient(base_url={self._safe_url('')!r}, tool={self._settings.tool!r}, api_key={key})"

    # -- search ----------------------------------------------------------------------------

    def _search_window(
        self,
        term: str,
        lo: dt.date,
        hi: dt.date,
        datetype: str,
        watch: str | None,
        acc: _Accumulator,
    ) -> None:
        form = {
            "db": "pubmed",
            "term": term,
            "datetype": datetype,
            "mindate": lo.strftime("%Y/%m/%d"),
            "maxdate": hi.strftime("%Y/%m/%d"),
            "retmax": str(ESEARCH_MAX_IDS),
            "retmode": "xml",
        }
        page, attempts = self._call(
            "esearch.fcgi", form, watch=watch, check=lambda r: self._check_esearch(r, watch)
        )
        acc.requests += attempts
        acc.note(page)
        if page.count <= len(page.ids):
            acc.add(page)
            return
        if lo == hi:
            raise SourceError(
                f"{page.count} papers match on {lo.isoformat()} ({datetype}) but esearch returned "
                f"only {len(page.ids)} (it returns at most {ESEARCH_MAX_IDS:,} per query); "
                "refusing to truncate",
                watch=watch,
                url=self._safe_url("esearch.fcgi"),
                hint="narrow the watch's query so that one day has fewer than 9,999 matches",
            )
        mid = lo + dt.timedelta(days=(hi - lo).days // 2)
        log.info(
            "watch %r: %d matches for %s..%s exceed what esearch returns; splitting the window",
            watch,
            page.count,
            lo,
            hi,
        )
        self._search_window(term, lo, mid, datetype, watch, acc)
        self._search_window(term, mid + dt.timedelta(days=1), hi, datetype, watch, acc)

    def _check_esearch(self, response: httpx.Response, watch: str | None) -> EsearchPage:
        body = self._check_http(response, "esearch.fcgi", watch)
        self._check_json_error(body, "esearch.fcgi", watch)
        try:
            page = parse_esearch(body)
        except MalformedResponse as e:
            raise _Retry(f"malformed esearch response: {self._redact(str(e))}") from e
        if page.error is not None:
            self._raise_ncbi_error(page.error, "esearch.fcgi", watch)
        if page.fields_not_found:
            fields = ", ".join(repr(f) for f in page.fields_not_found)
            raise QueryError(
                f"PubMed does not know the search field(s) {fields}; NCBI would silently drop "
                "that part of the query",
                watch=watch,
                url=self._safe_url("esearch.fcgi"),
                status=response.status_code,
                hint="fix the field tag in the watch's term (e.g. [tiab], [mh], [pt])",
            )
        return page

    # -- fetch -----------------------------------------------------------------------------

    def _fetch_batches(self, batches: list[list[str]], watch: str | None) -> Iterator[bytes]:
        for batch in batches:
            yield self._fetch_batch(batch, watch)

    def _fetch_batch(self, batch: list[str], watch: str | None) -> bytes:
        form = {"db": "pubmed", "retmode": "xml", "id": ",".join(batch)}
        body, _ = self._call(
            "efetch.fcgi",
            form,
            watch=watch,
            check=lambda r: self._check_efetch(r, watch, len(batch)),
            n_ids=len(batch),
        )
        return body

    def _check_efetch(self, response: httpx.Response, watch: str | None, asked: int) -> bytes:
        body = self._check_http(response, "efetch.fcgi", watch)
        self._check_json_error(body, "efetch.fcgi", watch)
        probe = _probe_xml(body)
        if probe.malformed:
            raise _Retry(f"incomplete efetch response: {probe.malformed}")
        if probe.error is not None:
            self._raise_ncbi_error(probe.error, "efetch.fcgi", watch)
        if probe.root != "PubmedArticleSet":
            raise _Retry(f"efetch answered <{probe.root}>, not <PubmedArticleSet>")
        if probe.records != asked:
            log.debug(
                "watch %r: efetch returned %d of %d requested records", watch, probe.records, asked
            )
        return body

    # -- elink -----------------------------------------------------------------------------

    def _check_elink(self, response: httpx.Response, watch: str | None) -> ElinkResult:
        body = self._check_http(response, "elink.fcgi", watch)
        self._check_json_error(body, "elink.fcgi", watch)
        try:
            result = parse_elink(body)
        except MalformedResponse as e:
            raise _Retry(f"malformed elink response: {self._redact(str(e))}") from e
        if result.error is not None:
            self._raise_ncbi_error(result.error, "elink.fcgi", watch)
        for linkset in result.linksets:
            if linkset.error is not None:
                self._raise_ncbi_error(linkset.error, "elink.fcgi", watch)
        return result

    # -- one request, with retries ---------------------------------------------------------

    def _call(
        self,
        endpoint: str,
        form: dict[str, str],
        *,
        watch: str | None,
        check: Callable[[httpx.Response], T],
        n_ids: int = 0,
    ) -> tuple[T, int]:
        url = self._base_url + endpoint
        data = {**self._identity, **form}
        total = max(0, self._settings.max_retries) + 1
        failure = _Retry("no attempt made")
        for attempt in range(total):
            self._limiter.acquire()
            with self._count_lock:
                self._requests += 1
            started = time.monotonic()
            try:
                response = self._http.post(url, data=data)
            except (httpx.TransportError, httpx.DecodingError) as e:
                if isinstance(e, httpx.TimeoutException):
                    failure = _Retry(f"timed out ({type(e).__name__})")
                elif isinstance(e, httpx.DecodingError):
                    failure = _Retry(f"body could not be decoded ({self._redact(str(e))})")
                else:
                    failure = _Retry(
                        f"connection failed ({type(e).__name__}: {self._redact(str(e))})"
                    )
                log.debug(
                    "POST %s watch=%r ids=%d -> %s after %.3f s",
                    endpoint,
                    watch,
                    n_ids,
                    failure.reason,
                    time.monotonic() - started,
                )
            else:
                log.debug(
                    "POST %s watch=%r ids=%d -> HTTP %d, %d bytes in %.3f s",
                    endpoint,
                    watch,
                    n_ids,
                    response.status_code,
                    len(response.content),
                    time.monotonic() - started,
                )
                try:
                    return check(response), attempt + 1
                except _Retry as e:
                    failure = e
                    if failure.status is None:
                        failure.status = response.status_code
            if attempt + 1 == total:
                break
            wait = self._wait(attempt, failure.retry_after)
            log.warning(
                "watch %r: %s attempt %d/%d failed: %s; retrying in %.2f s",
                watch,
                endpoint,
                attempt + 1,
                total,
                failure.reason,
                wait,
            )
            self._sleep(wait)
        error_type = RateLimited if failure.status == 429 else SourceError
        raise error_type(
            f"{endpoint} failed after {total} attempt(s): {failure.reason}",
            watch=watch,
            url=self._safe_url(endpoint),
            status=failure.status,
            hint=self._give_up_hint(failure),
        )

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return self._rng.uniform(0.0, self._settings.backoff * 2**attempt)

    def _give_up_hint(self, failure: _Retry) -> str:
        if failure.status == 429:
            return "NCBI kept rate-limiting; set [entrez].api_key or lower [entrez].requests_per_second"
        if failure.ncbi_error:
            return (
                "NCBI kept answering with an error; usually an outage, tried again on the next "
                "run. If only this watch fails, try its query on the PubMed website"
            )
        return "NCBI or the network is failing; litwatch tries again on the next run"

    # -- response checks shared by both endpoints ------------------------------------------

    def _check_http(self, response: httpx.Response, endpoint: str, watch: str | None) -> bytes:
        status = response.status_code
        if status == 429:
            raise _Retry(
                f"HTTP 429 {self._snippet(response.content)}",
                status=status,
                retry_after=_retry_after(response),
            )
        if status >= 500:
            raise _Retry(
                f"HTTP {status} {self._snippet(response.content)}",
                status=status,
                retry_after=_retry_after(response),
            )
        if status != 200:
            if status == 400 and self._settings.api_key:
                hint = "check [entrez].api_key: NCBI answers HTTP 400 to a key it does not know"
            elif status == 400:
                hint = "check [entrez].email and [entrez].tool"
            else:
                hint = "check [entrez].base_url"
            raise SourceError(
                f"{endpoint} answered HTTP {status}: {self._snippet(response.content)}",
                watch=watch,
                url=self._safe_url(endpoint),
                status=status,
                hint=hint,
            )
        body = response.content
        if not body.strip():
            raise _Retry("HTTP 200 with an empty body", status=status)
        return body

    def _check_json_error(self, body: bytes, endpoint: str, watch: str | None) -> None:
        if not body.lstrip().startswith(b"{"):
            return
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise _Retry(f"HTTP 200 with a malformed JSON body: {self._snippet(body)}") from e
        message = None
        if isinstance(doc, dict):
            message = doc.get("error") or (doc.get("esearchresult") or {}).get("ERROR")
        self._raise_ncbi_error(str(message) if message else self._snippet(body), endpoint, watch)

    def _raise_ncbi_error(self, message: str, endpoint: str, watch: str | None) -> None:
        message = self._redact(message.strip())
        if _QUERY_PROBLEM.search(message):
            raise QueryError(
                f"NCBI rejected the query: {message}",
                watch=watch,
                url=self._safe_url(endpoint),
                status=200,
                hint="fix the watch's term",
            )
        failure = _Retry(f"NCBI error: {message[:_SNIPPET]}")
        failure.ncbi_error = True
        raise failure

    # -- secrets ---------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _snippet(self, body: bytes) -> str:
        text = body[: _SNIPPET * 4].decode("utf-8", "replace")
        text = " ".join(self._redact(text).split())
        return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")

    def _safe_url(self, endpoint: str) -> str:
        """The endpoint URL without userinfo, query or fragment (nothing secret)."""
        parts = urlsplit(self._base_url + endpoint)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return self._redact(urlunsplit((parts.scheme, host, parts.path, "", "")))


# NCBI's word for an empty result, not a problem with the query.
QUIET_WARNINGS = frozenset({"OutputMessage: No items found."})


class _Accumulator:
    """Merges the pages of a split search: ids de-duplicated in order, counts summed."""

    def __init__(self) -> None:
        self.ids: dict[str, None] = {}
        self.count = 0
        self.query_translation: str | None = None
        self.warnings: dict[str, None] = {}
        self.requests = 0

    def note(self, page: EsearchPage) -> None:
        if self.query_translation is None:
            self.query_translation = page.query_translation
        for phrase in page.phrases_not_found:
            self.warnings.setdefault(f"PhraseNotFound: {phrase}")
        for warning in page.warnings:
            if warning not in QUIET_WARNINGS:
                self.warnings.setdefault(warning)

    def add(self, page: EsearchPage) -> None:
        self.count += page.count
        for pmid in page.ids:
            self.ids.setdefault(pmid)


def _pmid_list(pmids: Sequence[str]) -> list[str]:
    """PMIDs as stripped strings, first occurrence order; ValueError names a bad one."""
    ids: list[str] = []
    for pmid in pmids:
        text = str(pmid).strip()
        if not _PMID.fullmatch(text):
            raise ValueError(f"not a PMID: {pmid!r}")
        ids.append(text)
    return list(dict.fromkeys(ids))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: fall back to the backoff
    return max(0.0, seconds) if seconds == seconds else None


def term_problem(term: str) -> str | None:
    """Why ``term`` must not be sent (empty, unbalanced parentheses/brackets/quotes), or None.

    Characters inside double quotes are literal and not counted.
    """
    if not term or not term.strip():
        return "the term is empty"
    if term.count('"') % 2:
        return 'unbalanced double quote (")'
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "]": "["}
    in_quotes = False
    for i, ch in enumerate(term):
        if ch == '"':
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif ch in "([":
            stack.append((ch, i))
        elif ch in pairs:
            if not stack or stack[-1][0] != pairs[ch]:
                return f"unmatched {ch!r} at character {i + 1}"
            stack.pop()
    if stack:
        ch, i = stack[-1]
        return f"unclosed {ch!r} at character {i + 1}"
    return None


@dataclass(slots=True)
class _Probe:
    root: str | None = None
    records: int = 0
    error: str | None = None
    malformed: str | None = None


class _ProbeTarget:
    """lxml parser target: checks well-formedness, notes the root, counts records; no tree."""

    def __init__(self) -> None:
        self.probe = _Probe()
        self._depth = 0
        self._error: list[str] | None = None

    def start(self, tag: str, attrib: object) -> None:
        self._depth += 1
        if self._depth == 1:
            self.probe.root = tag
        elif self._depth == 2:
            if tag in ("PubmedArticle", "PubmedBookArticle"):
                self.probe.records += 1
            elif tag == "ERROR":
                self._error = []

    def end(self, tag: str) -> None:
        if self._depth == 2 and self._error is not None:
            self.probe.error = "".join(self._error).strip() or "(empty ERROR element)"
            self._error = None
        self._depth -= 1

    def data(self, text: str) -> None:
        if self._error is not None:
            self._error.append(text)

    def close(self) -> _Probe:
        return self.probe


def _probe_xml(body: bytes) -> _Probe:
    """Well-formedness of an efetch body without building a tree."""
    stripped = body.rstrip()
    if b"<PubmedArticleSet" in body[:2048] and not (
        stripped.endswith(b"</PubmedArticleSet>") or stripped.endswith(b"/>")
    ):
        return _Probe(malformed="it does not end with </PubmedArticleSet>")
    target = _ProbeTarget()
    parser = etree.XMLParser(target=target, resolve_entities=False, no_network=True, load_dtd=False)
    try:
        parser.feed(body)
        return parser.close()
    except etree.XMLSyntaxError as e:
        return _Probe(malformed=f"not well-formed XML ({e})")
