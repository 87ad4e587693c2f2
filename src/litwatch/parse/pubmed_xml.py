"""PubMed XML (efetch responses, baseline and update files) -> ``Paper`` values, streaming.

``parse_pubmed_xml`` reads ``PubmedArticle``, ``PubmedBookArticle`` and ``DeleteCitation``
elements one at a time with ``lxml.etree.iterparse`` and frees each one once it has been
read, so memory stays flat whatever the size of the document. The DTD is never loaded
and nothing is ever fetched: a DOCTYPE with an ``http://`` URL or a DTD version nobody
has seen yet parses the same, entities are not expanded, unknown elements are ignored.

Errors come in two sizes:

- one record that cannot be read (no PMID, a PMID that is not a number, a date that is
  not a date) becomes a ``MalformedRecord`` in the output and parsing goes on;
- a document that is not well-formed XML (truncated, garbage, an empty body) or whose
  root is not a ``PubmedArticleSet`` raises ``ParseError`` when the damage is reached.
  Records before the damage have been yielded already: a generator cannot take them
  back. Callers that need all-or-nothing collect the output first; the E-utilities
  client checks a batch is complete before handing it here.
"""

from __future__ import annotations

import datetime as dt
import gzip
import html
import io
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from lxml import etree

from litwatch.dedupe import normalize_doi, normalize_pmcid
from litwatch.errors import ParseError
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

Source = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]
Parsed = Paper | DeletedCitations | MalformedRecord

_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_ROOT_TAGS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet"})
_INLINE_TAGS = frozenset({"i", "b", "sup", "sub", "u"})
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_QUARTERS = {"1st": 1, "2nd": 4, "3rd": 7, "4th": 10}
# No DTD, no network, no entity expansion; one event per record (the benchmarks' floor
# parses with the same options).
ITERPARSE_OPTIONS = {
    "events": ("end",),
    "tag": _RECORD_TAGS,
    "load_dtd": False,
    "no_network": True,
    "resolve_entities": False,
    "huge_tree": True,
    "remove_comments": True,
    "remove_pis": True,
}


class _Malformed(Exception):
    """One record cannot be read; becomes a MalformedRecord."""


def parse_pubmed_xml(source: Source) -> Iterator[Parsed]:
    """Yield one ``Paper`` per article or book, one ``DeletedCitations`` per
    ``DeleteCitation`` and one ``MalformedRecord`` per record that cannot be read.

    ``source`` is the whole document as bytes, a binary file object (``gzip.open(...)``,
    an HTTP response) or an iterable of byte chunks. Raises ``ParseError`` when the
    document itself is broken (see the module docstring).
    """
    context = etree.iterparse(_as_stream(source), **ITERPARSE_OPTIONS)
    try:
        for _, element in context:
            yield _read_record(element)
            _release(element)
    except etree.XMLSyntaxError as e:
        raise ParseError(
            f"PubMed XML is not well-formed: {e}",
            hint="the response was probably truncated; fetch the batch again",
        ) from e
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ParseError(f"compressed PubMed XML is truncated or corrupt: {e}") from e
    _check_root(context.root)


def _as_stream(source: Source) -> BinaryIO | _ChunkStream:
    if isinstance(source, str):
        raise TypeError("parse_pubmed_xml takes bytes, not str: pass the raw response body")
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    if hasattr(source, "read"):
        return source  # type: ignore[return-value]
    return _ChunkStream(source)


class _ChunkStream:
    """A minimal file object over an iterable of byte chunks, for ``iterparse``."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        while self._at >= len(self._buffer):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer, self._at = bytes(chunk), 0
        end = len(self._buffer) if size < 0 else min(self._at + size, len(self._buffer))
        data = self._buffer[self._at : end]
        self._at = end
        return data


def _release(element: etree._Element) -> None:
    """Free a record once read: its subtree and the (already freed) siblings before it."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _check_root(root: etree._Element | None) -> None:
    if root is None or root.tag in _ROOT_TAGS or root.tag in _RECORD_TAGS:
        return
    detail = " ".join(t.strip() for t in root.itertext() if t.strip())[:200]
    raise ParseError(
        f"expected a PubmedArticleSet, got <{root.tag}>" + (f": {detail}" if detail else "")
    )


