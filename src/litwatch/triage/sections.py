"""Which sections of an article a paper bears on, which terms said so, and a transparent
rank within a section. Pure functions over Paper values."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from litwatch.records import Paper
from litwatch.triage.evidence import Evidence

OTHER = "Other"
# Where a term matched, and what that is worth: a title names what a paper is about.
WEIGHTS = {"title": 3.0, "mesh": 2.0, "keywords": 2.0, "abstract": 1.0}


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    terms: tuple[str, ...] = ()  # words or phrases; a trailing * matches any ending
    mesh: tuple[str, ...] = ()  # MeSH descriptors, matched whole, any case


@dataclass(frozen=True, slots=True)
class SectionMatch:
    section: Section
    terms: tuple[tuple[str, str], ...]  # (term, place) pairs that matched
    score: float

    @property
    def matched_terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(term for term, _ in self.terms))


@cache
def term_pattern(term: str) -> re.Pattern[str]:
    """ "liver toxic*" -> words "liver" then "toxic..." with any spacing or hyphen."""
    words = [re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else "") for w in term.split()]
    return re.compile(r"(?<!\w)" + r"[\s\-]+".join(words) + r"(?!\w)", re.IGNORECASE)


def texts(paper: Paper) -> dict[str, str]:
    return {
        "title": paper.title or paper.vernacular_title or "",
        "abstract": " ".join(s.text for s in paper.abstract),
        "keywords": " ; ".join(paper.keywords),
    }


def match_section(paper: Paper, section: Section, places: dict[str, str]) -> SectionMatch | None:
    found: list[tuple[str, str]] = []
    for term in section.terms:
        pattern = term_pattern(term)
        # each term counts once, where it weighs most (the places are in that order)
        place = next(
            (p for p in ("title", "keywords", "abstract") if pattern.search(places[p])), None
        )
        if place:
            found.append((term, place))
    descriptors = {m.descriptor.casefold() for m in paper.mesh_headings}
    for heading in section.mesh:
        if heading.casefold() in descriptors:
            found.append((heading, "mesh"))
    if not found:
        return None
    return SectionMatch(section, tuple(found), sum(WEIGHTS[place] for _, place in found))


def match_sections(paper: Paper, sections: tuple[Section, ...]) -> tuple[SectionMatch, ...]:
    """Every section the paper bears on, in the article's order."""
    places = texts(paper)
    return tuple(m for s in sections if (m := match_section(paper, s, places)))


@dataclass(frozen=True, slots=True)
class Rank:
    terms: float
    evidence: float
    human: float
    recency: float

    @property
    def total(self) -> float:
        return round(self.terms + self.evidence + self.human + self.recency, 2)

    def explain(self) -> str:
        return (
            f"score {self.total:g} = terms {self.terms:g} + evidence {self.evidence:g}"
            f" + human data {self.human:g} + recency {self.recency:g}"
        )


def rank(
    paper: Paper, evidence: Evidence, matches: tuple[SectionMatch, ...], now: dt.datetime
) -> Rank:
    """Term matches weighted by where they matched, evidence strength, human data, and
    recency (a bonus that fades over a year of publication). Never drops a paper."""
    terms = max((m.score for m in matches), default=0.0)
    human = 2.0 if evidence.subject == "human" else 0.0
    published = paper.electronic_date or _first_day(paper)
    age = (now.date() - published).days if published else 365
    recency = round(max(0.0, 1.0 - max(age, 0) / 365) * 2, 2)
    return Rank(terms=terms, evidence=float(evidence.strength), human=human, recency=recency)


def _first_day(paper: Paper) -> dt.date | None:
    d = paper.published
    if d.year is None:
        return None
    return dt.date(d.year, d.month or 1, d.day or 1)
