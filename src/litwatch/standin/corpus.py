"""Records for the E-utilities stand-in: load PubMed XML, keep each record verbatim, index it.

Independent of `litwatch.parse` on purpose: the stand-in is the yardstick the real parser is
measured against, so it must not share its code. Extraction here is the minimum the query
language needs.

Dates (checked against NLM's documentation of the 2025 DTD, `att-PubStatus` for
`pubmed_250101.dtd`: "pubmed: PubMed Entry Date [edat]; medline: PubMed MeSH Date [mhda];
entrez: PubMed Create Date [crdt]", and NLM Technical Bulletin Nov-Dec 2008, "Create Date
displays in the XML format in the PubMedPubDate element with the PubStatus attribute
'entrez'"):

- crdt = `PubMedPubDate[@PubStatus="entrez"]`
- edat = `PubMedPubDate[@PubStatus="pubmed"]`
- mhda = `PubMedPubDate[@PubStatus="medline"]`
- pdat = `Journal/JournalIssue/PubDate` (first month / first day when partial)
- mdat = `MedlineCitation/DateRevised`
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

SEP = "\x00"  # between two values of one field: a phrase never matches across it

TEXT_FIELDS = ("ti", "ab", "ot", "ad", "mh", "sh", "pt", "nm", "au", "ta")
DATE_FIELDS = ("crdt", "edat", "pdat", "mdat", "mhda")
_PUBSTATUS_DATE = {"entrez": "crdt", "pubmed": "edat", "medline": "mhda"}
# Cited PMIDs; `//` because the DTD lets a ReferenceList hold nested ReferenceLists.
REF_PATH = 'PubmedData/ReferenceList//Reference/ArticleIdList/ArticleId[@IdType="pubmed"]'

_START_RE = re.compile(rb"<(PubmedArticle|PubmedBookArticle|DeleteCitation)[\s>]")
_WORD_RE = re.compile(r"[^\W_]+")
_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
LANGUAGES = {
    "eng": "english",
    "fre": "french",
    "ger": "german",
    "spa": "spanish",
    "ita": "italian",
    "jpn": "japanese",
    "chi": "chinese",
    "rus": "russian",
    "por": "portuguese",
    "dut": "dutch",
    "pol": "polish",
    "kor": "korean",
    "tur": "turkish",
    "per": "persian",
    "ara": "arabic",
    "cze": "czech",
    "swe": "swedish",
    "nor": "norwegian",
    "dan": "danish",
    "fin": "finnish",
    "gre": "greek",
    "heb": "hebrew",
    "hun": "hungarian",
}


def fold(text: str) -> str:
    """Lower case without diacritics (PubMed searches are accent-insensitive)."""
    text = text.lower()
    if text.isascii():
        return text
    return _COMBINING_RE.sub("", unicodedata.normalize("NFKD", text))


def tokenize(text: str) -> list[str]:
    """Words: case-, accent- and punctuation-insensitive; hyphens and slashes split."""
    return _WORD_RE.findall(fold(text))


def normalize_value(text: str) -> str:
    return " ".join(tokenize(text))


@dataclass(frozen=True, slots=True)
class Record:
    pmid: int
    version: int  # PMID Version: versioned citations carry 2, 3, ...
    xml: bytes  # the record exactly as it was in the source file
    texts: dict[str, str]  # text field -> tokens joined by " " (values by " SEP ")
    values: dict[str, frozenset[str]]  # value field -> normalized whole values
    dates: dict[str, int]  # date field -> date.toordinal()
    sort_title: str = ""
    sort_author: str = ""
    sort_journal: str = ""
    refs: tuple[int, ...] = ()  # PMIDs its ReferenceList cites, in order, without repeats


@dataclass(frozen=True, slots=True)
class Loaded:
    """What one PubMed XML document holds: records and DeleteCitation PMIDs, in order."""

    records: list[Record]
    deleted: list[int] = field(default_factory=list)


# --- extraction -------------------------------------------------------------------------


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()) if el is not None else ""


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default


def _month(text: str | None) -> int:
    text = (text or "").strip().lower()
    if text.isdigit():
        return min(max(int(text), 1), 12)
    return _MONTHS.get(text[:3], 1)  # a season or nothing: the first month


def _ymd(year: int, month: int = 1, day: int = 1) -> int | None:
    if not 1 <= year <= 9999:
        return None
    month = min(max(month, 1), 12)
    for d in (day, 28):
        try:
            return dt.date(year, month, max(d, 1)).toordinal()
        except ValueError:
            continue
    return None


def _date_el(el: etree._Element | None) -> int | None:
    if el is None:
        return None
    year = _int(el.findtext("Year"))
    if year:
        return _ymd(year, _month(el.findtext("Month")), _int(el.findtext("Day"), 1))
    medline = el.findtext("MedlineDate") or ""  # "2021 Jan-Feb", "2020-2021", "2021 Spring"
    m = re.search(r"(\d{4})(?:\s+([A-Za-z]+))?", medline)
    if not m:
        return None
    return _ymd(int(m.group(1)), _month(m.group(2)) if m.group(2) else 1)


def _joined(values: Iterable[str]) -> str:
    """Tokens joined by spaces, values joined by SEP: phrase search is a substring search."""
    parts = [" ".join(toks) for v in values if (toks := tokenize(v))]
    return f" {SEP} ".join(parts)


def extract(el: etree._Element, xml: bytes) -> Record | None:
    """One PubmedArticle / PubmedBookArticle element -> Record (None without a PMID)."""
    base = el.find("MedlineCitation")
    if base is None:
        base = el.find("BookDocument")
    if base is None:
        return None
    pmid_el = base.find("PMID")
    pmid = _int(pmid_el.text if pmid_el is not None else None)
    if pmid <= 0:
        return None
    art = base.find("Article")
    if art is None:
        art = base
    title = _text(art.find("ArticleTitle")) or _text(art.find("Book/BookTitle"))
    abstract = [_text(t) for t in art.iterfind("Abstract/AbstractText")]
    keywords = [_text(k) for k in base.iterfind("KeywordList/Keyword")]
    pubtypes = [_text(p) for p in art.iterfind("PublicationTypeList/PublicationType")]
    languages = [(_text(x)).strip().lower() for x in art.iterfind("Language")]
    affiliations = [_text(a) for a in art.iterfind("AuthorList/Author/AffiliationInfo/Affiliation")]
    substances = [_text(c) for c in base.iterfind("ChemicalList/Chemical/NameOfSubstance")]
    suppl = [_text(s) for s in base.iterfind("SupplMeshList/SupplMeshName")]

    descriptors: list[str] = []
    qualifiers: list[str] = []
    mh_values: set[str] = set()
    majr_values: set[str] = set()
    for heading in base.iterfind("MeshHeadingList/MeshHeading"):
        desc_el = heading.find("DescriptorName")
        desc = normalize_value(_text(desc_el))
        if not desc:
            continue
        descriptors.append(_text(desc_el))
        mh_values.add(desc)
        major = desc_el.get("MajorTopicYN") == "Y"
        for q in heading.iterfind("QualifierName"):
            qual = normalize_value(_text(q))
            qualifiers.append(_text(q))
            mh_values.add(f"{desc} {qual}")
            if q.get("MajorTopicYN") == "Y":
                major = True
                majr_values.add(f"{desc} {qual}")
        if major:
            majr_values.add(desc)
    mh_values.update(normalize_value(s) for s in suppl)

    authors: set[str] = set()
    author_names: list[str] = []
    first_author = ""
    for a in art.iterfind("AuthorList/Author"):
        last = a.findtext("LastName") or ""
        if last:
            initials = a.findtext("Initials") or ""
            fore = a.findtext("ForeName") or ""
            authors.add(normalize_value(f"{last} {initials}"))
            if fore:
                authors.add(normalize_value(f"{last} {fore}"))
            author_names.append(f"{last} {initials} {fore}")
            first_author = first_author or f"{last} {initials}"
        elif (collective := _text(a.find("CollectiveName"))).strip():
            authors.add(normalize_value(collective))
            author_names.append(collective)
            first_author = first_author or collective
    authors.discard("")

    journal = art.find("Journal")
    journal_names = [
        _text(journal.find("Title")) if journal is not None else "",
        _text(journal.find("ISOAbbreviation")) if journal is not None else "",
        base.findtext("MedlineJournalInfo/MedlineTA") or "",
    ]
    journal_names = [j for j in journal_names if j.strip()]

    ids = {normalize_value(_text(i)) for i in el.iterfind("PubmedData/ArticleIdList/ArticleId")}
    ids.update(normalize_value(_text(i)) for i in art.iterfind("ELocationID"))
    pmc = any(i.get("IdType") == "pmc" for i in el.iterfind("PubmedData/ArticleIdList/ArticleId"))

    dates: dict[str, int] = {}
    for d in el.iterfind("*/History/PubMedPubDate"):
        name = _PUBSTATUS_DATE.get(d.get("PubStatus", ""))
        if name and name not in dates and (value := _date_el(d)) is not None:
            dates[name] = value
    pubdate = _date_el(art.find("Journal/JournalIssue/PubDate"))
    if pubdate is None:
        pubdate = _date_el(base.find("Book/PubDate"))
    if pubdate is not None:
        dates["pdat"] = pubdate
    revised = _date_el(base.find("DateRevised"))
    if revised is not None:
        dates["mdat"] = revised

    refs: dict[int, None] = {}  # what elink's pubmed_pubmed_refs / _citedin are built from
    for ref in el.iterfind(REF_PATH):
        if (cited := _int(ref.text)) > 0:
            refs.setdefault(cited)

    languages_values = set(languages) | {LANGUAGES[x] for x in languages if x in LANGUAGES}
    filters = set()
    if any(a.strip() for a in abstract):
        filters.add("hasabstract")
    if pmc:
        filters.update({"free full text", "pubmed pmc", "pmc"})
    if base.get("Status") == "MEDLINE":
        filters.add("medline")

    return Record(
        pmid=pmid,
        version=_int(pmid_el.get("Version"), 1),
        xml=xml,
        texts={
            "ti": _joined([title]),
            "ab": _joined(abstract),
            "ot": _joined(keywords),
            "ad": _joined(affiliations),
            "mh": _joined(descriptors + suppl),
            "sh": _joined(qualifiers),
            "pt": _joined(pubtypes),
            "nm": _joined(substances + suppl),
            "au": _joined(author_names),
            "ta": _joined(journal_names),
        },
        values={
            "mh": frozenset(mh_values),
            "majr": frozenset(majr_values),
            "sh": frozenset(normalize_value(q) for q in qualifiers),
            "pt": frozenset(normalize_value(p) for p in pubtypes),
            "la": frozenset(languages_values),
            "au": frozenset(authors),
            "ta": frozenset(normalize_value(j) for j in journal_names),
            "nm": frozenset(normalize_value(s) for s in substances + suppl),
            "aid": frozenset(ids - {""}),
            "sb": frozenset(filters),
        },
        dates=dates,
        sort_title=fold(title),
        sort_author=fold(first_author),
        sort_journal=fold(journal_names[-1] if journal_names else ""),
        refs=tuple(refs),
    )


_PARSER = etree.XMLParser(resolve_entities=False, huge_tree=True, no_network=True)
_RECOVER = etree.XMLParser(resolve_entities=False, huge_tree=True, no_network=True, recover=True)


def parse_chunk(chunk: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(chunk, _PARSER)
    except etree.XMLSyntaxError:
        return etree.fromstring(chunk, _RECOVER)


def load_bytes(data: bytes) -> Loaded:
    """Split a PubmedArticleSet (or bare record fragments) into verbatim records."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    records: list[Record] = []
    deleted: list[int] = []
    pos = 0
    while m := _START_RE.search(data, pos):
        name = m.group(1)
        end = data.find(b"</" + name + b">", m.end())
        if end < 0:
            break
        pos = end + len(name) + 3
        chunk = data[m.start() : pos]
        el = parse_chunk(chunk)
        if el is None:
            continue
        if name == b"DeleteCitation":
            for p in el.iterfind("PMID"):
                if (pmid := _int(p.text)) > 0:
                    deleted.append(pmid)
            continue
        record = extract(el, chunk)
        if record is not None:
            records.append(record)
    return Loaded(records, deleted)


