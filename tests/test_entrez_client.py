"""EntrezClient against httpx.MockTransport (every failure class), real NCBI responses, and
the local E-utilities stand-in when it is present."""

from __future__ import annotations

import datetime as dt
import io
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from Bio import Entrez
from lxml import etree

from litwatch import __version__
from litwatch.config import EntrezSettings
from litwatch.errors import QueryError, RateLimited, SourceError
from litwatch.parse.elink import parse_elink
from litwatch.parse.esearch import MalformedResponse, parse_esearch
from litwatch.sources.pubmed import (
    CITEDIN,
    ELINK_BATCH,
    EntrezClient,
    SearchResult,
    make_http_client,
    term_problem,
)
from litwatch.sources.ratelimit import SHARED_MARGIN, RateLimiter

FIXTURES = Path(__file__).parent / "fixtures" / "entrez"
KEY = "0123456789abcdef0123456789abcdef0123"  # shaped like an NCBI api_key
ESEARCH_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
JAN_1 = dt.date(2024, 1, 1)
JAN_31 = dt.date(2024, 1, 31)


# -- helpers ----------------------------------------------------------------------------------


def esearch_xml(
    ids: list[str] | tuple[str, ...],
    count: int | None = None,
    *,
    translation: str = '"kratom"[All Fields]',
    errors: str = "",
    warnings: str = "",
) -> bytes:
    """An esearch response in NCBI's exact layout (as in tests/fixtures/entrez/esearch*.xml)."""
    count = len(ids) if count is None else count
    id_list = (
        "<IdList>\n" + "".join(f"<Id>{i}</Id>\n" for i in ids) + "</IdList>" if ids else "<IdList/>"
    )
    error_list = f"<ErrorList>{errors}</ErrorList>" if errors else ""
    warning_list = f"<WarningList>{warnings}</WarningList>" if warnings else ""
    return (
        f"{ESEARCH_DOCTYPE}<eSearchResult><Count>{count}</Count><RetMax>{len(ids)}</RetMax>"
        f"<RetStart>0</RetStart>{id_list}<TranslationSet/>"
        f"<QueryTranslation>{translation}</QueryTranslation>{error_list}{warning_list}"
        "</eSearchResult>\n"
    ).encode()


def esearch_error(message: str) -> bytes:
    return f"{ESEARCH_DOCTYPE}<eSearchResult><ERROR>{message}</ERROR></eSearchResult>\n".encode()


PUBMED1 = (FIXTURES / "pubmed1.xml").read_bytes()
PUBMED2 = (FIXTURES / "pubmed2.xml").read_bytes()


class Server:
    """A scripted E-utilities: answers come from a queue (or a function of the form data)."""

    def __init__(self, *answers: object, default: Callable[[dict], object] | None = None):
        self.answers = list(answers)
        self.default = default
        self.requests: list[httpx.Request] = []
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        answer = self.answers.pop(0) if self.answers else self.default(form)
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
        return answer


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self) -> None:
        self.acquired += 1


def settings(**overrides: object) -> EntrezSettings:
    values = {
        "email": "editor@example.org",
        "base_url": "https://eutils.test/entrez/eutils/",
        "api_key": KEY,
        "max_retries": 3,
        "backoff": 0.5,
        "batch_size": 2,
    }
    values.update(overrides)
    return EntrezSettings(**values)


class Harness:
    def __init__(self, server: Server, **overrides: object) -> None:
        self.server = server
        self.sleeps: list[float] = []
        self.limiter = CountingLimiter()
        self.http = httpx.Client(transport=httpx.MockTransport(server))
        self.client = EntrezClient(
            settings(**overrides),
            http=self.http,
            limiter=self.limiter,
            sleep=self.sleeps.append,
            rng=random.Random(42),
        )

    def search(self, term: str = "kratom", lo=JAN_1, hi=JAN_31, **kw) -> SearchResult:
        return self.client.search(term, mindate=lo, maxdate=hi, watch="kratom-pain", **kw)


def ok(ids=("38000001", "38000002")) -> bytes:
    return esearch_xml(list(ids))


# -- requests: POST, identity, URLs -----------------------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["https://eutils.test/entrez/eutils/", "https://eutils.test/entrez/eutils"]
)
def test_search_posts_a_form_with_identity_and_window(base_url):
    h = Harness(Server(ok()), base_url=base_url)
    result = h.search(datetype="edat")
    request = h.server.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://eutils.test/entrez/eutils/esearch.fcgi"
    assert KEY not in str(request.url)
    assert h.server.forms[0] == {
        "tool": "litwatch",
        "email": "editor@example.org",
        "api_key": KEY,
        "db": "pubmed",
        "term": "kratom",
        "datetype": "edat",
        "mindate": "2024/01/01",
        "maxdate": "2024/01/31",
        "retmax": "9999",
        "retmode": "xml",
    }
    assert result == SearchResult(
        ids=("38000001", "38000002"),
        count=2,
        query_translation='"kratom"[All Fields]',
        warnings=(),
        requests=1,
    )
    assert h.limiter.acquired == 1


def test_no_api_key_no_api_key_field():
    h = Harness(Server(ok()), api_key=None)
    h.search()
    assert "api_key" not in h.server.forms[0]


