"""The fast paths of triage: cue patterns run on folded (lower-cased) text instead of with
re.IGNORECASE, and section terms are skipped when a text lacks their needles. Both must find
exactly what the slow way finds, and quote the paper as written."""

from __future__ import annotations

import re
import string
import sys

import pytest

from litwatch.records import AbstractSection, Paper
from litwatch.triage import classify_evidence
from litwatch.triage import cues as C
from litwatch.triage.text import fold, term_needles, term_pattern

# matched against MeSH descriptors as PubMed writes them, not against folded text
CASE_SENSITIVE = {"ANIMAL_MESH", "IN_VIVO_MESH"}


def cue_patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for name, value in vars(C).items():
        if name in CASE_SENSITIVE:
            continue
        if isinstance(value, re.Pattern):
            found.append((name, value))
        elif isinstance(value, tuple) and all(
            isinstance(pair, tuple) and isinstance(pair[-1], re.Pattern) for pair in value
        ):
            found += [(f"{name}[{i}]", p) for i, (_, p) in enumerate(value)]
    return found


def test_the_cue_tables_are_found() -> None:
    names = {name.split("[")[0] for name, _ in cue_patterns()}
    assert {"HEDGE", "RCT", "TRIAL_WEAK", "CHEMISTRY_ABSTRACT", "HUMAN_TITLE"} <= names


@pytest.mark.parametrize(("name", "pattern"), cue_patterns(), ids=[n for n, _ in cue_patterns()])
def test_cue_patterns_are_lower_case(name: str, pattern: re.Pattern[str]) -> None:
    # folded text has no capitals, so "RCT" would never match; escapes keep their case
    # (\W is not \w)
    outside_escapes = re.sub(r"\\.", "", pattern.pattern)
    assert not any(c.isupper() for c in outside_escapes), name
    assert not pattern.flags & re.IGNORECASE, name


def test_fold_finds_what_ignorecase_finds() -> None:
    # every character: folded to an ASCII letter or digit exactly when re.IGNORECASE matches
    # it to that one, one character for one, and still a word / space / digit if it was
    literal = re.compile("|".join(string.ascii_lowercase + string.digits), re.IGNORECASE)
    classes = [re.compile(p) for p in (r"\w", r"\s", r"\d")]
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        folded = fold(char)
        assert len(folded) == 1, hex(code)
        if literal.fullmatch(char):
            assert folded.isascii() and re.fullmatch(folded, char, re.IGNORECASE), hex(code)
        else:
            assert not (folded.isascii() and folded.isalnum()), hex(code)
        assert [bool(c.match(char)) for c in classes] == [bool(c.match(folded)) for c in classes]


def test_fold_keeps_length() -> None:
    # "İ".lower() is two characters; the Kelvin sign and the long s are a "k" and an "s"
    assert fold("İSTANBUL ſtudy, 300 \u212a, RCT") == "istanbul study, 300 k, rct"
    assert fold("Μ-Opioid Receptor") == "μ-opioid receptor"


def test_reasons_quote_the_paper_as_written() -> None:
    paper = Paper(pmid="1", title="Kratom use in İZMİR: A CASE REPORT", title_html="")
    assert classify_evidence(paper).reasons[0] == 'title cue "CASE REPORT"'
    paper = Paper(
        pmid="2",
        title="Kratom",
        title_html="",
        abstract=(AbstractSection("İn İzmir, WE REPORT A CASE of kratom use. The patient …"),),
    )
    assert classify_evidence(paper).reasons[0] == 'abstract cue "WE REPORT A CASE"'


@pytest.mark.parametrize(
    ("term", "needles"),
    [
        ("kratom|ketum", ("kratom", "ketum")),
        ("mu-opioid receptor*", ("receptor",)),  # "mu" also matches "μ"
        ("NF-kappaB", ("nf",)),  # "kappa" also matches "κ"
        ("analgesi*|antinocicept*", ("analgesi", "antinocicept")),
        ("IL-6|TNF*", ("il", "tnf")),
        ("mu|kappa", None),
        ("β-arrestin*|μ", None),
        ("and/or", None),
    ],
)
def test_term_needles(term: str, needles: tuple[str, ...] | None) -> None:
    assert term_needles(term) == needles


TEXTS = [
    "Kratom (Mitragyna speciosa) and 7-OH-MITRAGYNINE act on the μ-opioid receptor (MOR).",
    "NF-κB, NF-kappaB and nf kappa b; IL-6, IL6 and TNF-α; β-arrestin-2 and beta arrestins.",
    "KRATOM İN İSTANBUL: Analgesia, ANTINOCICEPTIVE effects, von Frey; ſpeciogynine.",
    "Ketum users and Kratom's legal status in Thailand, Malaysia and SOUTHEAST ASIA.",
]
TERMS = [
    "kratom|ketum|kakuam|biak-biak",
    "7-hydroxymitragynine|hydroxymitragynine|7-OH-mitragynine",
    "speciogynine",
    "opioid receptor*|mu-opioid|mu opioid|MOR|MOPr",
    "NF-kappaB",
    "IL-1*|IL-6|IL-10",
    "TNF*|tumor necrosis factor",
    "analgesi*|antinocicept*",
    "tail-flick|von Frey",
    "Southeast Asia|Thailand",
    "legal status|legal*",
]


@pytest.mark.parametrize("term", TERMS)
def test_a_text_without_needles_has_no_match(term: str) -> None:
    needles = term_needles(term)
    assert needles is not None
    for text in TEXTS:
        for variant in (text, text.upper(), text.swapcase()):
            if term_pattern(term).search(variant):
                assert any(n in fold(variant) for n in needles), (term, variant)