def _read_record(element: etree._Element) -> Parsed:
    tag = element.tag
    if tag == "DeleteCitation":
        return DeletedCitations(tuple(t for p in element if (t := _pcdata(p))))
    try:
        if tag == "PubmedBookArticle":
            return _read_book(element)
        first = element[0] if len(element) else None
        if first is None or first.tag != "MedlineCitation":
            raise _Malformed("no MedlineCitation")
        return _read_article(first, element[1] if len(element) > 1 else None)
    except _Malformed as e:
        return MalformedRecord(reason=str(e), pmid=_record_pmid(element))
    except (ValueError, TypeError, AttributeError, IndexError) as e:
        # Shapes no DTD allows; one record must not sink its batch.
        return MalformedRecord(
            reason=f"unreadable record: {type(e).__name__}: {e}", pmid=_record_pmid(element)
        )


def _record_pmid(element: etree._Element) -> str | None:
    """The PMID of a record that cannot be read, if it can be found (only looked up then)."""
    first = element[0] if len(element) else None  # MedlineCitation or BookDocument
    if first is not None and len(first) and first[0].tag == "PMID":
        return _pcdata(first[0])
    return None


# --- PubmedArticle -----------------------------------------------------------------------


def _read_article(citation: etree._Element, pubmed_data: etree._Element | None) -> Paper:
    fields: dict = {"status": citation.get("Status")}
    elocation_doi = None
    keywords: list[str] = []
    for child in citation:
        tag = child.tag
        if tag == "PMID":
            fields["pmid"], fields["pmid_version"] = _pmid(child)
        elif tag == "Article":
            elocation_doi = _read_article_element(child, fields)
        elif tag == "DateRevised":
            fields["date_revised"] = _full_date(child)
        elif tag == "MeshHeadingList":
            fields["mesh_headings"] = _mesh_headings(child)
        elif tag == "KeywordList":
            keywords += [k for k in map(_text, child) if k]
        elif tag == "CommentsCorrectionsList":
            fields["comments_corrections"] = tuple(_comment_correction(c) for c in child)
    if "pmid" not in fields:
        raise _Malformed("no PMID")
    if "title" not in fields:
        raise _Malformed("no Article")
    fields["keywords"] = tuple(keywords)
    if pubmed_data is not None and pubmed_data.tag == "PubmedData":
        _read_pubmed_data(pubmed_data, fields)
    if fields.get("doi") is None and elocation_doi:  # ArticleIdList wins; this fills a gap
        fields["doi"] = normalize_doi(elocation_doi)
    return Paper(**fields)


def _read_article_element(article: etree._Element, fields: dict) -> str | None:
    """Fill ``fields`` from an Article; return the text of its first DOI ELocationID.

    Only the first one counts: a later ELocationID never replaces a DOI already found.
    """
    title = title_html = ""
    journal, pages, elocation_doi = None, None, None
    authors: tuple[Author, ...] = ()
    languages: list[str] = []
    for child in article:
        tag = child.tag
        if tag == "Journal":
            journal = _journal(child)
        elif tag == "ArticleTitle":
            title, title_html = _text(child), _inline_html(child)
        elif tag == "Pagination":
            pages = _pages(child)
        elif tag == "ELocationID":
            if elocation_doi is None and child.get("EIdType") == "doi":
                elocation_doi = _pcdata(child)
        elif tag == "Abstract":
            fields["abstract"] = _abstract(child)
        elif tag == "AuthorList":
            authors += _authors(child)
        elif tag == "Language":
            if language := _pcdata(child):
                languages.append(language)
        elif tag == "PublicationTypeList":
            fields["publication_types"] = tuple([t for t in map(_pcdata, child) if t])
        elif tag == "VernacularTitle":
            fields["vernacular_title"] = _text(child) or None
        elif tag == "ArticleDate" and child.get("DateType", "Electronic") == "Electronic":
            fields.setdefault("electronic_date", _full_date(child))
    if journal is not None:
        (title_, iso, issn, volume, issue), fields["published"] = journal
        fields["journal"] = Journal(title_, iso, issn, volume, issue, pages)
    elif pages:
        fields["journal"] = Journal(pages=pages)
    fields.update(title=title, title_html=title_html, authors=authors, languages=tuple(languages))
    return elocation_doi


_JournalParts = tuple[str | None, str | None, str | None, str | None, str | None]


