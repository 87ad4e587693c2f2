"""Which sections of an article a paper bears on, and the terms that say so.

The values here are what ``litwatch.articles`` reads from an article file; matching is pure.

A section matches a paper when
- the article's *topic* matched somewhere in the paper, if the section ``requires_topic``
  (the kratom article's sections are about kratom: "liver injury" alone is not enough);
- at least one of its ``require`` terms matched, if it has any;
- none of its ``exclude`` terms matched;
- and its score reaches ``min_score``. The score adds, for every rule that matched, the
  rule's weight times the weights of the distinct places it matched in (title 3,
  keywords 2, MeSH 2, abstract 1 by default: a title says what a paper is about), plus
  points for the paper's evidence label when the section lists it (a kratom case report
  bears on "user experiences and case reports"); then times the section's weight.

A paper that matches no section goes to ``OTHER``. Of the matches, the highest score is
``primary`` (ties: the article's order) — the digest files the paper there.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from litwatch.records import Paper
from litwatch.triage.evidence import Evidence, classify_evidence
from litwatch.triage.text import PLACES, fold, place_texts, term_needles, term_pattern

DEFAULT_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("title", 3.0),
    ("keywords", 2.0),
    ("mesh", 2.0),
    ("abstract", 1.0),
)
OTHER_NAME = "other"
OTHER_TITLE = "Other"


@dataclass(frozen=True, slots=True)
class Term:
    """One rule: a word or phrase (``"mu-opioid receptor*"``) looked for in ``places``, or
    with ``mesh=True`` a MeSH heading (``"Mitragyna"``, ``"Liver/drug effects"``, ``"*"``
    wildcards) looked for among the descriptors."""

    text: str
    weight: float = 1.0
    places: tuple[str, ...] = PLACES
    mesh: bool = False

    def hit(
        self,
        texts: dict[str, str],
        folded: dict[str, str],
        paper: Paper,
        weights: dict[str, float],
    ) -> TermHit | None:
        """``texts`` are ``place_texts(paper)``, ``folded`` the same folded (``fold``)."""
        if self.mesh:
            found = _mesh_hits(self.text, paper)
            if not found:
                return None
            return TermHit(self.text, "mesh", ("mesh",), found, self.weight * weights["mesh"])
        pattern = term_pattern(self.text)
        needles = term_needles(self.text)
        places: list[str] = []
        found: dict[str, str] = {}  # casefolded -> as first written in the paper
        for place in self.places:
            if needles is not None and not any(n in folded[place] for n in needles):
                continue
            matches = list(pattern.finditer(texts[place]))
            if matches:
                places.append(place)
                for m in matches:
                    found.setdefault(
                        " ".join(m.group(0).split()).casefold(), " ".join(m.group(0).split())
                    )
        if not places:
            return None
        points = self.weight * sum(weights[p] for p in places)
        return TermHit(self.text, "term", tuple(places), tuple(found.values())[:5], points)


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the article, in the article's order. ``terms`` and ``mesh`` are the
    rules as written (for display); ``rules`` carries them with their weights."""

    name: str
    title: str
    terms: tuple[str, ...] = ()
    mesh: tuple[str, ...] = ()
    rules: tuple[Term, ...] = ()
    require: tuple[Term, ...] = ()
    exclude: tuple[Term, ...] = ()
    requires_topic: bool = False
    evidence: tuple[tuple[str, float], ...] = ()  # (evidence label, points)
    min_score: float = 1.0
    weight: float = 1.0
    weights: tuple[tuple[str, float], ...] | None = None  # overrides the article's


@dataclass(frozen=True, slots=True)
class Article:
    """An article file: what it is, what it cites, its sections in order, and its topic."""

    name: str  # the file's stem: what watches name with ``article = "..."``
    title: str
    sections: tuple[Section, ...] = ()
    pmids: tuple[str, ...] = ()  # the article's references
    dois: tuple[str, ...] = ()  # normalised (lower case, no resolver prefix)
    topic: tuple[Term, ...] = ()
    weights: tuple[tuple[str, float], ...] = DEFAULT_WEIGHTS
    source: Path | None = None  # the article file
    text: Path | None = None  # the article's own text, when the file names it
    url: str | None = None

    def cites(self, paper: Paper) -> bool:
        """Is this paper one of the article's references (by PMID or DOI)?"""
        return paper.pmid in self.pmids or (paper.doi is not None and paper.doi in self.dois)


@dataclass(frozen=True, slots=True)
class TermHit:
    """A rule that matched: as written, its kind ("term" | "mesh" | "evidence" | "topic"),
    where ("title", "keywords", "mesh", "abstract"), the text found, and the points."""

    term: str
    kind: str
    places: tuple[str, ...]
    found: tuple[str, ...]
    points: float

    def describe(self) -> str:
        """``"Fatalities"/"deaths" title+abstract 4``: what was found, where, the points."""
        where = "+".join(self.places) if self.places else self.kind
        found = "/".join(f'"{f}"' for f in self.found[:2]) or repr(self.term)
        return f"{found} {where} {self.points:g}"


