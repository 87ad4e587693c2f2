"""What changed between two versions of a PubMed record, in the terms a writer cares about.
Pure: two Papers in, a tuple of Updates out."""

from __future__ import annotations

from dataclasses import dataclass

from litwatch.records import Paper

# CommentsCorrections RefTypes that are notices about this paper, and what to call them.
NOTICE_REFS = {
    "RetractionIn": "retracted",
    "ErratumIn": "erratum",
    "ExpressionOfConcernIn": "expression of concern",
    "CorrectedandRepublishedIn": "corrected and republished",
    "RetractedandRepublishedIn": "retracted and republished",
}
SERIOUS = ("retracted", "retracted and republished", "withdrawn", "expression of concern")


@dataclass(frozen=True, slots=True)
class Update:
    kind: str  # retracted | erratum | expression of concern | withdrawn | in an issue | abstract added | ...
    detail: str  # one line for the digest: what changed, with the notice's reference

    @property
    def serious(self) -> bool:
        return self.kind in SERIOUS


def notices(paper: Paper) -> dict[str, str]:
    """kind -> detail for every notice the record carries now."""
    found: dict[str, str] = {}
    for link in paper.comments_corrections:
        kind = NOTICE_REFS.get(link.ref_type)
        if kind and kind not in found:
            where = f"PMID {link.pmid}" if link.pmid else "the notice"
            source = f" ({link.source})" if link.source else ""
            found[kind] = f"{kind.capitalize()}: see {where}{source}"
    if "Retracted Publication" in paper.publication_types:
        found.setdefault("retracted", "Retracted: PubMed marks it a Retracted Publication")
    if "Withdrawn Publication" in paper.publication_types:
        found.setdefault("withdrawn", "Withdrawn: PubMed marks it a Withdrawn Publication")
    return found


def changes(before: Paper, after: Paper) -> tuple[Update, ...]:
    """What ``after`` (a newer version of the record) says that ``before`` did not."""
    out: list[Update] = []
    old = notices(before)
    for kind, detail in notices(after).items():
        if kind not in old:
            out.append(Update(kind, detail))
    if not before.abstract and after.abstract:
        out.append(Update("abstract added", "The abstract is now available"))
    was_ahead = not (before.journal.volume or before.journal.issue)
    if was_ahead and (after.journal.volume or after.journal.issue):
        where = ", ".join(
            p
            for p in (
                after.journal.volume and f"vol. {after.journal.volume}",
                after.journal.issue and f"issue {after.journal.issue}",
                after.journal.pages and f"pp. {after.journal.pages}",
            )
            if p
        )
        out.append(Update("in an issue", f"Published in an issue: {where}"))
    return tuple(sorted(out, key=lambda u: (not u.serious, u.kind)))


def current_notices(paper: Paper) -> tuple[Update, ...]:
    """The notices a record carries (for a reference seen for the first time)."""
    return tuple(Update(kind, detail) for kind, detail in notices(paper).items())
