"""What kind of evidence a record is, from the record alone, and why.

Read in this order; the first source that decides wins and names itself in ``reasons``:

1. notices — publication types Retraction of Publication / Published Erratum / Expression
   of Concern, or a title that is the notice ("Retraction: …", "Correction to: …"). They
   are kept apart from research: a notice is never a research label;
2. preprint — publication type Preprint or a preprint server as the journal;
3. a research-design publication type (Meta-Analysis … Case Reports, Review), upgraded
   when the text is more specific (a "Review" whose title says "systematic review");
4. Editorial / Comment / Letter / News …, unless the title or abstract describes a case;
5. MeSH (MEDLINE-indexed records): check tags Humans / Animals and species headings,
   in-vitro headings (Cell Line, In Vitro Techniques…), study-design headings (Cohort
   Studies, Surveys and Questionnaires…), analytical chemistry (Chromatography, Mass
   Spectrometry…) when neither Humans nor Animals is tagged;
6. title and abstract cues, as a fallback for records PubMed has not indexed yet — most
   new papers. Abstract sentences that speak of other or future studies ("randomized
   trials are needed") are skipped.

The subject ("human" / "animal" / "in vitro") comes from MeSH check tags when there are
any, else from the same kind of cues; ``None`` when nothing says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from litwatch.records import Paper
from litwatch.triage import cues as C
from litwatch.triage.text import fold, sentences, snippet

LABELS = (
    "meta-analysis",
    "systematic review",
    "guideline",
    "randomized controlled trial",
    "clinical trial",
    "observational study",
    "case report",
    "review",
    "animal study",
    "in vitro study",
    "chemistry/analytical method",
    "other research",
    "editorial/comment/letter",
    "preprint",
    "retraction notice",
    "erratum",
    "expression of concern",
)
NOTICE_LABELS = frozenset({"retraction notice", "erratum", "expression of concern"})
SUBJECTS = ("human", "animal", "in vitro")
# Rank for ordering within a digest section: higher is stronger evidence for a claim about
# people. Notices rank lowest: they belong in "Updates", not in a reading list.
STRENGTH = {
    "meta-analysis": 9,
    "systematic review": 8,
    "guideline": 8,
    "randomized controlled trial": 7,
    "clinical trial": 6,
    "observational study": 5,
    "review": 4,
    "case report": 3,
    "animal study": 2,
    "preprint": 2,
    "other research": 2,
    "in vitro study": 1,
    "chemistry/analytical method": 1,
    "editorial/comment/letter": 1,
    "retraction notice": 0,
    "erratum": 0,
    "expression of concern": 0,
}
_NO_TEXT_SUBJECT = frozenset({"review", "editorial/comment/letter"})
_HUMAN_DESIGNS = frozenset(
    {"randomized controlled trial", "clinical trial", "observational study", "case report"}
)
_SKIPPED_SECTIONS = re.compile(
    r"^(?:background|introduction|context|rationale|purpose|aims?)", re.I
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The evidence type of one record. ``reasons`` name what decided, most important first;
    ``basis`` is where the label came from ("publication type", "MeSH", "title",
    "abstract", "default"); ``flags`` say what happened to the paper itself ("retracted",
    "corrected", "expression of concern", "withdrawn")."""

    label: str
    subject: str | None
    reasons: tuple[str, ...]
    strength: int
    basis: str = "default"
    flags: tuple[str, ...] = ()

    @property
    def is_notice(self) -> bool:
        return self.label in NOTICE_LABELS

    def explain(self) -> str:
        """``randomized controlled trial (human): publication type "Randomized …"; …``."""
        subject = f" ({self.subject})" if self.subject else ""
        return f"{self.label}{subject}: " + "; ".join(self.reasons)


