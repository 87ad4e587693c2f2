"""elink.fcgi on the E-utilities stand-in: NCBI's shapes (Bio.Entrez.read as the oracle),
both id styles, JSON, pubmed_pubmed_citedin / _refs on the real records of the shipped slice,
edits to the records, faults, the rate limit and the request log."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from Bio import Entrez
from lxml import etree

from litwatch.standin.corpus import default_records_path
from litwatch.standin.eutils import EutilsStandin
from tests.test_standin import current_articles

CITEDIN, REFS = "pubmed_pubmed_citedin", "pubmed_pubmed_refs"
ELINK_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eLinkResult PUBLIC '
    b'"-//NLM//DTD elink 20101123//EN" '
    b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20101123/elink.dtd">\n<eLinkResult>\n'
)
# Real citations inside the slice, checked by hand in its XML (PubmedData/ReferenceList):
#   12486199 "High-resolution analysis of ethanol-induced locomotor stimulation in Drosophila."
#        cites 10704411 "Dopamine modulates acute responses to cocaine, nicotine and ethanol
#        in Drosophila."
#   15550987 "Lmo mutants reveal a novel role for circadian pacemaker neurons in
#        cocaine-induced behaviors." cites 10704411 and 12486199
#   33781001 "Lung recruitment manoeuvres for reducing mortality and respiratory morbidity in
#        mechanically ventilated neonates." cites 32687801 "Lung recruitment before surfactant
#        administration in extremely preterm neonates ... (IN-REC-SUR-E) ..."
#   33073865 (an erratum) lists itself in its ReferenceList
# References outside the slice cited by two slice records each:
#   11846609 <- 27602157, 33108351;   27582708 <- 33783763, 34050525
DOPAMINE, ETHANOL, LMO = "10704411", "12486199", "15550987"
KRATOM_PK = "33847897"  # "Oral Pharmacokinetics in Beagle Dogs of the Mitragynine Metabolite,
# 7-Hydroxymitragynine." - the kratom paper of the slice with a ReferenceList (19 PMIDs)
KONUNDRUM = "33342583"  # "A Kratom Konundrum" - a kratom paper without a ReferenceList


@pytest.fixture
def standin() -> Iterator[EutilsStandin]:
    with EutilsStandin(rate_limit=False) as s:
        yield s


@pytest.fixture
def http(standin: EutilsStandin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def slice_refs() -> dict[str, list[str]]:
    """PMID -> the PMIDs its ReferenceList cites, read from the slice with plain lxml
    (current version of each record, DeleteCitation applied): the independent oracle."""
    root = etree.fromstring(gzip.decompress(default_records_path().read_bytes()))
    return {
        pmid: list(
            dict.fromkeys(
                a.xpath(
                    "PubmedData/ReferenceList/Reference/ArticleIdList"
                    "/ArticleId[@IdType='pubmed']/text()"
                )
            )
        )
        for pmid, a in current_articles(root).items()
    }


def citers(slice_refs: dict[str, list[str]], pmid: str) -> list[str]:
    return sorted((p for p, refs in slice_refs.items() if pmid in refs), key=int, reverse=True)


def elink(http: httpx.Client, params, *, post: bool = False) -> httpx.Response:
    if post:  # a form; a list of pairs keeps repeated names (httpx's data= takes a dict)
        form = urlencode(params, doseq=True).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        r = http.post("elink.fcgi", content=form, headers=headers)
    else:
        r = http.get("elink.fcgi", params=params)
    assert r.status_code == 200
    return r


def linksets(r: httpx.Response) -> list[dict]:
    return list(Entrez.read(io.BytesIO(r.content)))  # validates against NCBI's elink DTD


def links(linkset: dict) -> dict[str, list[str]]:
    return {db["LinkName"]: [link["Id"] for link in db["Link"]] for db in linkset["LinkSetDb"]}


# --- formats --------------------------------------------------------------------------------


def test_comma_ids_are_one_linkset_with_links_unioned(http, slice_refs):
    asked = ["11846609", "27582708", DOPAMINE]
    params = {"dbfrom": "pubmed", "db": "pubmed", "linkname": CITEDIN, "id": ",".join(asked)}
    r = elink(http, params)
    assert r.headers["content-type"].startswith("text/xml")
    assert r.content.startswith(ELINK_HEAD + b"<LinkSet>\n\t<DbFrom>pubmed</DbFrom>\n\t<IdList>\n")
    (linkset,) = linksets(r)
    assert linkset["DbFrom"] == "pubmed"
    assert list(linkset["IdList"]) == asked
    (db,) = linkset["LinkSetDb"]
    assert db["DbTo"] == "pubmed" and db["LinkName"] == CITEDIN
    want = sorted({c for p in asked for c in citers(slice_refs, p)}, key=int, reverse=True)
    assert want == ["34050525", "33783763", "33108351", "27602157", LMO, ETHANOL]
    assert [link["Id"] for link in db["Link"]] == want  # PMID descending, as NCBI's


@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
def test_repeated_ids_are_one_linkset_each(http, post):
    params = [("dbfrom", "pubmed"), ("linkname", CITEDIN)]
    params += [("id", p) for p in (DOPAMINE, ETHANOL, LMO, "99999999")]
    got = linksets(elink(http, params, post=post))
    assert [list(ls["IdList"]) for ls in got] == [[DOPAMINE], [ETHANOL], [LMO], ["99999999"]]
    assert [links(ls) for ls in got] == [
        {CITEDIN: [LMO, ETHANOL]},
        {CITEDIN: [LMO]},
        {},  # no citer: a LinkSet without LinkSetDb, as NCBI answers
        {},
    ]
    assert b"<LinkSetDb>" not in elink(http, {"id": "99999999"}).content


def test_mixed_id_styles(http):
    params = [("linkname", CITEDIN), ("id", f"{DOPAMINE},{ETHANOL}"), ("id", "32687801")]
    got = linksets(elink(http, params))
    assert [list(ls["IdList"]) for ls in got] == [[DOPAMINE, ETHANOL], ["32687801"]]
    assert [links(ls) for ls in got] == [{CITEDIN: [LMO, ETHANOL]}, {CITEDIN: ["33781001"]}]


def test_refs_of_the_kratom_paper_are_its_reference_list(http, slice_refs):
    (linkset,) = linksets(elink(http, {"linkname": REFS, "id": KRATOM_PK}))
    want = sorted(slice_refs[KRATOM_PK], key=int, reverse=True)
    assert len(want) == 19
    assert links(linkset) == {REFS: want}
    (linkset,) = linksets(elink(http, {"linkname": REFS, "id": KONUNDRUM}))
    assert links(linkset) == {}


def test_refs_unioned_and_a_self_citation(http, slice_refs):
    (linkset,) = linksets(elink(http, {"linkname": REFS, "id": f"{ETHANOL},{LMO}"}))
    union = set(slice_refs[ETHANOL]) | set(slice_refs[LMO])
    assert links(linkset)[REFS] == sorted(union, key=int, reverse=True)
    assert DOPAMINE in links(linkset)[REFS] and ETHANOL in links(linkset)[REFS]
    (linkset,) = linksets(elink(http, {"id": "33073865"}))  # an erratum citing itself
    assert links(linkset) == {CITEDIN: ["33073865"], REFS: ["33073865"]}


def test_without_linkname_every_served_link_name_in_ncbis_order(http, slice_refs):
    (linkset,) = linksets(elink(http, {"dbfrom": "pubmed", "id": ETHANOL}))
    assert list(links(linkset)) == [CITEDIN, REFS]
    assert links(linkset)[CITEDIN] == [LMO]
    assert len(links(linkset)[REFS]) == len(slice_refs[ETHANOL]) == 36


def test_citedin_for_every_cited_pmid_matches_an_independent_scan(http, slice_refs):
    cited = sorted({c for refs in slice_refs.values() for c in refs}, key=int)
    assert len(cited) > 1000
    r = elink(http, [("linkname", CITEDIN), *[("id", c) for c in cited]], post=True)
    got = {ls["IdList"][0]: links(ls).get(CITEDIN, []) for ls in linksets(r)}
    assert got == {c: citers(slice_refs, c) for c in cited}


def test_json_is_ncbis_shape(http):
    params = [("linkname", CITEDIN), ("id", f"{DOPAMINE},{ETHANOL}"), ("id", "1")]
    r = elink(http, [*params, ("retmode", "json")])
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {
        "header": {"type": "elink", "version": "0.3"},
        "linksets": [
            {
                "dbfrom": "pubmed",
                "ids": [DOPAMINE, ETHANOL],
                "linksetdbs": [{"dbto": "pubmed", "linkname": CITEDIN, "links": [LMO, ETHANOL]}],
            },
            {"dbfrom": "pubmed", "ids": ["1"]},
        ],
    }


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("linkname", ["pubmed_pubmed_citedinx", "pubmed_pubmed"])
def test_unknown_linkname_is_an_error_inside_the_linkset(http, linkname):
    r = elink(http, {"linkname": linkname, "id": DOPAMINE})
    assert r.content.startswith(ELINK_HEAD + b"<LinkSet>\n\t<ERROR>Exception:\n")
    with pytest.raises(RuntimeError, match=linkname):  # what Bio.Entrez makes of it
        Entrez.read(io.BytesIO(r.content))
    r = elink(http, {"linkname": linkname, "id": DOPAMINE, "retmode": "json"})
    assert r.json()["header"] == {"type": "elink", "version": "0.3"}
    assert linkname in r.json()["ERROR"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"db": "pmc", "id": DOPAMINE}, "Invalid db name specified: pmc"),
        ({"dbfrom": "protein", "id": DOPAMINE}, "Invalid db name specified: protein"),
        ({"id": ""}, "Empty id list - nothing todo"),
        ({"linkname": CITEDIN}, "Empty id list - nothing todo"),
        ({"cmd": "acheck", "id": DOPAMINE}, "cmd=acheck is not served"),
        ({"retmode": "text", "id": DOPAMINE}, "retmode=text is not served"),
    ],
)
def test_bad_requests_are_in_band_errors(http, params, message):
    r = elink(http, params)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        Entrez.read(io.BytesIO(r.content))


# --- records changing -----------------------------------------------------------------------


def citing_record(standin: EutilsStandin, pmid: str, cites: list[str]) -> bytes:
    """The real "Kratom Konundrum" record as a new paper `pmid` with a ReferenceList."""
    xml = standin.record(int(KONUNDRUM)).xml
    xml = re.sub(
        rb"(<PMID[^>]*>)" + KONUNDRUM.encode() + rb"<", rb"\g<1>" + pmid.encode() + b"<", xml
    )
    refs = "".join(
        f'<Reference><Citation>x</Citation><ArticleIdList><ArticleId IdType="pubmed">{c}'
        "</ArticleId></ArticleIdList></Reference>"
        for c in cites
    )
    return xml.replace(
        b"</PubmedData>", f"<ReferenceList>{refs}</ReferenceList></PubmedData>".encode()
    )


def citedin_of(http: httpx.Client, pmid: str) -> list[str]:
    (linkset,) = linksets(elink(http, {"linkname": CITEDIN, "id": pmid}))
    return links(linkset).get(CITEDIN, [])


def test_a_record_added_later_is_a_citer(standin, http):
    assert citedin_of(http, DOPAMINE) == [LMO, ETHANOL]
    assert standin.add_records(citing_record(standin, "40000001", [DOPAMINE, KRATOM_PK])) == [
        40000001
    ]
    assert citedin_of(http, DOPAMINE) == ["40000001", LMO, ETHANOL]
    assert citedin_of(http, KRATOM_PK) == ["40000001"]
    (linkset,) = linksets(elink(http, {"linkname": REFS, "id": "40000001"}))
    assert links(linkset) == {REFS: [KRATOM_PK, DOPAMINE]}
    # over HTTP too, as a test driving litwatch in a subprocess would
    body = citing_record(standin, "40000002", [DOPAMINE])
    assert http.post(standin.control_url + "records", content=body).json() == {"pmids": [40000002]}
    assert citedin_of(http, DOPAMINE) == ["40000002", "40000001", LMO, ETHANOL]


def test_replaced_and_deleted_records_stop_citing(standin, http):
    lmo = standin.record(int(LMO)).xml
    without = re.sub(
        rb"<Reference>(?:(?!</Reference>).)*?>" + DOPAMINE.encode() + rb"<.*?</Reference>",
        b"",
        lmo,
        flags=re.S,
    )
    assert without != lmo and DOPAMINE.encode() not in without.split(b"<ReferenceList>")[1]
    standin.replace_record(LMO, without)
    assert citedin_of(http, DOPAMINE) == [ETHANOL]
    assert citedin_of(http, ETHANOL) == [LMO]  # its other references still count
    standin.delete_record(ETHANOL)
    assert citedin_of(http, DOPAMINE) == []
    (linkset,) = linksets(elink(http, {"linkname": REFS, "id": ETHANOL}))
    assert links(linkset) == {}
    standin.reset()
    assert citedin_of(http, DOPAMINE) == [LMO, ETHANOL]
    with EutilsStandin(rate_limit=False) as other, httpx.Client(base_url=other.base_url) as h2:
        assert citedin_of(h2, DOPAMINE) == [LMO, ETHANOL]  # the shared corpus is untouched


# --- faults, rate limit, log ----------------------------------------------------------------


def test_faults_apply_to_elink(standin, http):
    params = {"linkname": CITEDIN, "id": DOPAMINE}
    standin.faults.push("esearch", "empty")  # another endpoint's fault is left alone
    standin.faults.push("elink", "status", status=503)
    standin.faults.push("*", "backend_error")
    standin.faults.push("elink", "empty")
    standin.faults.push("elink", "json_error", message="Backend down")
    standin.faults.push("elink", "unknown_dtd")
    r = http.get("elink.fcgi", params=params)
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    r = elink(http, params)
    with pytest.raises(RuntimeError, match="Couldn't resolve #exLinkSrv2"):
        Entrez.read(io.BytesIO(r.content))
    assert etree.fromstring(r.content).findtext("ERROR").startswith("Couldn't resolve")
    assert elink(http, params).content == b""
    assert elink(http, params).json() == {"error": "Backend down"}
    r = elink(http, params)
    assert b'"http://eutils.ncbi.nlm.nih.gov/eutils/dtd/20990101/elink.dtd"' in r.content[:300]
    with pytest.raises(ValueError, match="Expected secure URL"):
        Entrez.read(io.BytesIO(r.content))
    assert len(linksets(elink(http, params))) == 1
    assert [e.fault for e in standin.requests] == [
        "status",
        "backend_error",
        "empty",
        "json_error",
        "unknown_dtd",
        None,
    ]
    assert [p["endpoint"] for p in standin.faults.pending] == ["esearch"]


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_broken_deliveries_apply_to_elink(standin, http, kind):
    full = elink(http, {"id": ETHANOL}).content
    standin.faults.push("elink", kind)
    if kind == "reset":
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.get("elink.fcgi", params={"id": ETHANOL})
    else:
        r = elink(http, {"id": ETHANOL})
        assert full.startswith(r.content) and len(r.content) < len(full)
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(r.content)
    assert elink(http, {"id": ETHANOL}).content == full


def test_elink_faults_over_http_control(standin, http):
    r = http.post(standin.control_url + "faults", json={"endpoint": "elink", "kind": "empty"})
    assert r.json()["pending"] == [{"endpoint": "elink", "kind": "empty", "count": 1}]
    assert elink(http, {"id": DOPAMINE}).content == b""


def test_rate_limit_covers_elink(eutils):
    with httpx.Client(base_url=eutils.base_url) as client:
        statuses = [client.get("einfo.fcgi").status_code for _ in range(2)]
        statuses += [
            client.get("elink.fcgi", params={"id": DOPAMINE}).status_code for _ in range(2)
        ]
        assert statuses == [200, 200, 200, 429]  # one window for every endpoint
        r = client.post("elink.fcgi", data={"id": DOPAMINE})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert json.loads(r.text)["error"] == "API rate limit exceeded"
    assert eutils.count("elink") == 3


def test_the_log_records_elink_requests(standin, http):
    elink(http, [("id", f"{DOPAMINE},{ETHANOL}"), ("id", LMO), ("api_key", "SECRET-KEY-0001")])
    elink(http, {"linkname": CITEDIN, "id": DOPAMINE}, post=True)
    first, second = standin.requests
    assert (first.endpoint, first.method, first.ids, first.status) == ("elink", "GET", 3, 200)
    assert first.params["api_key"] == "***"
    assert (second.method, second.ids, second.params["linkname"]) == ("POST", 1, CITEDIN)
    assert standin.count("elink") == 2 and standin.count("esearch") == 0