def test_http_client_factory_timeouts_and_user_agent():
    s = settings(timeout=12.5)
    with make_http_client(s) as http:
        assert http.timeout == httpx.Timeout(12.5)
        assert http.headers["User-Agent"] == f"litwatch/{__version__}"


def test_owned_client_closed_handed_in_client_left_open():
    owned = EntrezClient(settings(), limiter=CountingLimiter())
    owned.close()
    assert owned._http.is_closed
    h = Harness(Server())
    with h.client:
        pass
    assert not h.http.is_closed


def test_bad_arguments_fail_before_any_request():
    h = Harness(Server())
    with pytest.raises(ValueError):
        h.search(lo=JAN_31, hi=JAN_1)
    with pytest.raises(ValueError, match="not a PMID"):
        h.client.fetch(["123", "12a"])  # eager, not at first next()
    assert h.server.requests == []


# -- esearch parsing: our lxml reader agrees with Bio.Entrez.read on real responses ----------


@pytest.mark.parametrize("name", ["esearch1.xml", "esearch3.xml", "esearch5.xml", "esearch8.xml"])
def test_parse_esearch_matches_bio_entrez(name):
    body = (FIXTURES / name).read_bytes()
    oracle = Entrez.read(io.BytesIO(body))
    page = parse_esearch(body)
    assert page.count == int(oracle["Count"])
    assert list(page.ids) == list(oracle["IdList"])
    assert page.query_translation == oracle["QueryTranslation"]
    assert page.error is None
    errors = oracle.get("ErrorList", {})
    assert list(page.phrases_not_found) == list(errors.get("PhraseNotFound", []))
    assert list(page.fields_not_found) == list(errors.get("FieldNotFound", []))
    expected = [
        f"{kind}: {text}"
        for kind in ("PhraseIgnored", "QuotedPhraseNotFound", "OutputMessage")
        for text in oracle.get("WarningList", {}).get(kind, [])
    ]
    assert list(page.warnings) == expected


def test_parse_esearch_every_errorlist_and_warninglist_kind_matches_bio_entrez():
    body = esearch_xml(
        ["38000001"],
        errors="<PhraseNotFound>mitragynin</PhraseNotFound><FieldNotFound>tiabx</FieldNotFound>",
        warnings=(
            "<PhraseIgnored>of</PhraseIgnored>"
            '<QuotedPhraseNotFound>"kratom leaf tea"</QuotedPhraseNotFound>'
            "<OutputMessage>No items found.</OutputMessage>"
        ),
    )
    oracle = Entrez.read(io.BytesIO(body))
    page = parse_esearch(body)
    assert list(page.phrases_not_found) == oracle["ErrorList"]["PhraseNotFound"] == ["mitragynin"]
    assert list(page.fields_not_found) == oracle["ErrorList"]["FieldNotFound"] == ["tiabx"]
    assert page.warnings == (
        "PhraseIgnored: of",
        'QuotedPhraseNotFound: "kratom leaf tea"',
        "OutputMessage: No items found.",
    )


def test_parse_esearch_error_element_like_bio_entrez():
    body = esearch_error("Search Backend failed: Database is not supported: pubmed")
    with pytest.raises(RuntimeError, match="Search Backend failed"):
        Entrez.read(io.BytesIO(body))  # what Bio.Entrez makes of it
    page = parse_esearch(body)
    assert page.error == "Search Backend failed: Database is not supported: pubmed"
    assert page.ids == () and page.count == 0


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", (FIXTURES / "esearch1.xml").read_bytes()[:-40], b"<html>Bad Gateway</html>"],
    ids=["empty", "blank", "truncated", "html"],
)
def test_parse_esearch_rejects_incomplete_bodies(body):
    with pytest.raises(MalformedResponse):
        parse_esearch(body)


def test_parse_esearch_does_not_expand_entities_or_fetch_dtds():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE eSearchResult SYSTEM "http://127.0.0.1:9/never.dtd" '
        b'[<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b"<eSearchResult><Count>1</Count><IdList><Id>1</Id></IdList>"
        b"<QueryTranslation>&x;</QueryTranslation></eSearchResult>"
    )
    page = parse_esearch(body)
    assert "root:" not in (page.query_translation or "")


# -- ErrorList / WarningList decisions ---------------------------------------------------------


def test_field_not_found_fails_the_watch_loudly():
    body = esearch_xml(
        ["38000001"],
        translation="kratom[All Fields]",
        errors="<FieldNotFound>tiabx</FieldNotFound>",
    )
    h = Harness(Server(body))
    with pytest.raises(QueryError) as info:
        h.search("kratom[tiabx]")
    assert info.value.watch == "kratom-pain"
    assert "kratom-pain" in str(info.value) and "tiabx" in str(info.value)
    assert len(h.server.requests) == 1  # not retried


def test_phrase_not_found_with_results_is_a_warning():
    body = esearch_xml(
        ["38000001", "38000002"],
        errors="<PhraseNotFound>mitragynin</PhraseNotFound>",
        warnings="<PhraseIgnored>of</PhraseIgnored>",
    )
    h = Harness(Server(body))
    result = h.search("kratom OR mitragynin")
    assert result.ids == ("38000001", "38000002")
    assert result.warnings == ("PhraseNotFound: mitragynin", "PhraseIgnored: of")


