"""One TriageNote per paper: the evidence label now, the article's sections and the rank
when the watch serves an article."""

from __future__ import annotations

from litwatch.records import Paper, TriageNote
from litwatch.triage.evidence import classify_evidence


def triage_note(paper: Paper) -> TriageNote:
    evidence = classify_evidence(paper)
    return TriageNote(
        evidence=evidence.label,
        subject=evidence.subject,
        evidence_why=evidence.explain(),
        score=float(evidence.strength),
    )