def load_path(path: Path) -> Loaded:
    return load_bytes(Path(path).read_bytes())


# --- index --------------------------------------------------------------------------------


class Index:
    """Inverted index over a fixed set of records (immutable once built)."""

    def __init__(self, records: Iterable[Record]):
        self.records: dict[int, Record] = {}
        self.versions: dict[tuple[int, int], Record] = {}
        self._vocab: dict[tuple[str, str], list[str]] = {}
        self._citers: dict[int, frozenset[int]] | None = None
        for r in records:
            self.versions[(r.pmid, r.version)] = r
            latest = self.records.get(r.pmid)
            if latest is None or latest.version <= r.version:  # the latest version is current
                self.records[r.pmid] = r
        self.text: dict[str, dict[str, set[int]]] = {f: {} for f in TEXT_FIELDS}
        self.values: dict[str, dict[str, set[int]]] = {}
        self.dates: dict[str, list[tuple[int, int]]] = {f: [] for f in DATE_FIELDS}
        for r in self.records.values():
            for f, joined in r.texts.items():
                postings = self.text[f]
                for t in set(joined.split()):
                    postings.setdefault(t, set()).add(r.pmid)
            for f, vals in r.values.items():
                postings = self.values.setdefault(f, {})
                for v in vals:
                    postings.setdefault(v, set()).add(r.pmid)
            for f, ordinal in r.dates.items():
                self.dates[f].append((ordinal, r.pmid))
        for postings in self.text.values():
            postings.pop(SEP, None)
        for entries in self.dates.values():
            entries.sort()

    def __len__(self) -> int:
        return len(self.records)

    def vocabulary(self, kind: str, part: str) -> list[str]:
        """The sorted words ("t") or values ("v") of a field, for wildcard expansion."""
        vocab = self._vocab.get((kind, part))
        if vocab is None:  # built once per index; two threads may both build it, harmlessly
            postings = self.text[part] if kind == "t" else self.values.get(part, {})
            vocab = self._vocab[(kind, part)] = sorted(postings)
        return vocab

    def citers(self) -> dict[int, frozenset[int]]:
        """Cited PMID -> the PMIDs of this index's current records that cite it (elink's
        pubmed_pubmed_citedin). Built on first use, once per index; two threads may both
        build it, harmlessly."""
        citers = self._citers
        if citers is None:
            building: dict[int, set[int]] = {}
            for r in self.records.values():
                for cited in r.refs:
                    building.setdefault(cited, set()).add(r.pmid)
            citers = self._citers = {k: frozenset(v) for k, v in building.items()}
        return citers


