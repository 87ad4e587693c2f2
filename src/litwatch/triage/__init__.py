"""Triage: what kind of evidence a paper is, which sections of an article it bears on, and
how to order papers within a section. Pure functions over ``Paper`` values, no I/O.

- ``classify_evidence(paper) -> Evidence`` (``triage.evidence``, tables in ``triage.cues``)
- ``match_sections(paper, article) -> tuple[SectionMatch, ...]`` (``triage.matching``;
  ``litwatch.articles`` reads article files into ``Article`` values)
- ``score_paper(paper, evidence, sections, now) -> Score`` (``triage.ranking``)
"""

from litwatch.triage.evidence import LABELS, STRENGTH, SUBJECTS, Evidence, classify_evidence
from litwatch.triage.matching import (
    OTHER,
    Article,
    Section,
    SectionMatch,
    Term,
    TermHit,
    highlight_spans,
    match_sections,
    primary_section,
)
from litwatch.triage.ranking import Score, ScorePart, ranked, score_paper

__all__ = [
    "LABELS",
    "OTHER",
    "STRENGTH",
    "SUBJECTS",
    "Article",
    "Evidence",
    "Score",
    "ScorePart",
    "Section",
    "SectionMatch",
    "Term",
    "TermHit",
    "classify_evidence",
    "highlight_spans",
    "match_sections",
    "primary_section",
    "ranked",
    "score_paper",
]
