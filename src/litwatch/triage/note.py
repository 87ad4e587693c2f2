"""One TriageNote per paper: its evidence label, and — when its watch serves an article —
the article's sections it bears on, the terms that said so, and its rank."""

from __future__ import annotations

import datetime as dt

from litwatch.records import Paper, TriageNote
from litwatch.triage.evidence import classify_evidence
from litwatch.triage.sections import Section, match_sections, rank


def triage_note(
    paper: Paper, sections: tuple[Section, ...] = (), now: dt.datetime | None = None
) -> TriageNote:
    evidence = classify_evidence(paper)
    matches = match_sections(paper, sections) if sections else ()
    # the section it bears on most comes first (ties: the article's order)
    matches = tuple(sorted(matches, key=lambda m: -m.score))
    score = rank(paper, evidence, matches, now) if now else None
    return TriageNote(
        evidence=evidence.label,
        subject=evidence.subject,
        evidence_why=evidence.explain(),
        sections=tuple(m.section.title for m in matches),
        matched_terms=tuple(dict.fromkeys(t for m in matches for t in m.matched_terms)),
        score=score.total if score else float(evidence.strength),
        score_why=score.explain() if score else "",
    )