def test_phrase_not_found_without_results_is_a_warning_and_an_empty_result():
    h = Harness(Server((FIXTURES / "esearch8.xml").read_bytes()))
    result = h.search("abcXYZ")
    assert result.ids == () and result.count == 0
    assert result.warnings == ("PhraseNotFound: abcXYZ",)  # "No items found." is not a problem
    assert result.query_translation == "(abcXYZ[All Fields])"


def test_quoted_phrase_not_found_is_a_warning():
    body = esearch_xml(
        [], warnings='<QuotedPhraseNotFound>"kratom leaf tea"</QuotedPhraseNotFound>'
    )
    result = Harness(Server(body)).search('"kratom leaf tea"')
    assert result.warnings == ('QuotedPhraseNotFound: "kratom leaf tea"',)


@pytest.mark.parametrize(
    ("term", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("kratom AND (pain OR neuropath*", "unclosed '('"),
        ("kratom) AND pain", "unmatched ')'"),
        ("kratom[tiab AND pain", "unclosed '['"),
        ('"kratom AND pain', "double quote"),
    ],
)
def test_malformed_terms_are_refused_before_any_request(term, problem):
    h = Harness(Server())
    with pytest.raises(QueryError, match=re.escape(problem)) as info:
        h.search(term)
    assert info.value.watch == "kratom-pain"
    assert h.server.requests == []


def test_parentheses_inside_quotes_are_text():
    assert term_problem('"pain (chronic" AND kratom[tiab]') is None
    assert term_problem("(kratom OR mitragynine) AND (pain[mh] OR neuropath*[tiab])") is None


def test_error_saying_the_query_is_empty_is_a_query_error_without_retry():
    h = Harness(Server(esearch_error("Empty term and query_key - nothing todo")))
    with pytest.raises(QueryError, match="Empty term"):
        h.search()
    assert len(h.server.requests) == 1 and h.sleeps == []


# -- retries -----------------------------------------------------------------------------------


def backoff_ok(h: Harness, attempts: int) -> None:
    """Each wait is full jitter in [0, backoff * 2**attempt]."""
    assert len(h.sleeps) == attempts
    for attempt, wait in enumerate(h.sleeps):
        assert 0 <= wait <= 0.5 * 2**attempt


def test_429_honours_retry_after_and_caps_it():
    rate_limited = (
        f'{{"error":"API rate limit exceeded","api-key":"{KEY}","count":"11","limit":"10"}}'
    )
    h = Harness(
        Server(
            httpx.Response(429, headers={"Retry-After": "7"}, text=rate_limited),
            httpx.Response(429, headers={"Retry-After": "3600"}, text=rate_limited),
            httpx.Response(429, text=rate_limited),  # no Retry-After: backoff
            ok(),
        )
    )
    result = h.search()
    assert h.sleeps[:2] == [7.0, 60.0]
    assert 0 <= h.sleeps[2] <= 0.5 * 2**2
    assert result.requests == 4
    assert h.limiter.acquired == 4  # the limiter is asked before every attempt


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_backoff(status):
    h = Harness(Server(httpx.Response(status, text="<html>Bad Gateway</html>"), ok()))
    assert h.search().ids == ("38000001", "38000002")
    backoff_ok(h, 1)


@pytest.mark.parametrize(
    "bad",
    [
        esearch_error("Search Backend failed: Database is not supported: pubmed"),
        esearch_error("Search Backend failed: Exception: 502 Proxy Error"),
        b'{"error":"Search backend is temporarily unavailable"}',
        b'{"header":{"type":"esearch","version":"0.3"},"esearchresult":{"ERROR":"Search Backend failed"}}',
        b'{"esearchresult": {"ERROR": "Search Backend failed: ',  # NCBI's invalid JSON
        b"",
        b"\n",
        ok()[:-60],  # truncated
        b"<html><body>Service unavailable</body></html>",
    ],
    ids=[
        "backend",
        "proxy",
        "json-error",
        "json-esearch-error",
        "bad-json",
        "empty",
        "blank",
        "truncated",
        "html",
    ],
)
def test_errors_in_200_are_retried(bad):
    h = Harness(Server(bad, ok()))
    result = h.search()
    assert result.ids == ("38000001", "38000002")
    assert result.requests == 2
    backoff_ok(h, 1)


@pytest.mark.parametrize(
    "exc",
    [
        lambda r: httpx.ConnectError("[Errno 111] Connection refused", request=r),
        lambda r: httpx.ReadTimeout("timed out", request=r),
        lambda r: httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=r
        ),
        lambda r: httpx.ReadError("[Errno 104] Connection reset by peer", request=r),
    ],
    ids=["connect", "read-timeout", "incomplete-body", "reset"],
)
def test_transport_errors_are_retried(exc):
    h = Harness(Server(lambda r: exc(r), lambda r: exc(r), ok()))
    assert h.search().requests == 3
    backoff_ok(h, 2)


