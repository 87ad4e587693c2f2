"""The values that flow between pipeline stages: immutable, no I/O.

A ``Paper`` and its parts (authors, MeSH headings, abstract sections, journal, dates) are
``NamedTuple``s: the parser builds about thirty of them per record, and a frozen dataclass
costs two to four times as much to build (``python -m benchmarks --only parsing``). Change
them with ``value._replace(...)``. Everything else is a frozen dataclass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


class Author(NamedTuple):
    """One entry of an AuthorList: a person or a collective (group) name."""

    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    collective_name: str | None = None
    affiliations: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        """ "Smith JA" for a person, the group's name for a collective."""
        if self.collective_name:
            return self.collective_name
        return " ".join(p for p in (self.last_name, self.initials or self.fore_name) if p)


class AbstractSection(NamedTuple):
    """One AbstractText: a structured abstract has several, labelled ones."""

    text: str
    label: str | None = None
    category: str | None = None  # NlmCategory: BACKGROUND, METHODS, RESULTS, CONCLUSIONS, ...


class MeshQualifier(NamedTuple):
    name: str
    major: bool = False


class MeshHeading(NamedTuple):
    descriptor: str
    major: bool = False
    ui: str | None = None
    qualifiers: tuple[MeshQualifier, ...] = ()


class Journal(NamedTuple):
    title: str | None = None
    iso_abbreviation: str | None = None
    issn: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None


