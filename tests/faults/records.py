"""PubMed records for the fault suite, made from real ones of the shipped slice.

``derive_record`` takes a real ``PubmedArticle`` (its bytes, as the stand-in serves them)
and gives it another PMID, title, abstract and create date ([crdt]: the ``entrez``
``PubMedPubDate``). Everything else (journal, authors, MeSH, publication types) stays as
PubMed wrote it, so the record is as real as a made-up one can be. Text goes in through
lxml, which escapes ``<`` and ``&`` and writes CR as ``&#13;``: what PubMed can really
send. A title may also carry inline markup (``title_markup``), parsed as XML elements.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

# A kratom paper of the slice: "Kratom-Associated Fatalities in Northern Nevada..."
TEMPLATE_PMID = 34091497

# Synthetic PMIDs live far above the slice's (which stop below 35,000,000).
SYNTHETIC_BASE = 90_000_000


def derive_record(
    template: bytes,
    pmid: int,
    *,
    title: str | None = None,
    title_markup: str | None = None,
    abstract: str | None = None,
    created: dt.date | None = None,
) -> bytes:
    """A ``PubmedArticle`` like ``template`` with the given PMID, title (plain text, or
    ``title_markup``: an XML fragment with inline elements), abstract and create date.
    DOIs, PMCIDs and other article ids are dropped (they belong to the real paper)."""
    root = etree.fromstring(template)
    citation = root.find("MedlineCitation")
    citation.find("PMID").text = str(pmid)
    citation.find("PMID").set("Version", "1")
    article = citation.find("Article")
    title_el = article.find("ArticleTitle")
    if title_markup is not None:
        fresh = etree.fromstring(f"<ArticleTitle>{title_markup}</ArticleTitle>")
        article.replace(title_el, fresh)
    elif title is not None:
        for child in list(title_el):
            title_el.remove(child)
        title_el.text = title
    if abstract is not None:
        old = article.find("Abstract")
        fresh = etree.Element("Abstract")
        etree.SubElement(fresh, "AbstractText").text = abstract
        if old is not None:
            article.replace(old, fresh)
        else:
            article.find("ArticleTitle").addnext(fresh)
    for eloc in article.findall("ELocationID"):
        article.remove(eloc)
    pubmed_data = root.find("PubmedData")
    if created is not None:
        for date in pubmed_data.iterfind("History/PubMedPubDate"):
            if date.get("PubStatus") in ("entrez", "pubmed", "medline"):
                date.find("Year").text = f"{created.year}"
                date.find("Month").text = f"{created.month}"
                date.find("Day").text = f"{created.day}"
    ids = pubmed_data.find("ArticleIdList")
    for article_id in list(ids):
        if article_id.get("IdType") == "pubmed":
            article_id.text = str(pmid)
        else:
            ids.remove(article_id)
    comments = citation.find("CommentsCorrectionsList")
    if comments is not None:
        citation.remove(comments)
    return etree.tostring(root, encoding="utf-8")


def article_set(records: list[bytes]) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n'
        + b"\n".join(records)
        + b"\n</PubmedArticleSet>\n"
    )