def test_exhausted_retries_raise_source_error_not_an_empty_result(caplog):
    caplog.set_level(logging.WARNING)
    h = Harness(Server(default=lambda form: httpx.Response(503, text="Service unavailable")))
    with pytest.raises(SourceError) as info:
        h.search()
    error = info.value
    assert type(error) is SourceError
    assert error.watch == "kratom-pain"
    assert error.status == 503
    assert error.url == "https://eutils.test/entrez/eutils/esearch.fcgi"
    assert "4 attempt" in str(error)
    assert len(h.server.requests) == 4  # 1 + max_retries
    backoff_ok(h, 3)
    retries = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retries) == 3
    assert all("kratom-pain" in r.getMessage() and "HTTP 503" in r.getMessage() for r in retries)
    assert "retrying in" in retries[0].getMessage()


def test_persistent_backend_error_gives_up_with_a_hint():
    h = Harness(Server(default=lambda form: esearch_error("Search Backend failed: whatever")))
    with pytest.raises(SourceError, match="Search Backend failed") as info:
        h.search()
    assert not isinstance(info.value, QueryError)
    assert "PubMed website" in (info.value.hint or "")


def test_persistent_429_is_rate_limited():
    h = Harness(
        Server(default=lambda form: httpx.Response(429, text='{"error":"API rate limit exceeded"}'))
    )
    with pytest.raises(RateLimited) as info:
        h.search()
    assert info.value.status == 429
    assert "api_key" in info.value.hint


def test_zero_retries_means_one_attempt():
    h = Harness(Server(default=lambda form: httpx.Response(500)), max_retries=0)
    with pytest.raises(SourceError):
        h.search()
    assert len(h.server.requests) == 1 and h.sleeps == []


# -- the api_key never leaks -------------------------------------------------------------------


def test_rejected_key_400_is_not_retried_and_never_shows_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    body = f'{{"error":"API key invalid","api-key":"{KEY}","type":"api-key","status":"unknown"}}'
    h = Harness(Server(httpx.Response(400, text=body)))
    with pytest.raises(SourceError) as info:
        h.search()
    error = info.value
    assert error.status == 400
    assert len(h.server.requests) == 1 and h.sleeps == []
    assert "[entrez].api_key" in error.hint
    assert "API key invalid" in str(error) and "***" in str(error)
    for text in (str(error), repr(error), error.message, error.hint, error.url, repr(h.client)):
        assert KEY not in text
    assert KEY not in caplog.text
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_key_absent_from_logs_at_debug_through_retries(caplog):
    caplog.set_level(logging.DEBUG)
    echo = f'{{"error":"API rate limit exceeded","api-key":"{KEY}"}}'
    h = Harness(
        Server(
            httpx.Response(429, text=echo),
            httpx.Response(502, text=f"<html>proxy said {KEY}</html>"),
            lambda r: httpx.ConnectError(f"could not connect for {KEY}", request=r),
            ok(),
        )
    )
    h.search()
    list(Harness(Server(PUBMED1), api_key=KEY).client.fetch(["12091962", "9997"]))
    assert caplog.records, "expected DEBUG lines"
    assert any(
        "esearch.fcgi" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records
    )
    assert KEY not in caplog.text


def test_other_4xx_is_not_retried_and_points_at_base_url():
    h = Harness(Server(httpx.Response(404, text="Not Found")))
    with pytest.raises(SourceError, match="HTTP 404") as info:
        h.search()
    assert "[entrez].base_url" in info.value.hint
    assert len(h.server.requests) == 1


# -- the 9,999 cap -----------------------------------------------------------------------------


def pmids(start: int, n: int) -> list[str]:
    return [str(start + i) for i in range(n)]


def test_a_window_over_9999_is_split_in_halves_and_deduplicated():
    def answer(form: dict) -> bytes:
        window = (form["mindate"], form["maxdate"])
        if window == ("2024/01/01", "2024/01/31"):
            return esearch_xml(pmids(30_000_000, 9999), count=15_000)
        if window == ("2024/01/01", "2024/01/16"):
            return esearch_xml(pmids(30_000_000, 8000))
        if window == ("2024/01/17", "2024/01/31"):
            # one paper on the boundary appears in both halves (e.g. revised dates)
            return esearch_xml(["30007999", *pmids(31_000_000, 7000)])
        raise AssertionError(f"unexpected window {window}")

    h = Harness(Server(default=answer))
    result = h.search()
    assert [(f["mindate"], f["maxdate"]) for f in h.server.forms] == [
        ("2024/01/01", "2024/01/31"),
        ("2024/01/01", "2024/01/16"),
        ("2024/01/17", "2024/01/31"),
    ]
    assert result.count == 15_001  # NCBI's counts summed over the windows that were kept
    assert len(result.ids) == 15_000 == len(set(result.ids))
    assert result.requests == 3


def test_split_recurses_until_windows_fit():
    # 4 days, 3,000 papers a day: 12,000 > 9,999 -> two 2-day halves of 6,000 each.
    def answer(form: dict) -> bytes:
        lo = dt.date(*map(int, form["mindate"].split("/")))
        hi = dt.date(*map(int, form["maxdate"].split("/")))
        days = (hi - lo).days + 1
        ids = [i for d in range(days) for i in pmids(10_000_000 * (lo.day + d), 3000)]
        return esearch_xml(ids[:9999], count=len(ids))

    h = Harness(Server(default=answer))
    result = h.search(lo=dt.date(2024, 3, 1), hi=dt.date(2024, 3, 4))
    assert result.count == 12_000 and len(result.ids) == 12_000
    assert result.requests == 3