def _journal(journal: etree._Element) -> tuple[_JournalParts, PartialDate]:
    """Journal -> (title, ISOAbbreviation, ISSN, volume, issue), PubDate."""
    title = iso = issn = volume = issue = None
    published = PartialDate()
    for child in journal:
        tag = child.tag
        if tag == "Title":
            title = _pcdata(child)
        elif tag == "ISOAbbreviation":
            iso = _pcdata(child)
        elif tag == "ISSN":
            issn = _pcdata(child)
        elif tag == "JournalIssue":
            for part in child:
                tag = part.tag
                if tag == "Volume":
                    volume = _pcdata(part)
                elif tag == "Issue":
                    issue = _pcdata(part)
                elif tag == "PubDate":
                    published = _partial_date(part)
    return (title, iso, issn, volume, issue), published


def _read_pubmed_data(pubmed_data: etree._Element, fields: dict) -> None:
    for child in pubmed_data:
        tag = child.tag
        if tag == "History":
            fields["history"] = _history(child)
        elif tag == "ArticleIdList":
            _article_ids(child, fields)


def _article_ids(id_list: etree._Element, fields: dict) -> None:
    for article_id in id_list:
        id_type = article_id.get("IdType")
        if id_type == "doi" and fields.get("doi") is None:
            fields["doi"] = normalize_doi(article_id.text)
        elif id_type == "pmc" and fields.get("pmcid") is None:
            fields["pmcid"] = normalize_pmcid(article_id.text)


# --- PubmedBookArticle -------------------------------------------------------------------


def _read_book(element: etree._Element) -> Paper:
    document = element.find("BookDocument")
    if document is None:
        raise _Malformed("no BookDocument")
    fields: dict = {"kind": "book", "title": "", "title_html": ""}
    book_title = ("", "")
    book_authors: tuple[Author, ...] = ()
    authors: tuple[Author, ...] = ()
    journal = Journal()
    dois: list[str | None] = []
    publication_types: list[str] = []
    languages: list[str] = []
    keywords: list[str] = []
    for child in document:
        tag = child.tag
        if tag == "PMID":
            fields["pmid"], fields["pmid_version"] = _pmid(child)
        elif tag == "ArticleIdList":
            _article_ids(child, fields)
        elif tag == "Book":
            book_title, book_authors, journal, published, doi = _book(child)
            fields["published"] = published
            dois.append(doi)
        elif tag == "ArticleTitle":
            fields["title"], fields["title_html"] = _text(child), _inline_html(child)
        elif tag == "VernacularTitle":
            fields["vernacular_title"] = _text(child) or None
        elif tag == "Pagination":
            journal = journal._replace(pages=_pages(child))
        elif tag == "Language":
            if language := _text(child):
                languages.append(language)
        elif tag == "AuthorList" and child.get("Type", "authors") == "authors":
            authors += _authors(child)
        elif tag == "PublicationType":
            if publication_type := _text(child):
                publication_types.append(publication_type)
        elif tag == "Abstract":
            fields["abstract"] = _abstract(child)
        elif tag == "KeywordList":
            keywords.extend(k for k in map(_text, child) if k)
        elif tag == "DateRevised":
            fields["date_revised"] = _full_date(child)
    if "pmid" not in fields:
        raise _Malformed("no PMID")
    if not fields["title"]:
        fields["title"], fields["title_html"] = book_title
    data = element.find("PubmedBookData")
    if data is not None:
        _read_pubmed_data(data, fields)
        fields["status"] = _text(data.find("PublicationStatus")) or None
    if fields.get("doi") is None:
        fields["doi"] = next((d for d in dois if d), None)
    fields.update(
        authors=authors or book_authors,
        journal=journal,
        publication_types=tuple(publication_types),
        languages=tuple(languages),
        keywords=tuple(keywords),
    )
    return Paper(**fields)


def _book(
    book: etree._Element,
) -> tuple[tuple[str, str], tuple[Author, ...], Journal, PartialDate, str | None]:
    title = ("", "")
    authors: tuple[Author, ...] = ()
    volume = doi = None
    published = PartialDate()
    for child in book:
        tag = child.tag
        if tag == "BookTitle":
            title = (_text(child), _inline_html(child))
        elif tag == "PubDate":
            published = _partial_date(child)
        elif tag == "AuthorList" and child.get("Type", "authors") == "authors":
            authors += _authors(child)
        elif tag == "Volume":
            volume = _text(child) or None
        elif tag == "ELocationID" and child.get("EIdType") == "doi" and doi is None:
            doi = normalize_doi(child.text)
    return title, authors, Journal(title[0] or None, volume=volume), published, doi


# --- shared pieces -----------------------------------------------------------------------


def _pcdata(element: etree._Element) -> str | None:
    """The text of an element that holds text only (PMID, Year, LastName, ...), or None."""
    text = element.text
    if text is None:
        return None
    return text.strip() or None