def classify_evidence(paper: Paper) -> Evidence:
    """The evidence label, subject, reasons and strength of one record. Pure and cheap."""
    flags, flag_reasons = _flags(paper)
    title = paper.title or paper.vernacular_title or ""
    folded_title = fold(title)
    types = paper.publication_types

    def done(label: str, subject: str | None, reasons: list[str], basis: str) -> Evidence:
        if label in _HUMAN_DESIGNS and (
            subject is None or (subject == "in vitro" and subject_basis != "MeSH")
        ):
            # trials, cohorts and case reports study people unless the record says otherwise
            subject = "human"
            reasons = [r for r in reasons if r not in subject_reasons]
            reasons.append(f"{label} (human unless stated)")
        if label in _NO_TEXT_SUBJECT and subject_basis != "MeSH":
            # a review or a letter has no methods section to read a subject from
            subject = None
            reasons = [r for r in reasons if r not in subject_reasons]
        return Evidence(
            label=label,
            subject=subject,
            reasons=tuple(dict.fromkeys(reasons + flag_reasons)),
            strength=STRENGTH[label],
            basis=basis,
            flags=flags,
        )

    for pt, label in C.NOTICE_TYPES.items():
        if pt in types:
            return done(label, None, [f'publication type "{pt}"'], "publication type")
    for label, pattern in C.TITLE_NOTICES:
        if m := pattern.search(folded_title):
            return done(label, None, [f'title "{snippet(title, m)}"'], "title")

    text = _Text(paper, title, folded_title)
    subject, subject_reasons = _subject(paper, text)
    subject_basis = "MeSH" if subject_reasons and subject_reasons[0].startswith("MeSH") else "text"

    if preprint := [t for t in types if t in C.PREPRINT_TYPES]:
        return done(
            "preprint",
            subject,
            [f'publication type "{preprint[0]}"', *subject_reasons],
            "publication type",
        )
    if paper.journal.title and C.PREPRINT_JOURNAL.search(fold(paper.journal.title)):
        return done(
            "preprint",
            subject,
            [f'journal "{paper.journal.title}" (preprint server)', *subject_reasons],
            "publication type",
        )

    for pt, label in C.DESIGN_TYPES:
        if pt in types:
            label, extra = _refine(label, text)
            return done(
                label,
                subject,
                [f'publication type "{pt}"', *extra, *subject_reasons],
                "publication type",
            )

    if opinion := [t for t in types if t in C.OPINION_TYPES]:
        reason = f'publication type "{opinion[0]}"'
        if hit := text.first(C.CASE_TITLE, C.CASE_ABSTRACT, hedged=False):
            return done("case report", subject, [hit, reason, *subject_reasons], hit.split()[0])
        return done(
            "editorial/comment/letter", subject, [reason, *subject_reasons], "publication type"
        )
    if m := C.TITLE_OPINION.search(folded_title):
        return done("editorial/comment/letter", subject, [f'title "{snippet(title, m)}"'], "title")

    if paper.mesh_headings and (decided := _from_mesh(paper, text, subject, subject_reasons)):
        label, reasons = decided
        return done(label, subject, reasons, "MeSH")

    label, reasons = _from_text(text, subject)
    decided = reasons or (subject_reasons if label in ("animal study", "in vitro study") else [])
    basis = decided[0].split()[0] if decided else "default"
    return done(label, subject, [*reasons, *subject_reasons], basis)


# --- flags --------------------------------------------------------------------------

_FLAG_LINKS = {
    "RetractionIn": "retracted",
    "ErratumIn": "corrected",
    "ExpressionOfConcernIn": "expression of concern",
}


def _flags(paper: Paper) -> tuple[tuple[str, ...], list[str]]:
    flags: dict[str, str] = {}
    for pt in paper.publication_types:
        if pt in C.RETRACTED_TYPES:
            flags.setdefault("retracted", f'publication type "{pt}"')
    for link in paper.comments_corrections:
        if flag := _FLAG_LINKS.get(link.ref_type):
            flags.setdefault(
                flag, f"{link.ref_type} PMID {link.pmid}" if link.pmid else link.ref_type
            )
    title = paper.title or ""
    folded_title = fold(title)
    for flag, pattern in C.TITLE_FLAGS:
        if m := pattern.search(folded_title):
            flags.setdefault(flag, f'title "{snippet(title, m)}"')
    return tuple(flags), [f"{flag}: {why}" for flag, why in flags.items()]


# --- reading the text ---------------------------------------------------------------


# (text, its fold): cues search the folded copy and quote the text
_Folded = tuple[str, str]