def test_a_single_day_over_9999_is_an_error_not_a_truncation():
    h = Harness(Server(default=lambda form: esearch_xml(pmids(1, 9999), count=12_345)))
    with pytest.raises(SourceError) as info:
        h.search(lo=dt.date(2024, 1, 1), hi=dt.date(2024, 1, 2))
    message = str(info.value)
    assert "kratom-pain" in message and "12345" in message
    assert "2024-01-01" in message or "2024-01-02" in message
    assert "narrow" in info.value.hint


# -- efetch ------------------------------------------------------------------------------------


def test_fetch_posts_batches_and_yields_complete_documents():
    h = Harness(Server(PUBMED1, PUBMED2, PUBMED1))
    bodies = list(h.client.fetch(["12091962", "9997", "11748933", "11700088", "12091962", "1"]))
    assert bodies == [PUBMED1, PUBMED2, PUBMED1]
    assert [f["id"] for f in h.server.forms] == ["12091962,9997", "11748933,11700088", "1"]
    for form, request in zip(h.server.forms, h.server.requests, strict=True):
        assert request.method == "POST"
        assert str(request.url) == "https://eutils.test/entrez/eutils/efetch.fcgi"
        assert form["db"] == "pubmed" and form["retmode"] == "xml"
        assert form["api_key"] == KEY and form["tool"] == "litwatch"
    assert h.client.requests == 3


def test_fetch_nothing_sends_nothing():
    h = Harness(Server())
    assert list(h.client.fetch([])) == []
    assert h.server.requests == []


@pytest.mark.parametrize(
    "bad",
    [
        PUBMED1[: len(PUBMED1) // 2],  # cut mid-record
        PUBMED1.replace(b"</PubmedArticleSet>", b""),  # cut just before the end tag
        PUBMED1.replace(
            b"</PubmedArticle></PubmedArticleSet>", b"</PubmedArticleSet>"
        ),  # not well-formed
        b'<?xml version="1.0" ?>\n<eFetchResult>\n\t<ERROR>Cannot process ID list</ERROR>\n</eFetchResult>\n',
        b'{"error":"Search backend is temporarily unavailable"}',
        b"",
        b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n<PubmedArticle><MedlineCitation/>',
    ],
    ids=[
        "truncated",
        "no-end-tag",
        "malformed",
        "efetch-error",
        "json-error",
        "empty",
        "cut-at-/>",
    ],
)
def test_fetch_retries_bodies_that_are_not_complete(bad):
    h = Harness(Server(bad, PUBMED1))
    assert list(h.client.fetch(["12091962", "9997"], watch="kratom-pain")) == [PUBMED1]
    assert len(h.server.requests) == 2
    backoff_ok(h, 1)


def test_fetch_gives_up_with_source_error():
    h = Harness(Server(default=lambda form: PUBMED1[:100]))
    with pytest.raises(SourceError) as info:
        list(h.client.fetch(["12091962"], watch="kratom-pain"))
    assert info.value.watch == "kratom-pain"
    assert info.value.url == "https://eutils.test/entrez/eutils/efetch.fcgi"


def test_fetch_accepts_an_empty_article_set():
    empty = b'<?xml version="1.0" ?>\n<PubmedArticleSet></PubmedArticleSet>\n'
    h = Harness(Server(empty))
    assert list(h.client.fetch(["99999999"])) == [empty]


def test_retry_after_as_a_date_falls_back_to_backoff():
    h = Harness(
        Server(
            httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            ok(),
        )
    )
    h.search()
    backoff_ok(h, 1)


def test_give_up_on_a_bad_200_reports_status_200():
    h = Harness(Server(default=lambda form: b"<eSearchResult><Count>1"), max_retries=1)
    with pytest.raises(SourceError, match="malformed esearch response") as info:
        h.search()
    assert info.value.status == 200


def test_empty_email_is_not_sent():
    h = Harness(Server(ok()), email="")
    h.search()
    assert "email" not in h.server.forms[0]


# -- integration: the local E-utilities stand-in serving real PubMed records -------------------

eutils = pytest.importorskip("litwatch.standin.eutils", reason="the E-utilities stand-in")


@pytest.fixture(scope="module")
def standin():
    with eutils.EutilsStandin() as server:
        yield server


@pytest.fixture
def live(standin):
    """A client on the stand-in: fresh log and faults, its own limiter at NCBI's keyed rate."""
    standin.reset()
    client = EntrezClient(
        settings(base_url=standin.base_url, backoff=0.05, batch_size=200, timeout=5.0),
        limiter=RateLimiter(10, margin=SHARED_MARGIN),  # as shared_limiter(10), not shared
    )
    with client:
        yield client


def record_pmids(document: bytes) -> list[str]:
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    return [p.text for p in root.iterfind("PubmedArticle/MedlineCitation/PMID")]


def test_standin_search_finds_the_kratom_papers_of_the_slice(standin, live):
    result = live.search(
        "kratom OR mitragynine",
        mindate=dt.date(2000, 1, 1),
        maxdate=dt.date(2030, 12, 31),
        watch="kratom-pain",
    )
    assert result.ids and result.count == len(result.ids)
    assert {int(p) for p in result.ids} <= standin.pmids
    assert "kratom" in (result.query_translation or "")
    assert result.requests == 1
    (request,) = standin.requests
    assert request.method == "POST" and request.endpoint == "esearch"
    assert request.params["api_key"] == "***"  # it was sent (the stand-in never keeps it)
    assert request.params["mindate"] == "2000/01/01" and request.params["datetype"] == "crdt"


def test_standin_fetch_250_pmids_in_two_posts(standin, live):
    wanted = [str(p) for p in sorted(standin.pmids)[:250]]
    documents = list(live.fetch(wanted, watch="kratom-pain"))
    assert len(documents) == 2
    assert standin.count("efetch") == 2
    assert [r.ids for r in standin.requests] == [200, 50]
    assert all(r.method == "POST" for r in standin.requests)
    got = [pmid for document in documents for pmid in record_pmids(document)]
    assert sorted(got) == sorted(wanted)


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_standin_fetch_survives_truncate_and_reset(standin, live, kind):
    wanted = [str(p) for p in sorted(standin.pmids)[:20]]
    standin.faults.push("efetch", kind)
    (document,) = live.fetch(wanted, watch="kratom-pain")
    assert sorted(record_pmids(document)) == sorted(wanted)
    assert standin.count("efetch") == 2
    assert [r.fault for r in standin.requests] == [kind, None]


# faults the client retries, each served once by the stand-in: (kind, options)
RETRIED_FAULTS = [
    ("truncate", {}),
    ("reset", {}),
    ("status", {"status": 429}),
    ("status", {"status": 502}),
    ("backend_error", {}),
    ("json_error", {}),
    ("empty", {}),
]


@pytest.mark.parametrize(("kind", "opts"), RETRIED_FAULTS)
def test_standin_search_survives_faults(standin, live, kind, opts):
    standin.faults.push("esearch", kind, **opts)
    result = live.search(
        "neuropathic pain", mindate=dt.date(2000, 1, 1), maxdate=dt.date(2030, 12, 31)
    )
    assert result.ids and result.requests == 2
    assert standin.count("esearch") == 2


def test_standin_never_sees_us_over_the_rate_limit(standin, live):
    for _ in range(12):  # more than one second's worth at 10/s
        live.search("pain", mindate=dt.date(2021, 1, 1), maxdate=dt.date(2021, 12, 31))
    assert standin.count("esearch") == 12
    assert all(r.status == 200 for r in standin.requests)


def test_standin_rejected_key_is_a_source_error_without_the_key():
    with eutils.EutilsStandin(api_keys={"the-right-key-0000"}) as server:
        client = EntrezClient(
            settings(base_url=server.base_url), limiter=RateLimiter(10), sleep=lambda s: None
        )
        with client, pytest.raises(SourceError) as info:
            client.search("pain", mindate=JAN_1, maxdate=JAN_31, watch="kratom-pain")
        assert info.value.status == 400
        assert KEY not in str(info.value) and "[entrez].api_key" in str(info.value)
        assert server.count("esearch") == 1


# -- elink: cited_in -----------------------------------------------------------------------------

ELINK_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD elink 20101123//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20101123/elink.dtd">\n'
)