def _text(element: etree._Element | None) -> str:
    """All the text inside, inline markup dropped, ends stripped."""
    if element is None:
        return ""
    if len(element):
        return "".join(element.itertext()).strip()
    text = element.text
    return text.strip() if text else ""


def _inline_html(element: etree._Element) -> str:
    """Safe HTML: text escaped, PubMed's inline tags kept, any other tag dropped (its text kept)."""
    if not len(element):
        return html.escape(element.text.strip()) if element.text else ""
    return "".join(_inline_parts(element)).strip()


def _inline_parts(element: etree._Element) -> Iterator[str]:
    if element.text:
        yield html.escape(element.text)
    for child in element:
        tag = child.tag
        if tag in _INLINE_TAGS:
            yield f"<{tag}>"
            yield from _inline_parts(child)
            yield f"</{tag}>"
        elif isinstance(tag, str):  # MathML and tags PubMed may add later: text only
            yield from _inline_parts(child)
        elif child.text:  # an entity reference left unexpanded: as itertext shows it
            yield html.escape(child.text)
        if child.tail:
            yield html.escape(child.tail)


def _pmid(element: etree._Element) -> tuple[str, int]:
    pmid = _text(element)
    if not pmid:
        raise _Malformed("empty PMID")
    if not pmid.isascii() or not pmid.isdigit():
        raise _Malformed(f"PMID {pmid!r} is not a number")
    version = element.get("Version", "1")
    if not version.isdigit():
        raise _Malformed(f"PMID Version {version!r} is not a number")
    return pmid, int(version)


def _pages(pagination: etree._Element) -> str | None:
    start = end = None
    for child in pagination:
        if child.tag == "MedlinePgn":
            if pages := _text(child):
                return pages
        elif child.tag == "StartPage":
            start = _text(child)
        elif child.tag == "EndPage":
            end = _text(child)
    if start and end:
        return f"{start}-{end}"
    return start or None


def _abstract(abstract: etree._Element) -> tuple[AbstractSection, ...]:
    sections = []
    for part in abstract:
        if part.tag != "AbstractText":
            continue  # CopyrightInformation
        text = _text(part)
        label = part.get("Label") or None
        if text or label:
            sections.append(AbstractSection(text, label, part.get("NlmCategory") or None))
    return tuple(sections)


_AUTHOR_PARTS = ("Author", "LastName", "ForeName", "Initials", "Affiliation", "CollectiveName")


def _authors(author_list: etree._Element) -> tuple[Author, ...]:
    """The hottest loop of the parser (several authors a record): one pass over the list's
    subtree, filtered in C, instead of a visit to every child of every author. The three
    name parts, the most frequent elements, are tested first."""
    authors = []
    last = fore = initials = collective = None
    affiliations: list[str] = []
    valid = False  # an Author is open and not marked ValidYN="N"
    for element in author_list.iter(_AUTHOR_PARTS):
        tag = element.tag
        if tag == "LastName":
            text = element.text
            last = (text.strip() or None) if text else None
        elif tag == "ForeName":
            text = element.text
            fore = (text.strip() or None) if text else None
        elif tag == "Initials":
            text = element.text
            initials = (text.strip() or None) if text else None
        elif tag == "Author":
            if valid:
                authors.append(Author(last, fore, initials, collective, tuple(affiliations)))
            valid = element.get("ValidYN") != "N"
            last = fore = initials = collective = None
            affiliations = []
        elif tag == "Affiliation":
            if affiliation := _text(element):
                affiliations.append(affiliation)
        else:  # CollectiveName
            collective = _text(element) or None
    if valid:
        authors.append(Author(last, fore, initials, collective, tuple(affiliations)))
    return tuple(authors)


_MESH_PARTS = ("DescriptorName", "QualifierName")


def _mesh_headings(heading_list: etree._Element) -> tuple[MeshHeading, ...]:
    """A MeshHeadingList; baseline records have a dozen headings (a third of their parse
    time). Like ``_authors``, one pass over the list's subtree filtered in C."""
    headings = []
    descriptor: tuple[str, bool, str | None] | None = None
    qualifiers: list[MeshQualifier] = []
    for element in heading_list.iter(_MESH_PARTS):
        text = element.text
        name = text.strip() if text else ""
        major = element.get("MajorTopicYN") == "Y"
        if element.tag == "DescriptorName":
            if descriptor is not None:
                headings.append(MeshHeading(*descriptor, tuple(qualifiers)))
                qualifiers = []
            descriptor = (name, major, element.get("UI"))
        elif descriptor is not None:
            qualifiers.append(MeshQualifier(name, major))
    if descriptor is not None:
        headings.append(MeshHeading(*descriptor, tuple(qualifiers)))
    if len(headings) != len(heading_list):
        raise _Malformed("MeshHeading without exactly one DescriptorName")
    return tuple(headings)


