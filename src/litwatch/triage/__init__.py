"""Triage: what kind of evidence a paper is, which sections of an article it bears on, and
how to order papers within a section. Pure functions over ``Paper`` values, no I/O."""

from litwatch.triage.evidence import LABELS, STRENGTH, SUBJECTS, Evidence, classify_evidence

__all__ = ["LABELS", "STRENGTH", "SUBJECTS", "Evidence", "classify_evidence"]