class _Text:
    """Title and abstract sentences, each with its folded copy, and "first cue that
    matches" lookups."""

    def __init__(self, paper: Paper, title: str, folded_title: str) -> None:
        self.title = title
        self.folded_title = folded_title
        labels = [s.label for s in paper.abstract if s.label]
        self.case_label = next((x for x in labels if C.CASE_LABELS.match(fold(x))), None)
        self.review_label = next((x for x in labels if C.REVIEW_LABELS.match(fold(x))), None)
        self.all: list[_Folded] = []
        self.methods: list[_Folded] = []  # not in background sections
        self.own: list[_Folded] = []  # sentences about this study: no hedges, no background
        for section in paper.abstract:
            skipped = _SKIPPED_SECTIONS.match(section.label or section.category or "")
            for sentence in sentences(section.text):
                pair = (sentence, fold(sentence))
                self.all.append(pair)
                if not skipped:
                    self.methods.append(pair)
                    if not C.HEDGE.search(pair[1]):
                        self.own.append(pair)

    def first(
        self, title_cues: C.Cues | None, abstract_cues: C.Cues | None, *, hedged: bool = True
    ) -> str | None:
        """'title cue "…"' or 'abstract cue "…"' for the first cue found, else None."""
        for _label, pattern in title_cues or ():
            if m := pattern.search(self.folded_title):
                return f'title cue "{snippet(self.title, m)}"'
        pool = self.own if hedged else self.all
        for _label, pattern in abstract_cues or ():
            for sentence, folded in pool:
                if m := pattern.search(folded):
                    return f'abstract cue "{snippet(sentence, m)}"'
        return None

    def count(self, cues: C.Cues, pool: list[_Folded] | None = None) -> tuple[int, str | None]:
        """Sentences with at least one of the cues, and the first cue's text."""
        n, first = 0, None
        for sentence, folded in self.methods if pool is None else pool:
            for _label, pattern in cues:
                if m := pattern.search(folded):
                    n += 1
                    first = first or snippet(sentence, m)
                    break
        return n, first


def _refine(label: str, text: _Text) -> tuple[str, list[str]]:
    """A design publication type made more specific by the text (publishers type many
    systematic reviews as plain "Review", and many randomized trials as "Clinical Trial")."""
    if label in ("review", "systematic review"):
        for cue_label, pattern in C.SECONDARY_TITLE:
            if cue_label == "guideline":
                continue
            if (m := pattern.search(text.folded_title)) and (
                label == "review" or cue_label == "meta-analysis"
            ):
                return cue_label, [f'title cue "{snippet(text.title, m)}"']
        if label == "review" and (hit := text.first(None, C.SECONDARY_ABSTRACT)):
            upgraded = (
                "meta-analysis" if "meta" in hit.lower() or "pooled" in hit else "systematic review"
            )
            return upgraded, [hit]
    if label == "clinical trial" and (hit := text.first(C.RCT, C.RCT)):
        return "randomized controlled trial", [hit]
    return label, []


def _subject(paper: Paper, text: _Text) -> tuple[str | None, list[str]]:
    descriptors = [h.descriptor for h in paper.mesh_headings]
    if descriptors:
        humans = "Humans" in descriptors
        species = [d for d in descriptors if d != "Animals" and C.ANIMAL_MESH.match(d)]
        animals = "Animals" in descriptors or bool(species)
        in_vitro = [d for d in descriptors if d in C.IN_VITRO_MESH]
        in_vivo = [d for d in descriptors if C.IN_VIVO_MESH.match(d)]
        if in_vitro and not in_vivo and (not animals or not _in_vivo_text(text)):
            return "in vitro", [f'MeSH "{in_vitro[0]}" (in vitro)']
        if animals and not humans:
            named = species[0] if species else "Animals"
            return "animal", [f'MeSH "{named}" (animal)']
        if humans and not animals:
            return "human", ['MeSH "Humans" (human)']
        if humans and animals:
            return _text_subject(text) or ("human", ['MeSH "Humans" and "Animals" (human)'])
    return _text_subject(text) or (None, [])


def _in_vivo_text(text: _Text) -> bool:
    n, _ = text.count(C.ANIMAL_ABSTRACT[1:])
    return n >= 2 or any(C.IN_VIVO.search(folded) for _, folded in text.methods)


def _text_subject(text: _Text) -> tuple[str, list[str]] | None:
    animal_n, animal_cue = text.count(C.ANIMAL_ABSTRACT)
    strong = (C.IN_VITRO_ABSTRACT[0], C.IN_VITRO_ABSTRACT[1], C.IN_VITRO_ABSTRACT[3])
    vitro_strong, vitro_cue = text.count(strong)
    vitro_n, weak_cue = text.count(C.IN_VITRO_ABSTRACT)
    if not vitro_strong:
        vitro_n = min(vitro_n, 1)  # knock-downs, assays, MICs alone do not make it in vitro
    vitro_cue = vitro_cue or weak_cue
    human_n, human_cue = text.count(C.HUMAN_ABSTRACT)
    if m := C.ANIMAL_TITLE.search(text.folded_title):
        animal_n += 1 if C.IN_VITRO_TITLE.search(text.folded_title) else 3
        animal_cue = snippet(text.title, m)
        where = "title"
    else:
        where = "abstract"
    vitro_where = human_where = "abstract"
    if m := C.IN_VITRO_TITLE.search(text.folded_title):
        vitro_n += 2
        if not vitro_cue:
            vitro_cue, vitro_where = snippet(text.title, m), "title"
    if m := C.HUMAN_TITLE.search(text.folded_title):
        human_n += 3
        human_cue, human_where = snippet(text.title, m), "title"
    if animal_n >= 2 and animal_n >= human_n:
        return "animal", [f'{where} cue "{animal_cue}" (animal)']
    if vitro_n >= 2 and vitro_n > human_n and animal_n < 2:
        return "in vitro", [f'{vitro_where} cue "{vitro_cue}" (in vitro)']
    if human_n >= 1 and human_n >= animal_n:
        return "human", [f'{human_where} cue "{human_cue}" (human)']
    if animal_n >= 1 and human_n == 0 and vitro_n < 2:
        return "animal", [f'{where} cue "{animal_cue}" (animal)']
    if vitro_n >= 1 and human_n == 0 and animal_n == 0:
        return "in vitro", [f'{vitro_where} cue "{vitro_cue}" (in vitro)']
    return None


