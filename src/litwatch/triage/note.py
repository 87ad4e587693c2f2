"""One TriageNote per paper: its evidence label, and — when its watch serves an article —
the article's sections it bears on (the primary one first), the terms that said so, and
its rank with every part explained."""

from __future__ import annotations

import datetime as dt

from litwatch.records import Paper, TriageNote
from litwatch.triage.evidence import classify_evidence
from litwatch.triage.matching import Article, match_sections
from litwatch.triage.ranking import score_paper

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # no "now": recency plays no part


def triage_note(
    paper: Paper, article: Article | None = None, now: dt.datetime | None = None
) -> TriageNote:
    evidence = classify_evidence(paper)
    if article is None:
        return TriageNote(
            evidence=evidence.label,
            subject=evidence.subject,
            evidence_why=evidence.explain(),
            score=float(evidence.strength),
        )
    found = match_sections(paper, article, evidence)
    matches = tuple(m for m in found if not m.is_other)
    ordered = sorted(matches, key=lambda m: not m.primary)  # the primary section first
    score = score_paper(paper, evidence, matches or found, now or EPOCH)
    return TriageNote(
        evidence=evidence.label,
        subject=evidence.subject,
        evidence_why=evidence.explain(),
        sections=tuple(m.title for m in ordered),
        matched_terms=tuple(dict.fromkeys(t for m in ordered for t in m.matched_terms)),
        score=score.total,
        score_why=score.explain(),
    )
