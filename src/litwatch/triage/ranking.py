"""The order of papers within a digest section: a transparent sum, never a filter.

    score = terms + evidence + human data + recency

- terms: the primary section's score (term matches weighted by where they matched),
  capped at ``TERMS_CAP`` so one paper that repeats every keyword cannot bury a trial;
- evidence: the label's strength (``litwatch.triage.evidence.STRENGTH``: meta-analysis 9
  … case report 3, animal study 2, in vitro 1, notices 0);
- human data: ``HUMAN_POINTS`` when the subject is human;
- recency: up to ``RECENCY_POINTS``, fading linearly to 0 over ``RECENCY_DAYS`` from the
  day PubMed first listed the paper (else its electronic or print publication date).

Every paper gets a score; ranking orders, caps elsewhere decide what fits in an email.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from litwatch.records import Paper
from litwatch.triage.evidence import Evidence
from litwatch.triage.matching import SectionMatch, primary_section

TERMS_CAP = 10.0
HUMAN_POINTS = 2.0
RECENCY_POINTS = 3.0
RECENCY_DAYS = 365

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScorePart:
    name: str  # "terms" | "evidence" | "human data" | "recency"
    points: float
    detail: str


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    parts: tuple[ScorePart, ...]
    section: str  # the primary section's name ("other" when none)
    pmid: str = ""

    def explain(self) -> str:
        """One line: ``score 17.5 = terms 8 (…) + evidence 3 (case report) + …``."""
        parts = " + ".join(f"{p.name} {p.points:g} ({p.detail})" for p in self.parts)
        return f"score {self.total:g} = {parts}"

    @property
    def sort_key(self) -> tuple[float, float, str]:
        """Highest score first; ties: stronger evidence, then PMID, so the order is stable."""
        evidence = next((p.points for p in self.parts if p.name == "evidence"), 0.0)
        return (-self.total, -evidence, self.pmid)


def score_paper(
    paper: Paper, evidence: Evidence, sections: tuple[SectionMatch, ...], now: dt.datetime
) -> Score:
    """The paper's score within its primary section, with every part explained."""
    primary = primary_section(sections)
    terms = min(primary.score, TERMS_CAP)
    if primary.is_other:
        terms_detail = "no section matched"
    else:
        capped = f", capped from {primary.score:g}" if primary.score > TERMS_CAP else ""
        shown = ", ".join(h.describe() for h in primary.terms[:4])
        more = f", +{len(primary.terms) - 4} more" if len(primary.terms) > 4 else ""
        terms_detail = f"{primary.name}: {shown}{more}{capped}"
    human = HUMAN_POINTS if evidence.subject == "human" else 0.0
    day = listed_on(paper)
    if day is None:
        recency, recency_detail = 0.0, "no date"
    else:
        age = max((now.date() - day).days, 0)
        recency = round(RECENCY_POINTS * max(0.0, 1 - age / RECENCY_DAYS), 1)
        recency_detail = f"{age} days old"
    parts = (
        ScorePart("terms", round(terms, 2), terms_detail),
        ScorePart("evidence", float(evidence.strength), evidence.label),
        ScorePart("human data", human, evidence.subject or "subject unknown"),
        ScorePart("recency", recency, recency_detail),
    )
    total = round(sum(p.points for p in parts), 2)
    return Score(total=total, parts=parts, section=primary.name, pmid=paper.pmid)


def listed_on(paper: Paper) -> dt.date | None:
    """When the paper appeared: PubMed's entrez date, else its electronic publication
    date, else its print date (first day of the month or year when that is all there is)."""
    for status in ("entrez", "pubmed"):
        if day := paper.history_date(status):
            return day
    if paper.electronic_date:
        return paper.electronic_date
    p = paper.published
    if p.year is None:
        return None
    return dt.date(p.year, p.month or 1, p.day or 1)


def ranked(items: Iterable[tuple[T, Score]]) -> list[T]:
    """Items ordered by their scores (``Score.sort_key``); nothing is left out."""
    return [item for item, _ in sorted(items, key=lambda pair: pair[1].sort_key)]