def elink_xml(*linksets: tuple[list[str], dict[str, list[str]]]) -> bytes:
    """An elink response in NCBI's layout (as in tests/fixtures/entrez/elink3.xml)."""
    out = [ELINK_DOCTYPE, "<eLinkResult>\n"]
    for ids, dbs in linksets:
        out.append("<LinkSet>\n\t<DbFrom>pubmed</DbFrom>\n\t<IdList>\n")
        out += [f"\t\t<Id>{i}</Id>\n" for i in ids]
        out.append("\t</IdList>\n")
        for name, links in dbs.items():
            out.append(f"\t<LinkSetDb>\n\t\t<DbTo>pubmed</DbTo>\n\t\t<LinkName>{name}</LinkName>\n")
            out += [f"\t\t<Link>\n\t\t\t<Id>{i}</Id>\n\t\t</Link>\n" for i in links]
            out.append("\t</LinkSetDb>\n")
        out.append("</LinkSet>\n")
    out.append("</eLinkResult>\n")
    return "".join(out).encode()


def elink_error(message: str, *, in_linkset: bool = False) -> bytes:
    inner = (
        f"<LinkSet>\n\t<ERROR>{message}</ERROR>\n</LinkSet>"
        if in_linkset
        else f"<ERROR>{message}</ERROR>"
    )
    return f"{ELINK_DOCTYPE}<eLinkResult>\n{inner}\n</eLinkResult>\n".encode()


def cited(ids=("38000003", "38000001")) -> bytes:
    return elink_xml((["1", "2"], {CITEDIN: list(ids)}))


@pytest.mark.parametrize("name", ["elink1.xml", "elink3.xml", "elink4.xml"])
def test_parse_elink_matches_bio_entrez(name):
    body = (FIXTURES / name).read_bytes()
    oracle = Entrez.read(io.BytesIO(body))
    result = parse_elink(body)
    assert result.error is None
    assert len(result.linksets) == len(oracle)
    for ours, theirs in zip(result.linksets, oracle, strict=True):
        assert ours.dbfrom == theirs["DbFrom"]
        assert list(ours.ids) == list(theirs["IdList"])
        assert ours.error is None
        assert [(d.dbto, d.linkname) for d in ours.dbs] == [
            (d["DbTo"], d["LinkName"]) for d in theirs["LinkSetDb"]
        ]
        for d, t in zip(ours.dbs, theirs["LinkSetDb"], strict=True):
            assert list(d.links) == [link["Id"] for link in t["Link"]]


