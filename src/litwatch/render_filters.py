"""Jinja2 filters for litwatch's templates: pure functions from values to text.

Every filter is registered under the name in ``FILTERS``; user templates can use them all.
Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from litwatch.errors import ConfigError
from litwatch.records import Author, Journal, Paper, PartialDate

INLINE_TAGS = frozenset({"i", "b", "sup", "sub", "u"})
TITLE_LIMIT = 1000  # characters; real PubMed titles stay well under 600
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Characters XML 1.0 forbids (lone surrogates included), and the controls it allows but
# HTML calls parse errors and terminals may obey (DEL, C1 such as U+009B CSI; NEL, U+0085,
# is a line break and stays for the whitespace rules). Everything else is kept.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")
_TAG_SPLIT = re.compile(r"(<[^<>]*>)")
_INLINE_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z]+)\s*>")
_LAST_WORD_END = re.compile(r"(.*\S)\s", re.S)  # greedy: up to the last whitespace
_CONCLUSION = re.compile(r"conclusion|interpretation|implication", re.I)


# --- text filters --------------------------------------------------------------------


def xml_text(value: Any) -> Any:
    """Strip XML-invalid characters from a string (Markup stays Markup); leave others."""
    if isinstance(value, Markup):
        return Markup(_XML_INVALID.sub("", value))
    if isinstance(value, str):
        return _XML_INVALID.sub("", value)
    return value


def oneline(value: str | None) -> str:
    """Whitespace runs (CR, LF, tabs) collapsed to one space, ends stripped."""
    return " ".join(xml_text(value or "").split())


def sanitize_inline_html(value: str | None, limit: int | None = None) -> str:
    """PubMed's ``title_html`` made safe again, whatever it holds: only ``<i> <b> <sup>
    <sub> <u>`` (no attributes) survive as tags, balanced; anything else — other tags,
    stray ``<`` or ``&`` — is escaped as text. Entities are normalised. With ``limit``,
    the text is cut after about that many characters ("…"), tags still closed."""
    out: list[str] = []
    open_tags: list[str] = []
    budget = limit
    for part in _TAG_SPLIT.split(xml_text(value or "")):
        if not part:
            continue
        tag = _INLINE_TAG.fullmatch(part)
        name = tag.group(2).lower() if tag else ""
        if tag and name in INLINE_TAGS:
            if not tag.group(1):
                open_tags.append(name)
                out.append(f"<{name}>")
            elif name in open_tags:
                while open_tags:
                    closing = open_tags.pop()
                    out.append(f"</{closing}>")
                    if closing == name:
                        break
            continue  # a closing tag that closes nothing is dropped
        text = xml_text(html.unescape(part))
        if budget is not None and len(text) > budget:
            out.append(html.escape(shorten_raw(text, budget), quote=False))
            break
        if budget is not None:
            budget -= len(text)
        out.append(html.escape(text, quote=False))
    out.extend(f"</{name}>" for name in reversed(open_tags))
    return "".join(out)


def shorten_raw(text: str, length: int) -> str:
    """``text`` cut to at most ``length`` characters at a word boundary, plus "…"."""
    words = _LAST_WORD_END.match(text[: length + 1])
    cut = words.group(1) if words else text[:length]
    return cut.rstrip(" ,;:.-–—") + "…"


def inline_html(value: str | None, limit: int | None = TITLE_LIMIT) -> Markup:
    """``title_html`` for an HTML template: sanitised, on one line, marked safe."""
    return Markup(" ".join(sanitize_inline_html(value, limit).split()))


def inline_html_source(value: str | None, limit: int | None = TITLE_LIMIT) -> str:
    """``title_html`` as a plain string of HTML, for XML (Atom ``type="html"``) where
    autoescape must escape it once more."""
    return str(inline_html(value, limit))


def html_title(paper: Paper) -> Markup:
    """A paper's title as safe HTML: ``title_html`` sanitised; the vernacular title or
    "[No title]" when PubMed has none."""
    if oneline(paper.title_html):
        return inline_html(paper.title_html)
    return Markup(html.escape(plain_title(paper), quote=False))


def html_title_source(paper: Paper) -> str:
    """``html_title`` as a plain string, for Atom ``<title type="html">``."""
    return str(html_title(paper))


def plain_title(paper: Paper) -> str:
    """A paper's title as plain text on one line (vernacular title, "[No title]")."""
    title = oneline(paper.title) or oneline(paper.vernacular_title) or "[No title]"
    return shorten(title, TITLE_LIMIT)