@dataclass(frozen=True, slots=True)
class SectionMatch:
    """One section a paper bears on: the section's name and title, the rules that matched
    (``terms``), the score, whether it is the paper's ``primary`` section, and the topic
    terms that opened a topic-only section (``gate``)."""

    name: str
    title: str
    terms: tuple[TermHit, ...]
    score: float
    primary: bool = False
    gate: tuple[TermHit, ...] = field(default=())

    @property
    def is_other(self) -> bool:
        return self.name == OTHER_NAME

    @property
    def matched_terms(self) -> tuple[str, ...]:
        """The words found in the paper ("Fatalities", "deaths"), not the rules' patterns;
        for display and the export's ``matched_terms``. ``matched_rules`` has the rules."""
        words: dict[str, str] = {}
        for hit in self.terms:
            if hit.kind != "evidence":
                for word in hit.found:
                    words.setdefault(word.casefold(), word)
        return tuple(words.values())

    @property
    def matched_rules(self) -> tuple[str, ...]:
        """The rules that matched, as written in the article file ("fatal*|fatalit*")."""
        return tuple(dict.fromkeys(h.term for h in self.terms if h.kind != "evidence"))

    def explain(self) -> str:
        """``side-effects 8 ('fatalit*' title+abstract 4, 'death*' abstract 1, …)``"""
        if self.is_other:
            return "Other (no section's terms matched)"
        hits = ", ".join(h.describe() for h in self.terms)
        gate = f"; topic {self.gate[0].found[0]!r}" if self.gate else ""
        return f"{self.name} {self.score:g} ({hits}{gate})"


OTHER = SectionMatch(OTHER_NAME, OTHER_TITLE, (), 0.0, primary=True)


def match_sections(
    paper: Paper, article: Article, evidence: Evidence | None = None
) -> tuple[SectionMatch, ...]:
    """The sections ``paper`` bears on, in the article's order, exactly one ``primary``;
    ``(OTHER,)`` when none. ``evidence`` is classified here when not given."""
    texts = place_texts(paper)
    folded = {place: fold(text) for place, text in texts.items()}
    article_weights = dict(article.weights)
    topic = tuple(h for t in article.topic if (h := t.hit(texts, folded, paper, article_weights)))
    topic = tuple(TermHit(h.term, "topic", h.places, h.found, 0.0) for h in topic)
    label: str | None = None
    found: list[SectionMatch] = []
    for section in article.sections:
        if section.requires_topic and not topic:
            continue
        weights = dict(section.weights) if section.weights else article_weights
        if any(t.hit(texts, folded, paper, weights) for t in section.exclude):
            continue
        required = [h for t in section.require if (h := t.hit(texts, folded, paper, weights))]
        if section.require and not required:
            continue
        hits = required + [h for t in section.rules if (h := t.hit(texts, folded, paper, weights))]
        if section.evidence:
            if label is None:
                label = (evidence or classify_evidence(paper)).label
            hits += [
                TermHit(name, "evidence", (), (label,), points)
                for name, points in section.evidence
                if name == label
            ]
        if not hits:
            continue
        score = round(sum(h.points for h in hits) * section.weight, 2)
        if score >= section.min_score:
            gate = topic if section.requires_topic else ()
            found.append(SectionMatch(section.name, section.title, tuple(hits), score, gate=gate))
    if not found:
        return (OTHER,)
    best = max(range(len(found)), key=lambda i: (found[i].score, -i))
    return tuple(
        SectionMatch(m.name, m.title, m.terms, m.score, primary=(i == best), gate=m.gate)
        for i, m in enumerate(found)
    )


def primary_section(matches: tuple[SectionMatch, ...]) -> SectionMatch:
    """The section the digest files the paper under."""
    return next((m for m in matches if m.primary), OTHER)


def highlight_spans(text: str, matches: tuple[SectionMatch, ...]) -> list[tuple[int, int]]:
    """(start, end) of every matched term (and topic term) in ``text`` — a title or an
    abstract as the paper has it — sorted and merged, for ``<mark>`` in a digest."""
    spans: list[tuple[int, int]] = []
    terms = {h.term for m in matches for h in (*m.terms, *m.gate) if h.kind in ("term", "topic")}
    for term in sorted(terms):
        spans.extend(m.span() for m in term_pattern(term).finditer(text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _mesh_hits(rule: str, paper: Paper) -> tuple[str, ...]:
    descriptor, _, qualifier = rule.partition("/")
    found = []
    for heading in paper.mesh_headings:
        if not fnmatch.fnmatchcase(heading.descriptor.casefold(), descriptor.strip().casefold()):
            continue
        if qualifier:
            names = [q.name for q in heading.qualifiers]
            wanted = qualifier.strip().casefold()
            if not any(fnmatch.fnmatchcase(n.casefold(), wanted) for n in names):
                continue
            found.append(f"{heading.descriptor}/{qualifier.strip()}")
        else:
            found.append(heading.descriptor)
    return tuple(found)


MESH_SYNTAX = re.compile(r"^[^/]+(?:/[^/]+)?$")