def test_parse_elink_errors_like_bio_entrez():
    outage = elink_error("Couldn't resolve #exLinkSrv2, the address table is empty.")
    refused = elink_error("Exception:\nllinkslib command not supported", in_linkset=True)
    for body, text in [(outage, "Couldn't resolve"), (refused, "llinkslib")]:
        with pytest.raises(RuntimeError, match=text):
            Entrez.read(io.BytesIO(body))
    assert parse_elink(outage).error == "Couldn't resolve #exLinkSrv2, the address table is empty."
    assert parse_elink(outage).linksets == ()
    (linkset,) = parse_elink(refused).linksets
    assert linkset.error == "Exception:\nllinkslib command not supported"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        (FIXTURES / "elink3.xml").read_bytes()[:-40],
        b"<html>Bad Gateway</html>",
        f"{ELINK_DOCTYPE}<eLinkResult>\n</eLinkResult>\n".encode(),  # an outage, not "no links"
    ],
    ids=["empty", "truncated", "html", "no-linkset"],
)
def test_parse_elink_rejects_incomplete_bodies(body):
    with pytest.raises(MalformedResponse):
        parse_elink(body)


def test_cited_in_posts_one_form_and_returns_sorted_citers_without_the_input():
    h = Harness(
        Server(
            elink_xml(
                (
                    ["38000001", "38000002"],
                    {CITEDIN: ["39000002", "38000001", "39000001", "39000002"]},
                )
            )
        )
    )
    result = h.client.cited_in(["38000002", " 38000001", "38000002"], watch="kratom-pain")
    assert result == SearchResult(
        ids=("39000001", "39000002"), count=2, query_translation=None, warnings=(), requests=1
    )
    (request,) = h.server.requests
    assert request.method == "POST" and request.url.path.endswith("/elink.fcgi")
    assert request.url.query == b""  # everything, the api_key included, is in the body
    assert h.server.forms[0] == {
        "tool": "litwatch",
        "email": "editor@example.org",
        "api_key": KEY,
        "dbfrom": "pubmed",
        "db": "pubmed",
        "cmd": "neighbor",
        "linkname": CITEDIN,
        "retmode": "xml",
        "id": "38000002,38000001",
    }
    assert h.limiter.acquired == 1 and h.client.requests == 1


def test_cited_in_reads_only_the_citedin_links_of_a_real_reply():
    body = (FIXTURES / "elink1.xml").read_bytes()  # seven link names; pubmed_pubmed has 9298984
    h = Harness(Server(body))
    result = h.client.cited_in(["9298984"])
    oracle = Entrez.read(io.BytesIO(body))[0]["LinkSetDb"]
    (citedin,) = [d for d in oracle if d["LinkName"] == CITEDIN]
    want = sorted({link["Id"] for link in citedin["Link"]}, key=int)
    assert list(result.ids) == want and result.count == 39
    assert "9298984" not in result.ids


def test_cited_in_comma_ids_of_a_real_reply():
    body = (FIXTURES / "elink3.xml").read_bytes()
    h = Harness(Server(body))
    result = h.client.cited_in(["11812492", "11774222"])
    assert result.ids == ("15024419", "15780005", "18508935")  # elink3's citedin, ascending


def test_cited_in_nothing_links_is_an_empty_result_not_a_retry():
    h = Harness(Server(elink_xml((["38000001"], {}))))
    result = h.client.cited_in(["38000001"])
    assert (result.ids, result.count, result.requests) == ((), 0, 1)
    assert h.sleeps == []


def test_cited_in_nothing_asked_sends_nothing_and_bad_pmids_fail_first():
    h = Harness(Server())
    assert h.client.cited_in([]) == SearchResult((), 0, None, (), 0)
    with pytest.raises(ValueError, match="not a PMID"):
        h.client.cited_in(["38000001", "PMC123"])
    assert h.server.requests == []


def test_cited_in_splits_long_lists_and_unions_the_batches():
    asked = [str(38000000 + i) for i in range(2 * ELINK_BATCH + 50)]

    def answer(form: dict) -> bytes:
        ids = form["id"].split(",")
        # each batch: one new citer, one citer shared with the others, one asked id (any batch)
        return elink_xml((ids, {CITEDIN: [f"39{ids[0][2:]}", "39999999", asked[-1]]}))

    h = Harness(Server(default=answer))
    result = h.client.cited_in(asked)
    assert [len(f["id"].split(",")) for f in h.server.forms] == [200, 200, 50]
    assert [f["id"].split(",")[0] for f in h.server.forms] == [asked[0], asked[200], asked[400]]
    assert result.ids == ("39000000", "39000200", "39000400", "39999999")
    assert result.requests == 3