@dataclass(frozen=True)
class Corpus:
    """The records of one or more files, after DeleteCitation is applied."""

    index: Index
    sources: tuple[Path, ...]
    deleted: frozenset[int]


_CACHE: dict[tuple, Corpus] = {}
_CACHE_LOCK = threading.Lock()


def default_records_path() -> Path:
    return Path(__file__).resolve().parent / "data" / "pubmed-slice.xml.gz"


def load_corpus(paths: Sequence[Path]) -> Corpus:
    """Parse files once per process (keyed by path, size and mtime) and share the result."""
    resolved = tuple(Path(p).resolve() for p in paths)
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in resolved)
    with _CACHE_LOCK:
        corpus = _CACHE.get(key)
        if corpus is None:
            corpus = _CACHE[key] = _build(resolved)
        return corpus


def _build(paths: Sequence[Path]) -> Corpus:
    merged: dict[tuple[int, int], Record] = {}
    deleted: set[int] = set()
    for path in paths:
        loaded = load_path(path)
        for r in loaded.records:
            merged[(r.pmid, r.version)] = r
            deleted.discard(r.pmid)
        for pmid in loaded.deleted:
            for key in [k for k in merged if k[0] == pmid]:
                del merged[key]
            deleted.add(pmid)
    return Corpus(Index(merged.values()), tuple(paths), frozenset(deleted))