class PartialDate(NamedTuple):
    """A publication date as PubMed gives it: year, year-month, a full date, or free
    text (``MedlineDate`` such as "2013 Jan-Mar", from which year and month are read)."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    text: str | None = None

    def iso(self) -> str | None:
        """ "2021-04-13", "2021-04" or "2021": as precise as the record is."""
        if self.year is None:
            return None
        parts = [f"{self.year:04d}"]
        if self.month:
            parts.append(f"{self.month:02d}")
            if self.day:
                parts.append(f"{self.day:02d}")
        return "-".join(parts)


class CommentCorrection(NamedTuple):
    """A link from CommentsCorrectionsList: RetractionIn, ErratumIn, CommentOn, ..."""

    ref_type: str
    pmid: str | None = None
    source: str | None = None


class Paper(NamedTuple):
    """One PubMed record (article or book), as litwatch keeps it."""

    pmid: str
    title: str  # plain text, inline markup stripped
    title_html: str  # safe HTML: text escaped, only <i> <b> <sup> <sub> <u> kept
    pmid_version: int = 1
    doi: str | None = None  # normalised: lower case, no resolver prefix
    pmcid: str | None = None  # "PMC1234567"
    vernacular_title: str | None = None
    abstract: tuple[AbstractSection, ...] = ()
    authors: tuple[Author, ...] = ()
    journal: Journal = Journal()
    published: PartialDate = PartialDate()
    electronic_date: dt.date | None = None
    history: tuple[tuple[str, dt.date], ...] = ()  # (PubStatus, date), e.g. ("entrez", ...)
    publication_types: tuple[str, ...] = ()
    mesh_headings: tuple[MeshHeading, ...] = ()
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    comments_corrections: tuple[CommentCorrection, ...] = ()
    kind: str = "article"  # "article" (PubmedArticle) or "book" (PubmedBookArticle)
    status: str | None = None  # MedlineCitation/@Status, PublicationStatus for books
    date_revised: dt.date | None = None

    def history_date(self, status: str) -> dt.date | None:
        """The PubMed history date with this PubStatus ("pubmed", "entrez", ...)."""
        for name, day in self.history:
            if name == status:
                return day
        return None

    @property
    def abstract_text(self) -> str:
        return "\n".join(f"{s.label}: {s.text}" if s.label else s.text for s in self.abstract)


@dataclass(frozen=True, slots=True)
class DeletedCitations:
    """A DeleteCitation element: PMIDs that PubMed has withdrawn."""

    pmids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """A record the parser could not read; the rest of its batch is kept."""

    reason: str
    pmid: str | None = None


@dataclass(frozen=True, slots=True)
class Watch:
    """One saved PubMed query, from one file in ``queries/``."""

    name: str  # the file's stem; stable, used as the key in the store
    title: str
    term: str
    source: Path
    schedule: str = "0 6 * * *"  # cron expression, for the daemon
    first_run: str = "seed"  # "seed": backlog is known, not new | "collect": backlog is new
    backlog_since: dt.date | None = None  # how far back the first run looks
    enabled: bool = True
    article: str | None = None  # the article file (queries/articles/NAME.toml) it serves
    kind: str = "search"  # "search": esearch on the term | "citedin": papers citing ``references``
    references: tuple[str, ...] = ()  # PMIDs, for kind "citedin"


@dataclass(frozen=True, slots=True)
class WatchResult:
    """What one run did for one watch."""

    watch: str
    window: tuple[dt.date, dt.date] | None = None
    found: int = 0  # PMIDs esearch returned for the window
    new: int = 0  # PMIDs this watch had not matched before
    fetched: int = 0  # records downloaded for this watch's new PMIDs
    pending: int = 0  # new PMIDs whose records PubMed did not return yet
    updated: int = 0  # stored papers PubMed changed in a way a writer cares about
    seeded: bool = False
    query_translation: str | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ReferenceCheck:
    """What one run learnt about an article's own references."""

    article: str
    references: int
    fetched: int = 0
    updated: tuple[str, ...] = ()  # PMIDs of references with a new notice
    missing: tuple[str, ...] = ()  # PMIDs PubMed did not return
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: int
    now: dt.datetime
    started: dt.datetime
    finished: dt.datetime
    watches: tuple[WatchResult, ...] = ()
    malformed: tuple[MalformedRecord, ...] = ()
    references: tuple[ReferenceCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return all(w.ok for w in self.watches) and all(r.ok for r in self.references)


# --- delivery ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """One digest from ``[digests.NAME]`` in litwatch.toml."""

    name: str
    title: str
    watches: tuple[str, ...]
    recipients: tuple[str, ...]
    schedule: str = "0 7 * * 1"  # cron expression, in ``timezone``
    timezone: str = "UTC"
    max_papers: int = 50  # per email; the rest is summarised as "and N more"
    send_empty: bool = False
    intro: str | None = None
    unsubscribe: str | None = (
        None  # mailto: or https:// for List-Unsubscribe; default: mail the sender
    )


@dataclass(frozen=True, slots=True)
class TriageNote:
    """What a paper means for the article, with the reasons (see ``litwatch.triage``)."""

    evidence: str  # "randomized controlled trial", "animal study", "case report", ...
    subject: str | None = None  # "human" | "animal" | "in vitro"
    evidence_why: str = ""
    sections: tuple[str, ...] = ()  # titles of the article's sections it bears on, in order
    matched_terms: tuple[str, ...] = ()
    score: float = 0.0
    score_why: str = ""

    @property
    def label(self) -> str:
        return f"{self.evidence} ({self.subject})" if self.subject else self.evidence


@dataclass(frozen=True, slots=True)
class DigestItem:
    paper: Paper
    watches: tuple[str, ...]  # names of the watches that found it
    first_seen: dt.datetime
    triage: TriageNote | None = None


@dataclass(frozen=True, slots=True)
class WatchStatus:
    """The footer line of a digest: what was checked, and whether it could be."""

    name: str
    title: str
    term: str
    query_translation: str | None = None
    found: int = 0  # over the digest's period
    new: int = 0
    checked_until: dt.datetime | None = None  # the watch's watermark
    failing_since: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PaperUpdate:
    """A change to a paper a recipient already has (or the article cites): retracted,
    erratum, expression of concern, withdrawn, now in an issue, abstract added."""

    paper: Paper
    kind: str
    detail: str
    detected_at: dt.datetime
    reference: bool = False  # the paper is one the article cites
    serious: bool = False  # retraction, withdrawal, expression of concern: lead the digest


@dataclass(frozen=True, slots=True)
class Digest:
    """One issue of a subscription, the same for every recipient."""

    subscription: Subscription
    key: str  # unique per subscription and period, e.g. "weekly-kratom/2021-06-07T07:00"
    period_start: dt.datetime | None
    period_end: dt.datetime
    items: tuple[DigestItem, ...]
    more: int = 0  # papers beyond ``max_papers``, left to the next email / the feed
    watch_status: tuple[WatchStatus, ...] = ()
    feed_url: str | None = None
    updates: tuple[PaperUpdate, ...] = ()
    sections: tuple[str, ...] = ()  # the article's section titles, in order: group by these