@pytest.mark.parametrize(
    "bad",
    [
        elink_error("Couldn't resolve #exLinkSrv2, the address table is empty."),
        elink_error("NCBI C++ Exception: ... Read failed: EOF"),
        elink_error("Exception:\nllinkslib command not supported", in_linkset=True),
        f"{ELINK_DOCTYPE}<eLinkResult>\n</eLinkResult>\n".encode(),
        b'{"error":"API rate limit exceeded","count":"11"}',
        b"",
        cited()[:-40],
        b"<html><body>Service unavailable</body></html>",
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(
            429, headers={"Retry-After": "2"}, text='{"error":"API rate limit exceeded"}'
        ),
        lambda r: httpx.ReadError("[Errno 104] Connection reset by peer", request=r),
    ],
    ids=[
        "exlinksrv",
        "eof",
        "linkset-error",
        "no-linkset",
        "json-error",
        "empty",
        "truncated",
        "html",
        "502",
        "429",
        "reset",
    ],
)
def test_cited_in_retries_what_the_other_endpoints_retry(bad):
    h = Harness(Server(bad, cited()))
    result = h.client.cited_in(["1", "2"], watch="kratom-pain")
    assert result.ids == ("38000001", "38000003") and result.requests == 2
    assert len(h.sleeps) == 1


def test_cited_in_persistent_error_is_a_source_error_not_cited_by_nothing(caplog):
    outage = elink_error("Couldn't resolve #exLinkSrv2, the address table is empty.")
    h = Harness(Server(default=lambda form: outage), max_retries=2)
    with pytest.raises(SourceError) as info:
        h.client.cited_in(["1"], watch="kratom-pain")
    assert "elink.fcgi failed after 3 attempt(s)" in str(info.value)
    assert "exLinkSrv2" in str(info.value) and info.value.watch == "kratom-pain"
    assert info.value.url == "https://eutils.test/entrez/eutils/elink.fcgi"
    assert h.client.requests == 3


def test_cited_in_rejected_key_is_not_retried_and_redacted():
    body = f'{{"error":"API key invalid","api-key":"{KEY}","type":"invalid",\n"status":"unknown"}}'
    h = Harness(Server(httpx.Response(400, text=body)))
    with pytest.raises(SourceError) as info:
        h.client.cited_in(["1"])
    assert info.value.status == 400 and KEY not in str(info.value)
    assert len(h.server.requests) == 1


# -- elink against the stand-in ----------------------------------------------------------------

# Real citations in the shipped slice (see tests/test_standin_elink.py):
# 12486199 and 15550987 cite 10704411; 15550987 cites 12486199; 27602157 and 33108351 cite
# 11846609 (not in the slice); 33781001 cites 32687801.
DOPAMINE, ETHANOL, LMO = "10704411", "12486199", "15550987"


def test_standin_cited_in_real_citations(standin, live):
    result = live.cited_in([DOPAMINE, "11846609", "32687801"], watch="kratom-pain")
    assert result.ids == (ETHANOL, LMO, "27602157", "33108351", "33781001")
    assert result.count == 5 and result.requests == 1
    (request,) = standin.requests
    assert (request.endpoint, request.method, request.ids, request.status) == (
        "elink",
        "POST",
        3,
        200,
    )
    assert request.params["linkname"] == CITEDIN and request.params["api_key"] == "***"
    # a citer that was asked is not a result
    assert live.cited_in([DOPAMINE, ETHANOL]).ids == (LMO,)


def test_standin_cited_in_batches_match_the_records(standin, live):
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    refs = {}
    for pmid in standin.pmids:
        root = etree.fromstring(standin.record(pmid).xml, parser)
        path = "PubmedData/ReferenceList/Reference/ArticleIdList/ArticleId[@IdType='pubmed']"
        refs[str(pmid)] = set(root.xpath(f"{path}/text()"))
    cited = sorted({c for r in refs.values() for c in r}, key=int)[:450]
    want = sorted({p for p, r in refs.items() if r & set(cited)} - set(cited), key=int)
    result = live.cited_in(cited)
    assert result.ids == tuple(want) and want
    assert [r.ids for r in standin.requests] == [200, 200, 50]


@pytest.mark.parametrize(("kind", "opts"), RETRIED_FAULTS)
def test_standin_cited_in_survives_faults(standin, live, kind, opts):
    standin.faults.push("elink", kind, **opts)
    result = live.cited_in([DOPAMINE])
    assert result.ids == (ETHANOL, LMO) and result.requests == 2
    assert [r.fault for r in standin.requests] == [kind, None]


def test_standin_cited_in_sees_a_paper_added_later(standin, live):
    template = standin.record(33342583).xml  # a real record without a ReferenceList
    new = re.sub(rb"(<PMID[^>]*>)33342583<", rb"\g<1>40000001<", template).replace(
        b"</PubmedData>",
        b'<ReferenceList><Reference><Citation>x</Citation><ArticleIdList><ArticleId IdType="pubmed">'
        + DOPAMINE.encode()
        + b"</ArticleId></ArticleIdList></Reference></ReferenceList></PubmedData>",
    )
    standin.add_records(new)
    assert live.cited_in([DOPAMINE]).ids == (ETHANOL, LMO, "40000001")
    standin.faults.push("*", "backend_error", count=99)
    with pytest.raises(SourceError):  # never an empty "cited by nothing"
        EntrezClient(
            settings(base_url=standin.base_url, max_retries=1),
            limiter=RateLimiter(10),
            sleep=lambda s: None,
        ).cited_in([DOPAMINE])