def _comment_correction(item: etree._Element) -> CommentCorrection:
    pmid = source = None
    for child in item:
        if child.tag == "PMID":
            pmid = _pcdata(child)
        elif child.tag == "RefSource":
            source = _pcdata(child)
    return CommentCorrection(item.get("RefType", ""), pmid, source)


def _history(history: etree._Element) -> tuple[tuple[str, dt.date], ...]:
    dates = []
    for date in history:
        if status := date.get("PubStatus"):
            dates.append((status, _full_date(date)))
    return tuple(dates)


# --- dates -------------------------------------------------------------------------------


_DATES: dict[tuple[str | None, str | None, str | None], dt.date] = {}
_DATES_MAX = 4096  # distinct (Year, Month, Day) texts remembered; a file has a few hundred


def _full_date(element: etree._Element) -> dt.date:
    """A Year, Month, Day element (DateRevised, ArticleDate, PubMedPubDate) -> date.

    Dates repeat a lot (a record has six or more, a file a few hundred distinct ones), so
    each distinct text is converted once."""
    try:
        year, month, day = element[0], element[1], element[2]
        if year.tag != "Year" or month.tag != "Month" or day.tag != "Day":
            raise ValueError("not Year, Month, Day")
        key = (year.text, month.text, day.text)
        date = _DATES.get(key)
        if date is None:
            date = dt.date(int(key[0]), _month(key[1]), int(key[2]))  # type: ignore[arg-type]
            if len(_DATES) >= _DATES_MAX:
                _DATES.clear()
            _DATES[key] = date
        return date
    except (IndexError, TypeError, ValueError) as e:
        what = element.tag + (f" {element.get('PubStatus')}" if element.get("PubStatus") else "")
        parts = "-".join(str(c.text).strip() for c in list(element)[:3])
        raise _Malformed(f"{what}: cannot read date {parts!r}") from e


def _partial_date(pub_date: etree._Element) -> PartialDate:
    """PubDate: Year[, Month[, Day]] | Year, Season | MedlineDate ("2013 Jan-Mar")."""
    year = month = day = season = None
    for child in pub_date:
        tag = child.tag
        if tag == "MedlineDate":
            return _medline_date(_text(child))
        if tag == "Year":
            year = _text(child)
        elif tag == "Month":
            month = _text(child)
        elif tag == "Day":
            day = _text(child)
        elif tag == "Season":
            season = _text(child)
    if not year:
        return PartialDate()
    try:
        y = _int(year)
        m = _month(month) if month else None
        d = _int(day) if day and m else None
        dt.date(y, m or 1, d or 1)  # checks the ranges
    except (TypeError, ValueError) as e:
        raise _Malformed(f"PubDate: cannot read date {year} {month or ''} {day or ''}") from e
    return PartialDate(y, m, d, f"{year} {season}" if season else None)


def _medline_date(text: str) -> PartialDate:
    """Free text: "2013 Jan-Mar", "2012 Dec-2013 Jan", "1979-1980", "2021 3rd Quarter",
    "2000 Spring". The year and, when the text names one, the first month."""
    words = text.replace("-", " ").split()
    year = next((int(w) for w in words if len(w) == 4 and w.isascii() and w.isdigit()), None)
    month = None
    for word in words:
        key = word.lower().rstrip(".,")
        if key in _MONTHS:
            month = _MONTHS[key]
            break
        if key in _QUARTERS:
            month = _QUARTERS[key]
            break
    return PartialDate(year, month if year else None, None, text or None)


def _int(text: str | None) -> int:
    if text is None:
        raise ValueError("missing")
    return int(text.strip())


def _month(text: str | None) -> int:
    """ "Feb", "February", "02" or "2" -> 2; dt.date checks the range."""
    if text is None:
        raise ValueError("missing month")
    if text.isdigit():
        return int(text)
    key = text.strip().lower()
    number = int(key) if key.isdigit() else _MONTHS.get(key)
    if number is None:
        raise ValueError(f"month {text!r}")
    return number
