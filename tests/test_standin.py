"""The E-utilities stand-in: NCBI's formats (checked with Bio.Entrez as the oracle), the query
language on real records, dates, limits, faults and control endpoints."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from Bio import Entrez
from Bio.Entrez.Parser import ValidationError
from lxml import etree

from litwatch.standin.corpus import default_records_path
from litwatch.standin.eutils import EutilsStandin

TODAY = dt.date(2021, 6, 8)
NO_TLS = ssl.create_default_context()  # built once: httpx builds one per client (0.1 s)
KRATOM = ["34091497", "33847897", "33342583"]  # every record of the slice that says "kratom"
# Verified by hand in the slice's XML (History/PubMedPubDate):
#   33342583  entrez 2020-12-21 05:36  pubmed 2020-12-22 06:00  (Letter)
#   33847897  entrez 2021-04-13        pubmed 2021-04-14        (mentions mitragynine)
#   34091497  entrez 2021-06-06 21:09  pubmed 2021-06-07 06:00  (mentions mitragynine)


@pytest.fixture
def standin() -> Iterator[EutilsStandin]:
    """Without the rate limit, for tests that send many requests."""
    with EutilsStandin(rate_limit=False, today=TODAY) as s:
        yield s


@pytest.fixture
def http(standin: EutilsStandin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.base_url, timeout=10, verify=NO_TLS) as client:
        yield client


def search(http: httpx.Client, term: str, **params) -> dict:
    r = http.get("esearch.fcgi", params={"db": "pubmed", "term": term, **params})
    assert r.status_code == 200
    return Entrez.read(io.BytesIO(r.content))


def ids(http: httpx.Client, term: str, **params) -> list[str]:
    return list(search(http, term, retmax=9999, **params)["IdList"])


@pytest.fixture(scope="module")
def slice_root() -> etree._Element:
    """The shipped slice parsed with plain lxml: an independent oracle for the tests."""
    return etree.fromstring(gzip.decompress(default_records_path().read_bytes()))


def current_articles(root: etree._Element) -> dict[str, etree._Element]:
    """PMID -> the PubmedArticle of its latest version, without the deleted PMIDs."""
    deleted = {p.text for p in root.iterfind("DeleteCitation/PMID")}
    current: dict[str, tuple[int, etree._Element]] = {}
    for a in root.iterfind("PubmedArticle"):
        pmid = a.find("MedlineCitation/PMID")
        version = int(pmid.get("Version", "1"))
        if pmid.text not in current or current[pmid.text][0] <= version:
            current[pmid.text] = (version, a)
    return {pmid: a for pmid, (_, a) in current.items() if pmid not in deleted}


def oracle(root: etree._Element, keep) -> list[str]:
    """PMIDs (newest first) whose current version satisfies `keep`, minus DeleteCitation."""
    found = [p for p, a in current_articles(root).items() if keep(a)]
    return sorted(found, key=int, reverse=True)


# --- formats ----------------------------------------------------------------------------


def test_esearch_xml_is_ncbis_shape(http):
    r = http.get("esearch.fcgi", params={"db": "pubmed", "term": "kratom[tiab]"})
    assert r.headers["content-type"].startswith("text/xml")
    assert r.content.startswith(
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC '
        b'"-//NLM//DTD esearch 20060628//EN" '
        b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n<eSearchResult>'
    )
    record = Entrez.read(io.BytesIO(r.content))  # validates against NCBI's esearch.dtd
    assert record["Count"] == "3"
    assert record["RetMax"] == "3" and record["RetStart"] == "0"
    assert list(record["IdList"]) == KRATOM
    assert record["QueryTranslation"] == '"kratom"[Title/Abstract]'
    assert record["TranslationStack"][0]["Field"] == "Title/Abstract"


def test_esearch_json_is_ncbis_shape(http):
    r = http.get("esearch.fcgi", params={"term": "kratom", "retmode": "json", "retmax": 2})
    doc = json.loads(r.text)
    assert doc["header"] == {"type": "esearch", "version": "0.3"}
    res = doc["esearchresult"]
    assert (res["count"], res["retmax"], res["retstart"]) == ("3", "2", "0")
    assert res["idlist"] == KRATOM[:2]
    # automatic term mapping, as NCBI shows it
    assert res["translationset"] == [{"from": "kratom", "to": res["querytranslation"]}]
    assert '"mitragyna"[MeSH Terms]' in res["querytranslation"]
    assert '"kratom"[All Fields]' in res["querytranslation"]


def test_esearch_json_error_and_warning_lists(http):
    r = http.get(
        "esearch.fcgi", params={"term": 'zzqqx OR "zz qq" OR kratom[foo]', "retmode": "json"}
    )
    res = r.json()["esearchresult"]
    assert res["count"] == "0"
    assert res["errorlist"] == {"phrasesnotfound": ["zzqqx", '"zz qq"'], "fieldsnotfound": ["foo"]}
    assert res["warninglist"] == {
        "phrasesignored": [],
        "quotedphrasesnotfound": ['"zz qq"'],
        "outputmessages": ["No items found."],
    }


def test_efetch_post_200_ids_in_order_verbatim(standin, http, slice_root):
    every = ids(http, "2021[dp] OR 2020[dp] OR 2019[dp] OR english[la]")
    asked = [*every[:197], "99999999", "1", KRATOM[0]]  # unknown PMIDs and a repeat
    assert len(asked) == 200
    r = http.post("efetch.fcgi", data={"db": "pubmed", "id": ",".join(asked), "retmode": "xml"})
    assert r.status_code == 200
    assert r.content.startswith(
        b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
        b'1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    )
    articles = Entrez.read(io.BytesIO(r.content))["PubmedArticle"]
    got = [str(a["MedlineCitation"]["PMID"]) for a in articles]
    want = list(dict.fromkeys(p for p in asked if p not in ("99999999", "1")))
    assert got == want
    source = gzip.decompress(default_records_path().read_bytes())
    for record in re.findall(rb"<PubmedArticle>.*?</PubmedArticle>", r.content, re.S)[:20]:
        assert record in source  # served byte for byte as in the file
    assert standin.requests[-1].ids == 200


def test_efetch_get_and_versions(http):
    r = http.get("efetch.fcgi", params={"db": "pubmed", "id": "30271887"})
    assert b'<PMID Version="4">30271887</PMID>' in r.content  # the latest version
    r = http.get("efetch.fcgi", params={"db": "pubmed", "id": "30271887.2"})
    assert b'<PMID Version="2">30271887</PMID>' in r.content
    r = http.get("efetch.fcgi", params={"db": "pubmed", "id": "1,2"})
    assert Entrez.read(io.BytesIO(r.content))["PubmedArticle"] == []


def test_delete_citation_is_never_served(http, slice_root):
    deleted = [p.text for p in slice_root.iterfind("DeleteCitation/PMID")]
    assert deleted
    r = http.post("efetch.fcgi", data={"db": "pubmed", "id": ",".join(deleted)})
    assert b"<PubmedArticle>" not in r.content and b"DeleteCitation" not in r.content
    assert ids(http, " OR ".join(f"{p}[pmid]" for p in deleted)) == []


def test_einfo(http, standin):
    r = http.get("einfo.fcgi", params={"db": "pubmed"})
    info = Entrez.read(io.BytesIO(r.content))["DbInfo"][0]  # the shape of NCBI's einfo too
    assert info["DbName"] == "pubmed"
    assert int(info["Count"]) == len(standin.pmids)
    assert info["LastUpdate"] == "2021/06/08 06:00"
    assert Entrez.read(io.BytesIO(http.get("einfo.fcgi").content))["DbList"] == ["pubmed"]


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datetype", "mindate", "maxdate", "expected"),
    [
        ("crdt", "2020/12/21", "2020/12/21", ["33342583"]),  # crdt = PubStatus "entrez"
        ("edat", "2020/12/21", "2020/12/21", []),  # edat = PubStatus "pubmed", a day later
        ("edat", "2020/12/22", "2020/12/22", ["33342583"]),
        ("crdt", "2021/06/06", "2021/06/06", ["34091497"]),
        ("edat", "2021/06/06", "2021/06/06", []),
        ("crdt", "2021/04", "2021/06", ["34091497", "33847897"]),
        ("crdt", "2020", "2020", ["33342583"]),
        ("crdt", "2021/04/14", "2021/06/05", []),
        ("pdat", "2021/05", "2021/05", ["33847897", "33342583"]),
    ],
)
def test_date_windows(http, datetype, mindate, maxdate, expected):
    params = {"datetype": datetype, "mindate": mindate, "maxdate": maxdate}
    assert ids(http, "kratom", **params) == expected


def test_crdt_window_matches_the_entrez_dates_in_the_xml(http, slice_root):
    def entrez_in_may(a) -> bool:
        d = a.find("PubmedData/History/PubMedPubDate[@PubStatus='entrez']")
        return (int(d.findtext("Year")), int(d.findtext("Month"))) == (2021, 5)

    want = oracle(slice_root, entrez_in_may)
    assert len(want) > 20
    got = ids(
        http,
        "2021[dp] OR 2020[dp] OR 1900:2019[dp]",
        datetype="crdt",
        mindate="2021/05/01",
        maxdate="2021/05/31",
    )
    assert got == want
    assert ids(http, "2021/05/01:2021/05/31[crdt]") == want
    assert ids(http, '"2021/05/01"[crdt] : "2021/05/31"[crdt]') == want
    assert ids(http, "2021/05[crdt]") == want


def test_date_translation_and_reldate(http):
    record = search(http, "kratom", datetype="edat", mindate="2021/01/01", maxdate="2021/06/30")
    assert record["QueryTranslation"].endswith(" AND 2021/01/01:2021/06/30[Date - Entry]")
    assert list(search(http, "kratom", datetype="crdt", reldate="2")["IdList"]) == ["34091497"]
    # mindate without maxdate is ignored, as NCBI documents
    assert search(http, "kratom", datetype="crdt", mindate="2021/06/01")["Count"] == "3"


# --- query language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("kratom[tiab]", KRATOM),
        ("KRATOM[Title/Abstract]", KRATOM),
        ("mitragyn*", ["34091497", "33847897"]),
        ("mitragyn*[tiab] OR kratom[ti]", KRATOM),
        ("kratom NOT mitragyn*", ["33342583"]),
        ("kratom not mitragynine[tiab]", ["33342583"]),
        ("kratom AND letter[pt]", ["33342583"]),
        # left to right, as NCBI evaluates: (mitragynine OR kratom) AND letter
        ("mitragynine OR kratom AND letter[pt]", ["33342583"]),
        ("mitragynine OR (kratom AND letter[pt])", KRATOM),
        ("(kratom OR mitragynine) AND (fatal* OR gabapentin)", ["34091497", "33342583"]),
        ('"kratom withdrawal"[tiab]', ["33342583"]),
        ("kratom withdrawal[tiab]", ["33342583"]),
        ("kratom AND knight[au]", ["34091497"]),  # not McKnight
        ("kratom AND leon f[au]", ["33847897"]),  # León F: diacritics folded
        ('kratom AND "Am J Forensic Med Pathol"[ta]', ["34091497"]),
        ("kratom AND english[la]", KRATOM),
        ("34091497[pmid] OR 33342583[uid]", ["34091497", "33342583"]),
        ("7-hydroxymitragynine[tiab]", ["33847897"]),  # hyphens split: "7 hydroxymitragynine"
        ('"mitragynine metabolite"[tiab:~2]', ["33847897"]),
    ],
)
def test_query_language_on_real_records(http, term, expected):
    assert ids(http, term) == expected


def test_phrase_search_matches_an_independent_scan(http, slice_root):
    def says_neuropathic_pain(a) -> bool:
        title = "".join(a.find("MedlineCitation/Article/ArticleTitle").itertext())
        abstract = " ".join("".join(t.itertext()) for t in a.iterfind(".//Abstract/AbstractText"))
        keywords = " ".join("".join(k.itertext()) for k in a.iterfind(".//Keyword"))
        text = f"{title} . {abstract} . {keywords}"
        return re.search(r"\bneuropathic\W+pains?\b", text, re.I) is not None

    want = oracle(slice_root, says_neuropathic_pain)
    assert len(want) > 10
    assert ids(http, '"neuropathic pain"[tiab] OR "neuropathic pains"[tiab]') == want


def test_mesh_and_publication_type_match_the_xml(http, slice_root):
    def has_descriptor(name):
        return lambda a: name in [d.text for d in a.iterfind(".//MeshHeading/DescriptorName")]

    assert ids(http, '"humans"[mh]') == oracle(slice_root, has_descriptor("Humans"))
    assert ids(http, "Humans[MeSH Terms]") == oracle(slice_root, has_descriptor("Humans"))

    def is_review(a) -> bool:
        return "Review" in [p.text for p in a.iterfind(".//PublicationType")]

    assert ids(http, "review[pt]") == oracle(slice_root, is_review)
    assert len(ids(http, "review[pt]")) > 5


def test_mesh_entry_term_mapping_and_phrase_not_found(http):
    # No record of the slice has the MeSH heading Neuralgia (the descriptor for
    # "neuropathic pain"), so NCBI's answer over these records is PhraseNotFound.
    record = search(http, '"neuropathic pain"[mh]')
    assert record["Count"] == "0"
    assert record["ErrorList"]["PhraseNotFound"] == ['"neuropathic pain"[mh]']
    assert record["WarningList"]["QuotedPhraseNotFound"] == ['"neuropathic pain"']
    assert record["WarningList"]["OutputMessage"] == ["No items found."]
    assert record["TranslationSet"][0]["To"] == '"neuralgia"[MeSH Terms]'


def test_field_not_found_and_phrase_not_found_drop_the_term(http):
    record = search(http, "kratom[tiab] OR kratom[xyz]")
    assert record["ErrorList"]["FieldNotFound"] == ["xyz"]
    assert list(record["IdList"]) == KRATOM
    assert "[xyz]" not in record["QueryTranslation"]
    record = search(http, "kratom[tiab] AND qqzzyyxx")  # NCBI drops the unknown word
    assert record["ErrorList"]["PhraseNotFound"] == ["qqzzyyxx"]
    assert list(record["IdList"]) == KRATOM
    record = search(http, '"qqzz yyxx"')
    assert record["Count"] == "0"
    assert record["WarningList"]["QuotedPhraseNotFound"] == ['"qqzz yyxx"']


def test_translation_shows_field_tags(http):
    record = search(http, "(kratom[tw] OR mitragyn*[tiab]) AND pain[ti] NOT review[pt]")
    assert record["QueryTranslation"] == (
        '("kratom"[Text Word] OR "mitragyn*"[Title/Abstract]) AND "pain"[Title] '
        'NOT "review"[Publication Type]'
    )


def test_shipped_watch_queries_run(http):
    watches = Path(__file__).resolve().parents[1] / "queries"
    for path in sorted(watches.glob("*.toml")):
        term = re.search(r"term = '''(.*?)'''", path.read_text(), re.S).group(1)
        record = search(http, term)
        assert int(record["Count"]) > 0, path.name


def test_unbalanced_parenthesis_is_an_in_band_error(http):
    for term in ("(kratom OR pain", "kratom) OR pain"):
        r = http.get("esearch.fcgi", params={"db": "pubmed", "term": term})
        assert r.status_code == 200
        assert b"<eSearchResult><ERROR>Search Backend failed" in r.content
        with pytest.raises(RuntimeError, match="Search Backend failed"):
            Entrez.read(io.BytesIO(r.content))


# --- limits -----------------------------------------------------------------------------


def test_retmax_is_clamped_to_9999_with_ncbis_message(http):
    record = search(http, "kratom", retmax=10000)
    assert record["RetMax"] == "3"
    assert record["WarningList"]["OutputMessage"] == [
        "Restrictions achieved. start and count adjusted to 0, 9999"
    ]
    res = http.get(
        "esearch.fcgi",
        params={"term": "kratom", "retmax": 50000, "retstart": 9000, "retmode": "json"},
    ).json()["esearchresult"]
    assert res["idlist"] == []
    assert res["warninglist"]["outputmessages"] == [
        "Restrictions achieved. start and count adjusted to 9000, 999"
    ]


def test_retstart_9999_is_ncbis_error_and_invalid_json(http):
    r = http.get("esearch.fcgi", params={"term": "kratom", "retstart": 9999})
    assert r.status_code == 200
    with pytest.raises(RuntimeError, match="'retstart' cannot be larger than 9998"):
        Entrez.read(io.BytesIO(r.content))
    r = http.get("esearch.fcgi", params={"term": "kratom", "retstart": 10000, "retmode": "json"})
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert (
        "cannot be larger than 9998" in json.loads(r.text, strict=False)["esearchresult"]["ERROR"]
    )


def test_rate_limit_like_ncbi(eutils):
    with httpx.Client(base_url=eutils.base_url, verify=NO_TLS) as client:
        statuses = [client.get("einfo.fcgi").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = client.get("esearch.fcgi", params={"term": "kratom"})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        body = r.json()
        assert body == {
            "error": "API rate limit exceeded",
            "api-key": "127.0.0.1",
            "count": body["count"],
            "limit": "3",
        }
        assert int(body["count"]) >= 4
        # with an API key: 10 a second, counted for the key
        keyed = [client.get("einfo.fcgi", params={"api_key": "K1"}).status_code for _ in range(11)]
        assert keyed == [200] * 10 + [429]
        assert client.get("einfo.fcgi", params={"api_key": "K1"}).json()["api-key"] == "K1"
        time.sleep(1.05)
        assert client.get("einfo.fcgi").status_code == 200


def test_unknown_api_key_is_400_echoing_the_key():
    with EutilsStandin(api_keys={"good"}, today=TODAY) as s, httpx.Client(verify=NO_TLS) as client:
        r = client.get(s.base_url + "esearch.fcgi", params={"term": "kratom", "api_key": "bad1"})
        assert r.status_code == 400
        assert json.loads(r.text) == {
            "error": "API key invalid",
            "api-key": "bad1",
            "type": "invalid",
            "status": "unknown",
        }
        r = client.get(s.base_url + "esearch.fcgi", params={"term": "kratom", "api_key": "good"})
        assert r.status_code == 200
        assert all(e.params.get("api_key") == "***" for e in s.requests)


# --- faults -----------------------------------------------------------------------------


def test_fault_status(standin, http):
    standin.faults.push("esearch", "status", status=503)
    standin.faults.push("*", "status", status=429)
    r = http.get("esearch.fcgi", params={"term": "kratom"})
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    r = http.get("efetch.fcgi", params={"id": KRATOM[0]})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"] == "API rate limit exceeded"
    assert http.get("esearch.fcgi", params={"term": "kratom"}).status_code == 200
    assert [e.fault for e in standin.requests] == ["status", "status", None]


def test_fault_backend_error_json_error_empty(standin, http):
    standin.faults.push("esearch", "backend_error")
    r = http.get("esearch.fcgi", params={"term": "kratom"})
    with pytest.raises(RuntimeError, match="Search Backend failed"):
        Entrez.read(io.BytesIO(r.content))
    standin.faults.push("esearch", "backend_error")
    res = http.get("esearch.fcgi", params={"term": "kratom", "retmode": "json"}).json()
    assert res["esearchresult"]["ERROR"].startswith("Search Backend failed")
    standin.faults.push("efetch", "backend_error", message="Unable to obtain query #1")
    r = http.get("efetch.fcgi", params={"id": KRATOM[0]})
    assert etree.fromstring(r.content).findtext("ERROR") == "Unable to obtain query #1"
    standin.faults.push("efetch", "json_error", message="Backend down")
    r = http.get("efetch.fcgi", params={"id": KRATOM[0]})
    assert (r.status_code, r.json()) == (200, {"error": "Backend down"})
    standin.faults.push("efetch", "empty")
    r = http.get("efetch.fcgi", params={"id": KRATOM[0]})
    assert (r.status_code, r.content) == (200, b"")


def test_fault_truncate_cuts_inside_a_record(standin, http):
    full = http.get("efetch.fcgi", params={"id": ",".join(KRATOM)}).content
    standin.faults.push("efetch", "truncate")
    r = http.get("efetch.fcgi", params={"id": ",".join(KRATOM)})
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(r.content) < len(full)
    assert full.startswith(r.content)
    assert r.content.count(b"<PubmedArticle>") == 2 and r.content.count(b"</PubmedArticle>") == 1
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(r.content)


def test_fault_reset_breaks_the_connection(standin, http):
    standin.faults.push("efetch", "reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get("efetch.fcgi", params={"id": ",".join(KRATOM)})
    assert http.get("efetch.fcgi", params={"id": KRATOM[0]}).status_code == 200


def test_fault_stall(standin, http):
    standin.faults.push("esearch", "stall", seconds=0.6)
    with pytest.raises(httpx.ReadTimeout):
        http.get("esearch.fcgi", params={"term": "kratom"}, timeout=0.2)
    standin.faults.push("esearch", "stall", seconds=0.2)
    t = time.monotonic()
    assert http.get("esearch.fcgi", params={"term": "kratom"}).status_code == 200
    assert time.monotonic() - t >= 0.2


def test_fault_drop_records(standin, http):
    standin.faults.push("efetch", "drop_records", pmids=[KRATOM[1]])
    r = http.get("efetch.fcgi", params={"id": ",".join(KRATOM)})
    got = re.findall(rb"<PMID Version=\"\d+\">(\d+)</PMID>", r.content)
    assert [p.decode() for p in got] == [KRATOM[0], KRATOM[2]]
    standin.faults.push("efetch", "drop_records", fraction=0.5)
    r = http.get("efetch.fcgi", params={"id": ",".join([*KRATOM, "30271887"])})
    assert r.content.count(b"<PubmedArticle>") == 2


def test_fault_new_element_and_unknown_dtd(standin, http):
    standin.faults.push("efetch", "new_element")
    r = http.get("efetch.fcgi", params={"id": ",".join(KRATOM)})
    root = etree.fromstring(r.content)
    assert len(root.findall("PubmedArticle/MedlineCitation/StandinUnknownElement")) == 3
    with pytest.raises(ValidationError):
        Entrez.read(io.BytesIO(r.content))
    standin.faults.push("efetch", "unknown_dtd")
    r = http.get("efetch.fcgi", params={"id": KRATOM[0]})
    assert b'"http://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_990101.dtd"' in r.content[:300]
    assert etree.fromstring(r.content).tag == "PubmedArticleSet"
    with pytest.raises(ValueError, match="Expected secure URL"):  # Bio.Entrez refuses http DTDs
        Entrez.read(io.BytesIO(r.content))


def test_faults_count_and_endpoint_matching(standin, http):
    standin.faults.push("efetch", "empty", count=2)
    assert http.get("esearch.fcgi", params={"term": "kratom"}).content  # not an efetch
    assert [http.get("efetch.fcgi", params={"id": KRATOM[0]}).content for _ in range(3)][:2] == [
        b"",
        b"",
    ]
    assert standin.faults.pending == []
    with pytest.raises(ValueError):
        standin.faults.push("efetch", "no_such_kind")
    with pytest.raises(ValueError):
        standin.faults.push("efetch", "truncate", bogus=1)


def test_random_faults_are_reproducible():
    def run() -> list[str | None]:
        with (
            EutilsStandin(rate_limit=False, today=TODAY) as s,
            httpx.Client(verify=NO_TLS) as client,
        ):
            s.faults.randomize(seed=42, rate=0.5, kinds=["empty", "backend_error", "status"])
            for _ in range(12):
                client.get(s.base_url + "esearch.fcgi", params={"term": "kratom"})
            return [f"{e.fault}:{e.status}" for e in s.requests]

    first = run()
    assert first == run()
    assert 2 <= sum(1 for f in first if not f.startswith("None")) <= 10


# --- control, records, robustness -------------------------------------------------------


def test_http_control_endpoints(standin, http):
    control = standin.control_url
    r = http.post(
        control + "faults",
        json=[
            {"endpoint": "esearch", "kind": "status", "status": 502},
            {"endpoint": "efetch", "kind": "truncate", "count": 2},
        ],
    )
    assert r.status_code == 200
    assert [f["kind"] for f in r.json()["pending"]] == ["status", "truncate"]
    assert http.post(control + "faults", json={"kind": "nope"}).status_code == 400
    assert (
        http.get("esearch.fcgi", params={"term": "kratom", "api_key": "SECRET"}).status_code == 502
    )
    assert http.delete(control + "faults").json()["pending"] == []
    log = http.get(control + "requests").json()
    assert log[0]["endpoint"] == "esearch" and log[0]["status"] == 502
    assert log[0]["fault"] == "status"
    assert log[0]["params"]["api_key"] == "***"
    assert "SECRET" not in http.get(control + "requests").text
    r = http.post(control + "faults", json={"randomize": {"seed": 1, "rate": 0.2}})
    assert r.json()["random"]["rate"] == 0.2
    assert http.post(control + "reset").json() == {"ok": True}
    assert standin.requests == [] and standin.faults.random_mode is None


def test_records_can_be_replaced_added_and_reset(standin, http):
    original = http.get("efetch.fcgi", params={"id": "33342583"}).content
    record = re.search(rb"<PubmedArticle>.*</PubmedArticle>", original, re.S).group()
    retracted = record.replace(
        b'<PublicationType UI="D016422">Letter</PublicationType>',
        b'<PublicationType UI="D016422">Letter</PublicationType>'
        b'<PublicationType UI="D016441">Retracted Publication</PublicationType>',
    )
    assert retracted != record
    already = ids(http, '"retracted publication"[pt]')
    standin.replace_record(33342583, retracted)
    assert ids(http, '"retracted publication"[pt]') == sorted(
        [*already, "33342583"], key=int, reverse=True
    )
    assert b"Retracted Publication" in http.get("efetch.fcgi", params={"id": "33342583"}).content
    # a new paper that "appears" on 2021-06-09
    new = re.sub(rb"33342583", b"40000001", record)
    new = re.sub(
        rb'(<PubMedPubDate PubStatus="entrez">\s*<Year>)2020(</Year>\s*<Month>)12(</Month>\s*<Day>)21',
        rb"\g<1>2021\g<2>6\g<3>9",
        new,
    )
    assert standin.add_records(new) == [40000001]
    assert ids(http, "kratom", datetype="crdt", mindate="2021/06/09", maxdate="2021/06/09") == [
        "40000001"
    ]
    assert ids(http, "kratom", datetype="crdt", mindate="2020/12/21", maxdate="2020/12/21") == [
        "33342583"
    ]
    standin.delete_record(33847897)
    assert ids(http, "kratom") == ["40000001", "34091497", "33342583"]
    standin.reset()
    assert ids(http, "kratom") == KRATOM
    assert http.get("efetch.fcgi", params={"id": "33342583"}).content == original


def test_usehistory_and_efetch_by_webenv(http):
    record = search(http, "kratom", usehistory="y", retmax=0)
    assert record["QueryKey"] == "1" and record["WebEnv"].startswith("MCID_")
    r = http.get(
        "efetch.fcgi",
        params={"WebEnv": record["WebEnv"], "query_key": "1", "retstart": 1, "retmax": 5},
    )
    assert re.findall(rb'<PMID Version="1">(\d+)</PMID>\n', r.content) == [b"33847897", b"33342583"]
    r = http.get("efetch.fcgi", params={"WebEnv": "MCID_nope", "query_key": "1"})
    assert etree.fromstring(r.content).findtext("ERROR") == "Unable to obtain query #1"


@pytest.mark.parametrize(
    "params",
    [
        {"db": "nucleotide", "term": "kratom"},
        {"term": ""},
        {"term": "kratom", "datetype": "crdt", "mindate": "2021/13/45", "maxdate": "2021"},
        {"term": "kratom", "datetype": "xyz", "mindate": "2021", "maxdate": "2021"},
        {"term": "kratom", "retmax": "lots", "retstart": "-5"},
        {"term": '"unterminated AND [tiab AND ((( ]] :: * " ** NOT'},
        {"term": "\x00\ufffd" * 50 + "ü" * 5000},
    ],
)
def test_bad_input_never_crashes(http, params):
    r = http.get("esearch.fcgi", params=params)
    assert r.status_code == 200
    root = etree.fromstring(r.content)
    assert root.tag == "eSearchResult"


def test_bad_requests_get_ncbi_like_errors(http):
    assert (
        b"Invalid db name specified: nucleotide"
        in http.get("esearch.fcgi", params={"db": "nucleotide", "term": "x"}).content
    )
    assert b"Empty id list - nothing todo" in http.get("efetch.fcgi", params={"id": ""}).content
    assert http.get("nothing.fcgi").status_code == 404
    assert (
        http.post("efetch.fcgi", content=b"\xff\xfe", headers={"Content-Type": "x/y"}).status_code
        == 200
    )


def test_command_line_serves_and_prints_its_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "litwatch.standin", "--port", "0", "--no-rate-limit"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/entrez/eutils/", base_url)
        r = httpx.get(base_url + "esearch.fcgi", params={"term": "kratom[tiab]", "retmode": "json"})
        assert r.json()["esearchresult"]["idlist"] == KRATOM
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_field_sort_and_filters(http):
    assert ids(http, "kratom", field="title") == ["34091497", "33342583"]  # not 33847897
    assert search(http, "kratom", field="nosuch")["ErrorList"]["FieldNotFound"] == ["nosuch"]
    by_date = ids(http, "kratom", sort="pub_date")
    assert by_date[0] == "34091497"  # published 2021 Jun 5, the others in May
    assert ids(http, "kratom", sort="journal")[0] == "34091497"  # Am J Forensic Med Pathol
    assert ids(http, "kratom AND hasabstract") == ["34091497", "33847897"]  # the letter has none


def test_control_records_and_today(standin, http):
    record = http.get("efetch.fcgi", params={"id": "34091497"}).content
    new = re.search(rb"<PubmedArticle>.*</PubmedArticle>", record, re.S).group()
    new = new.replace(b"34091497", b"40000002")
    r = http.post(standin.control_url + "records", content=new)
    assert r.json() == {"pmids": [40000002]}
    assert "40000002" in ids(http, "kratom")
    assert http.delete(standin.control_url + "records/40000002").json() == {"ok": True}
    assert "40000002" not in ids(http, "kratom")
    r = http.post(standin.control_url + "today", json={"today": "2021-06-10"})
    assert r.json() == {"today": "2021-06-10"}
    assert ids(http, "kratom", datetype="edat", reldate="3") == ["34091497"]
    assert ids(http, "kratom", datetype="edat", reldate="2") == []


def test_einfo_json(http):
    doc = http.get("einfo.fcgi", params={"db": "pubmed", "retmode": "json"}).json()
    assert doc["header"]["type"] == "einfo"
    assert doc["einforesult"]["dbinfo"][0]["dbname"] == "pubmed"