def _from_mesh(
    paper: Paper, text: _Text, subject: str | None, subject_reasons: list[str]
) -> tuple[str, list[str]] | None:
    descriptors = [h.descriptor for h in paper.mesh_headings]
    if subject == "animal":
        return "animal study", list(subject_reasons)
    if subject == "in vitro":
        return "in vitro study", list(subject_reasons)
    design = [d for d in descriptors if d in C.OBSERVATIONAL_MESH]
    if design and subject == "human":
        return "observational study", [f'MeSH "{design[0]}"', *subject_reasons]
    chemistry = [d for d in descriptors if d.startswith(C.CHEMISTRY_MESH_PREFIXES)]
    if chemistry and subject is None:
        return "chemistry/analytical method", [f'MeSH "{chemistry[0]}"']
    return None


def _from_text(text: _Text, subject: str | None) -> tuple[str, list[str]]:
    # what the title says the paper is
    if hit := text.first(C.PROTOCOL, None):
        return "other research", [hit + " (protocol, no results yet)"]
    if hit := text.first(C.CASE_TITLE, None):
        return "case report", [hit]
    if text.case_label:
        return "case report", [f'abstract section "{text.case_label}"']
    for label, pattern in C.SECONDARY_TITLE:
        if m := pattern.search(text.folded_title):
            return label, [f'title cue "{snippet(text.title, m)}"']
    if hit := text.first(C.REVIEW_TITLE, None):
        return "review", [hit]
    if text.review_label:
        return "review", [f'abstract section "{text.review_label}"']
    # what the abstract says the paper is
    if hit := text.first(None, C.PROTOCOL):
        return "other research", [hit + " (protocol, no results yet)"]
    for label, pattern in C.SECONDARY_ABSTRACT:
        if hit := text.first(None, ((label, pattern),)):
            return label, [hit]
    if hit := text.first(None, C.GUIDELINE_ABSTRACT, hedged=False):
        return "guideline", [hit]
    if hit := text.first(None, C.CASE_ABSTRACT, hedged=False):
        return "case report", [hit]
    if hit := text.first(None, C.REVIEW_ABSTRACT, hedged=False):
        return "review", [hit]
    if subject != "animal":  # a title that names the design outranks cell-culture words
        if hit := text.first(C.RCT, None):
            return "randomized controlled trial", [hit]
        if hit := text.first(C.TRIAL, None):
            return "clinical trial", [hit]
    # who or what was studied
    if subject == "animal":
        return "animal study", []
    if subject == "in vitro":
        return "in vitro study", []
    # how people were studied
    ladder: tuple[tuple[str, C.Cues | None, C.Cues | None], ...] = (
        ("randomized controlled trial", C.RCT, C.RCT),
        ("clinical trial", C.TRIAL, C.TRIAL_ABSTRACT),
        ("observational study", C.OBSERVATIONAL, C.OBSERVATIONAL),
        ("clinical trial", C.TRIAL_WEAK, C.TRIAL_WEAK),
        ("case report", C.CASE_WEAK, None),
        ("observational study", C.OBSERVATIONAL_WEAK, C.OBSERVATIONAL_WEAK),
    )
    for label, title_cues, abstract_cues in ladder:
        if hit := text.first(title_cues, abstract_cues):
            return label, [hit]
    if subject is None or subject == "human":
        if hit := text.first(C.CHEMISTRY_TITLE, None):
            return "chemistry/analytical method", [hit]
        if subject is None:
            n, cue = text.count(((None, C.CHEMISTRY_ABSTRACT),), text.all)
            if n >= 3:
                return "chemistry/analytical method", [f'abstract cue "{cue}" ({n} sentences)']
    return "other research", []