def wrap(value: str | None, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Plain text wrapped at ``width``; paragraphs (blank lines) kept; words never split."""
    paragraphs = re.split(r"\n\s*\n", xml_text(value or "").replace("\r", "\n"))
    lead = indent if first is None else first
    out = []
    for i, para in enumerate(p for p in paragraphs if p.strip()):
        out.append(
            textwrap.fill(
                " ".join(para.split()),
                width=width,
                initial_indent=lead if i == 0 else indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n\n".join(out)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 paper``, ``2 papers``."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


# --- paper filters -------------------------------------------------------------------


def author_names(authors: Iterable[Author], limit: int | None = None) -> list[str]:
    names = [oneline(a.display_name) for a in authors]
    names = [n for n in names if n]
    return names if limit is None else names[:limit]


def authors_short(authors: Sequence[Author], limit: int = 3) -> str:
    """ "Smith J, Doe A, Lee K, et al." — the first ``limit`` authors."""
    names = author_names(authors)
    shown = ", ".join(names[:limit])
    return f"{shown}, et al." if len(names) > limit else shown


def journal_name(journal: Journal) -> str:
    return oneline(journal.iso_abbreviation or journal.title)


def pubdate(value: PartialDate) -> str:
    """ "2021 Jun 5", "2021 May-Jun" (a MedlineDate as given), "2021", or ""."""
    if value.text:
        return oneline(value.text)
    if value.year is None:
        return ""
    parts = [str(value.year)]
    if value.month and 1 <= value.month <= 12:
        parts.append(MONTHS[value.month - 1])
        if value.day:
            parts.append(str(value.day))
    return " ".join(parts)


def citation(paper: Paper) -> str:
    """PubMed's style: "Eur J Drug Metab Pharmacokinet. 2021 May;46(3):459-463."."""
    j = paper.journal
    where = ""
    if j.volume:
        where = oneline(j.volume)
    if j.issue:
        where += f"({oneline(j.issue)})"
    if j.pages:
        where += f":{oneline(j.pages)}"
    when = pubdate(paper.published)
    text = "".join(
        (
            f"{journal_name(j)}. " if journal_name(j) else "",
            when,
            f";{where}" if when and where else where,
        )
    ).strip()
    return text if not text or text.endswith(".") else text + "."


def excerpt(paper: Paper, length: int = 300) -> str:
    """The CONCLUSIONS of a structured abstract ("Conclusions: ..."), else the start of the
    abstract; at most about ``length`` characters, cut at a word boundary."""
    sections = [s for s in paper.abstract if oneline(s.text)]
    conclusion = next((s for s in sections if (s.category or "").upper() == "CONCLUSIONS"), None)
    if conclusion is None and len(sections) > 1:
        conclusion = next((s for s in sections if _CONCLUSION.search(s.label or "")), None)
    if conclusion is not None:
        return "Conclusions: " + shorten(conclusion.text, length)
    if len(sections) == 1:
        return shorten(sections[0].text, length)
    return shorten(
        " ".join(f"{s.label}: {s.text}" if s.label else s.text for s in sections), length
    )


def shorten(text: str, length: int = 300) -> str:
    """On one line, and at most about ``length`` characters, cut at a word ("…")."""
    text = oneline(text)
    return text if len(text) <= length else shorten_raw(text, length)


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid.strip(), safe='')}/"


def doi_url(doi: str) -> str:
    return "https://doi.org/" + quote(doi.strip(), safe="/:;()[]-._~!$'*+,=@")


def pmc_url(pmcid: str) -> str:
    return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{quote(pmcid.strip(), safe='')}/"


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


def paper_links(paper: Paper) -> tuple[Link, ...]:
    """PubMed, DOI and free full text in PMC, as far as the paper has the identifiers."""
    links = []
    if paper.pmid:
        links.append(Link("PubMed", pubmed_url(paper.pmid)))
    if paper.doi:
        links.append(Link("DOI", doi_url(paper.doi)))
    if paper.pmcid:
        links.append(Link("Free full text (PMC)", pmc_url(paper.pmcid)))
    return tuple(links)


# --- time filters --------------------------------------------------------------------


def zone(tz: dt.tzinfo | str | None, key: str = "timezone") -> dt.tzinfo:
    if tz is None:
        return dt.UTC
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {tz!r}", key=key) from exc
    return tz


def aware(value: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC (never as the machine's local time)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def format_date(value: dt.date | dt.datetime | None, tz: dt.tzinfo | str | None = None) -> str:
    """ "7 Jun 2021" (in ``tz`` for a datetime)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = aware(value).astimezone(zone(tz))
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def format_datetime(value: dt.datetime | None, tz: dt.tzinfo | str | None = None) -> str:
    """ "7 Jun 2021, 07:00 UTC" in ``tz``."""
    if value is None:
        return ""
    local = aware(value).astimezone(zone(tz))
    return f"{format_date(local)}, {local:%H:%M} {local.tzname()}"


def rfc3339(value: dt.datetime) -> str:
    """ "2021-06-07T07:00:00Z" (Atom)."""
    return aware(value).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(value: dt.datetime) -> str:
    """ "Mon, 07 Jun 2021 07:00:00 GMT" (RSS), locale-independent."""
    return email.utils.format_datetime(aware(value).astimezone(dt.UTC), usegmt=True)


FILTERS = {
    "xml_text": xml_text,
    "oneline": oneline,
    "inline_html": inline_html,
    "inline_html_source": inline_html_source,
    "html_title": html_title,
    "html_title_source": html_title_source,
    "plain_title": plain_title,
    "wrap": wrap,
    "plural": plural,
    "author_names": author_names,
    "authors_short": authors_short,
    "journal_name": journal_name,
    "pubdate": pubdate,
    "citation": citation,
    "excerpt": excerpt,
    "shorten": shorten,
    "pubmed_url": pubmed_url,
    "doi_url": doi_url,
    "pmc_url": pmc_url,
    "links": paper_links,
    "date": format_date,
    "datetime": format_datetime,
    "rfc3339": rfc3339,
    "rfc822": rfc822,
}
