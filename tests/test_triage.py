"""Triage on real PubMed records: evidence labels (every label, positive and negative, with the
reason that decided), the shipped kratom article's section rules, ranking, and agreement with
a hand-labelled set (tests/fixtures/triage/labels.toml).

Records come from the shipped slice (src/litwatch/standin/data/pubmed-slice.xml.gz) and from
tests/fixtures/triage/records.xml.gz (real records the slice lacks; see build_fixture.py).
A record marked "derived" is a real record with one change, said next to it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from litwatch.articles import load_article
from litwatch.config import shipped_dir
from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import Paper
from litwatch.triage import (
    LABELS,
    OTHER,
    STRENGTH,
    classify_evidence,
    highlight_spans,
    match_sections,
    primary_section,
    ranked,
    score_paper,
)

ROOT = Path(__file__).parents[1]
SLICE = ROOT / "src" / "litwatch" / "standin" / "data" / "pubmed-slice.xml.gz"
FIXTURES = Path(__file__).parent / "fixtures" / "triage"
ARTICLE = shipped_dir("queries") / "articles" / "kratom-neuropathic-pain.toml"
NOW = dt.datetime(2021, 6, 8, 7, 0, tzinfo=dt.UTC)

# The floors the hand-labelled set must keep (measured: see test_agreement_with_hand_labels).
EVIDENCE_FLOOR = 0.85
SUBJECT_FLOOR = 0.80
SECTIONS_FLOOR = 0.90


@pytest.fixture(scope="module")
def papers() -> dict[str, Paper]:
    found: dict[str, Paper] = {}
    for path in (SLICE, FIXTURES / "records.xml.gz"):
        with gzip.open(path) as fh:
            for p in parse_pubmed_xml(fh):
                if isinstance(p, Paper):
                    found[p.pmid] = p  # the highest version of a PMID wins
    return found


@pytest.fixture(scope="module")
def article():
    return load_article(ARTICLE)


def with_kratom(paper: Paper) -> Paper:
    """Derived: the same real record, with "kratom" added to its keywords."""
    return paper._replace(keywords=(*paper.keywords, "kratom"))


def unindexed(paper: Paper) -> Paper:
    """Derived: the record as PubMed first lists it, before MEDLINE indexing adds MeSH and
    research publication types (98% of a 2021 update file looks like this)."""
    return paper._replace(publication_types=("Journal Article",), mesh_headings=())


# --- evidence: every label, with the reason that decided it ---------------------------

POSITIVE = [
    # (pmid, label, subject, a reason that must be given)
    ("33406518", "meta-analysis", "human", 'publication type "Meta-Analysis"'),
    ("33933505", "meta-analysis", "human", 'title cue "meta-analysis"'),  # typed Review
    ("31129916", "systematic review", "human", 'publication type "Systematic Review"'),
    ("34090758", "systematic review", "human", 'abstract cue "systematic review'),  # Review
    ("33864941", "guideline", None, 'publication type "Practice Guideline"'),
    (
        "30578883",
        "randomized controlled trial",
        "human",
        'publication type "Randomized Controlled Trial"',
    ),
    ("33560531", "randomized controlled trial", "human", 'title cue "randomized"'),
    ("399316", "clinical trial", "human", 'publication type "Clinical Trial"'),
    ("33316274", "clinical trial", "human", 'abstract cue "nonrandomized"'),
    ("34015580", "clinical trial", "human", 'title cue "double-blind"'),
    ("31448803", "observational study", "human", 'publication type "Observational Study"'),
    ("399499", "observational study", "human", 'MeSH "Retrospective Studies"'),
    ("33829583", "observational study", "human", 'abstract cue "cohort"'),
    ("34093676", "case report", "human", 'publication type "Case Reports"'),
    ("33989821", "case report", "human", 'abstract cue "We report a case"'),
    ("33342583", "case report", "human", 'title cue "in a Patient"'),  # typed Letter
    ("34082831", "case report", "human", 'title cue "case report"'),
    ("34052351", "review", None, 'publication type "Review"'),
    ("33581982", "review", None, 'title cue "Review"'),
    ("33961945", "review", None, 'abstract cue "In this article we review"'),
    ("24111943", "animal study", "animal", 'MeSH "Disease Models, Animal" (animal)'),
    ("399298", "animal study", "animal", 'MeSH "Dogs" (animal)'),
    ("33847897", "animal study", "animal", 'title cue "Beagle" (animal)'),
    ("33222681", "animal study", "animal", "(animal)"),
    ("399308", "in vitro study", "in vitro", 'MeSH "In Vitro Techniques" (in vitro)'),
    ("33989616", "in vitro study", "in vitro", "(in vitro)"),
    ("399613", "chemistry/analytical method", None, 'MeSH "Chromatography"'),
    ("33823313", "chemistry/analytical method", None, 'title cue "electro-Fenton"'),
    ("33780037", "other research", "human", ""),
    ("34095161", "other research", "human", 'title cue "Study Protocol" (protocol'),
    ("420122", "editorial/comment/letter", "human", 'publication type "Letter"'),
    ("31266846", "editorial/comment/letter", None, 'publication type "Biography"'),
    ("32995776", "preprint", None, 'publication type "Preprint"'),
    ("34086808", "retraction notice", None, 'publication type "Retraction of Publication"'),
    ("30675604", "erratum", None, 'publication type "Published Erratum"'),
    ("34086549", "erratum", None, 'title "Correction to:"'),  # typed Journal Article
    ("34096680", "expression of concern", None, 'publication type "Expression of Concern"'),
]


@pytest.mark.parametrize(("pmid", "label", "subject", "reason"), POSITIVE)
def test_evidence_label_and_reason(papers, pmid, label, subject, reason) -> None:
    evidence = classify_evidence(papers[pmid])
    assert (evidence.label, evidence.subject) == (label, subject), evidence.explain()
    assert any(reason in r for r in evidence.reasons), evidence.explain()
    assert evidence.strength == STRENGTH[label]
    assert evidence.explain().startswith(label)


def test_every_label_has_a_real_positive_example() -> None:
    assert {label for _, label, _, _ in POSITIVE} == set(LABELS)


NEGATIVE = [
    # (pmid, a label it must not get, the label it gets, the reason why) — look-alikes
    ("34087839", "meta-analysis", "other research", "protocol"),  # "protocol for meta-analysis"
    ("34052351", "systematic review", "review", 'publication type "Review"'),  # searched engines
    ("34082720", "guideline", "observational study", "cohort"),  # "a comparison of guidelines"
    ("33222681", "randomized controlled trial", "animal study", "(animal)"),  # mice in groups
    ("34095161", "randomized controlled trial", "other research", "protocol"),  # a trial protocol
    ("33164617", "case report", "observational study", "2018-January 2020"),  # 22 patients
    ("34090758", "review", "systematic review", "systematic review"),
    ("33847897", "chemistry/analytical method", "animal study", "Beagle"),  # used UPLC-MS/MS
    ("33780037", "animal study", "other research", "volunteers"),  # "in vivo" in people
    ("34020289", "review", "observational study", "cross-sectional"),  # "time perspective on"
    ("33342583", "editorial/comment/letter", "case report", 'publication type "Letter"'),
    ("34096716", "erratum", "other research", ""),  # "Correction of Matrix Effects ..."
    ("27602157", "retraction notice", "in vitro study", 'publication type "Retracted Publication"'),
    ("32090497", "expression of concern", "animal study", "ExpressionOfConcernIn"),
    ("33722421", "case report", "observational study", "Observational Study"),  # registry
]


@pytest.mark.parametrize(("pmid", "not_label", "label", "reason"), NEGATIVE)
def test_evidence_look_alikes(papers, pmid, not_label, label, reason) -> None:
    evidence = classify_evidence(papers[pmid])
    assert evidence.label != not_label
    assert evidence.label == label, evidence.explain()
    assert reason in evidence.explain()


@pytest.mark.parametrize(
    ("pmid", "label", "cue"),
    [
        # MEDLINE records, stripped of MeSH and design publication types (derived)
        ("32338611", "randomized controlled trial", 'title cue "randomised"'),
        ("33294991", "meta-analysis", "abstract cue"),
        ("31129916", "systematic review", "abstract cue"),
        ("8454279", "case report", "cue"),
        ("24111943", "animal study", "(animal)"),
        ("32672924", "observational study", 'title cue "cohort"'),
    ],
)
def test_records_not_yet_indexed_fall_back_to_title_and_abstract(papers, pmid, label, cue):
    evidence = classify_evidence(unindexed(papers[pmid]))
    assert evidence.label == label, evidence.explain()
    assert evidence.basis in ("title", "abstract")
    assert cue in evidence.explain()


def test_hedged_sentences_do_not_make_a_trial(papers) -> None:
    # derived: a real cohort abstract plus the closing sentence many of them have
    paper = papers["33829583"]
    extra = paper.abstract[-1]._replace(
        text=paper.abstract[-1].text
        + " Randomized controlled trials are needed to confirm these findings.",
    )
    evidence = classify_evidence(paper._replace(abstract=(*paper.abstract[:-1], extra)))
    assert evidence.label == "observational study"


def test_a_retraction_notice_by_its_title_alone(papers) -> None:
    # derived: the real notice before PubMed types it (publisher records are Journal Article)
    evidence = classify_evidence(unindexed(papers["34086808"]))
    assert evidence.label == "retraction notice"
    assert evidence.reasons == ('title "Retraction:"',)
    assert evidence.is_notice and evidence.strength == 0


def test_a_preprint_server_as_journal(papers) -> None:
    # derived: a real record whose journal is medRxiv but whose publication type is missing
    paper = papers["33829583"]._replace(
        journal=papers["33829583"].journal._replace(title="medRxiv : the preprint server"),
    )
    evidence = classify_evidence(paper)
    assert evidence.label == "preprint"
    assert "(preprint server)" in evidence.reasons[0]


@pytest.mark.parametrize(
    ("pmid", "flag", "why"),
    [
        ("27602157", "retracted", 'publication type "Retracted Publication"'),
        ("15320745", "retracted", 'title "Retracted:"'),
        ("30578883", "corrected", "ErratumIn PMID 34092354"),
        ("32090497", "expression of concern", "ExpressionOfConcernIn PMID 34096680"),
    ],
)
def test_what_happened_to_the_paper_itself(papers, pmid, flag, why) -> None:
    evidence = classify_evidence(papers[pmid])
    assert flag in evidence.flags
    assert f"{flag}: {why}" in evidence.reasons
    assert not evidence.is_notice


def test_the_whole_slice_gets_labels_from_the_list(papers) -> None:
    counts = Counter(classify_evidence(p).label for p in papers.values())
    assert set(counts) <= set(LABELS)
    assert counts["retraction notice"] >= 3 and counts["erratum"] >= 7


# --- the examples ---------------------------------------------------------------


def test_dog_pharmacokinetics_is_an_animal_study_about_dosage(papers, article) -> None:
    paper = papers["33847897"]  # Oral Pharmacokinetics in Beagle Dogs of ... 7-HMG
    evidence = classify_evidence(paper)
    assert (evidence.label, evidence.subject) == ("animal study", "animal")
    primary = primary_section(match_sections(paper, article, evidence))
    assert primary.title == "Dosage, strains and pharmacokinetics"
    assert "Pharmacokinetics" in primary.terms[0].found
    assert primary.terms[0].places == ("title", "abstract")


def test_kratom_deaths_are_human_case_data_about_side_effects(papers, article) -> None:
    paper = papers["34091497"]  # Kratom-Associated Fatalities in Northern Nevada
    evidence = classify_evidence(paper)
    assert (evidence.label, evidence.subject) == ("case report", "human")
    matches = match_sections(paper, article, evidence)
    primary = primary_section(matches)
    assert primary.name == "side-effects"
    assert {"Fatalities", "Fatal", "deaths"} <= set(primary.matched_terms)
    assert primary.terms[0].places == ("title", "abstract")
    assert [m.name for m in matches] == ["user-experience", "side-effects"]  # article order


# --- the shipped article's sections: each rule, positive and negative ---------------------

SECTIONS = [
    # (section, pmid, derived with kratom?, a text the rule must have found)
    ("what-is-kratom", "33847897", False, "7-Hydroxymitragynine"),
    ("what-is-kratom", "34052351", True, "phytochemistry"),  # an herbal medicine's review
    ("mechanism", "33782947", True, "μ-opioid"),  # compounds at mu-opioid receptor isoforms
    ("analgesia", "33964360", True, "nociceptive"),  # pain relief by a Rubiaceae plant's leaves
    ("anti-inflammatory", "34082247", True, "anti-inflammatory"),
    ("neuroprotection", "34082247", True, "Neuroprotective"),
    ("user-experience", "33342583", False, "case report"),  # evidence label, a kratom letter
    ("user-experience", "29775638", True, "survey"),  # a nationwide survey
    ("pharmacokinetics", "33847897", False, "Pharmacokinetics"),
    ("side-effects", "34091497", False, "Fatalities"),
    ("side-effects", "33342583", False, "Withdrawal"),
    ("legal-status", "32949418", True, "legalization"),  # attitudes to cannabis legalization
    ("neuropathic-pain", "34087549", False, "neuralgia"),
    ("neuropathic-pain", "34097069", False, "Pregabalin"),
    ("neuropathic-pain", "33222681", False, "neuropathic pain"),
]
NOT_SECTIONS = [
    # (section, pmid, derived with kratom?) — the section must not match
    ("what-is-kratom", "34091497", False),  # kratom deaths: not about the plant
    ("mechanism", "33847897", False),  # names the mu-opioid receptor once, in its background
    ("analgesia", "33847897", False),
    ("anti-inflammatory", "34091497", False),
    ("neuroprotection", "33342583", False),
    ("user-experience", "33847897", False),  # dogs
    ("pharmacokinetics", "33342583", False),
    ("pharmacokinetics", "34091497", False),  # blood levels once, no pharmacokinetics
    ("side-effects", "33847897", False),  # "well tolerated ... no adverse events" only
    ("legal-status", "34091497", False),
    ("neuropathic-pain", "34062414", False),  # complex regional pain syndrome
    ("neuropathic-pain", "33892000", False),  # neuropathic pain named once among indications
    ("neuropathic-pain", "33342583", False),  # gabapentin alone is not neuropathic pain
]


@pytest.mark.parametrize(("section", "pmid", "derived", "found"), SECTIONS)
def test_section_rule_matches(papers, article, section, pmid, derived, found) -> None:
    paper = with_kratom(papers[pmid]) if derived else papers[pmid]
    matches = {m.name: m for m in match_sections(paper, article)}
    assert section in matches, [m.explain() for m in matches.values()]
    match = matches[section]
    assert any(found.casefold() in f.casefold() for f in match.matched_terms) or any(
        found in h.found for h in match.terms if h.kind == "evidence"
    ), match.explain()
    assert match.score >= next(s for s in article.sections if s.name == section).min_score
    if derived:  # the same real record without kratom: the kratom sections stay shut
        without = {m.name for m in match_sections(papers[pmid], article)}
        assert section not in without


@pytest.mark.parametrize(("section", "pmid", "derived"), NOT_SECTIONS)
def test_section_rule_says_no(papers, article, section, pmid, derived) -> None:
    paper = with_kratom(papers[pmid]) if derived else papers[pmid]
    assert section not in {m.name for m in match_sections(paper, article)}


def test_every_shipped_section_is_tested(article) -> None:
    names = [s.name for s in article.sections]
    assert {s for s, *_ in SECTIONS} == set(names) == {s for s, *_ in NOT_SECTIONS}


def test_no_section_means_other(papers, article) -> None:
    matches = match_sections(papers["17920331"], article)  # an early endosome review
    assert matches == (OTHER,)
    assert OTHER.title == "Other" and OTHER.primary


def test_exactly_one_primary_and_the_article_order(papers, article) -> None:
    order = [s.name for s in article.sections]
    for paper in papers.values():
        matches = match_sections(paper, article)
        assert sum(m.primary for m in matches) == 1
        names = [m.name for m in matches if not m.is_other]
        assert names == sorted(names, key=order.index)


def test_matched_terms_can_be_highlighted(papers, article) -> None:
    paper = papers["34091497"]
    spans = highlight_spans(paper.title, match_sections(paper, article))
    marked = [paper.title[a:b] for a, b in spans]
    assert marked == ["Kratom", "Fatalities", "Mitragynine", "Fatal"]


# --- ranking -----------------------------------------------------------------------------


def test_score_is_a_transparent_sum(papers, article) -> None:
    paper = papers["34091497"]
    evidence = classify_evidence(paper)
    score = score_paper(paper, evidence, match_sections(paper, article, evidence), NOW)
    parts = {p.name: p.points for p in score.parts}
    assert parts == {"terms": 6.0, "evidence": 3.0, "human data": 2.0, "recency": 3.0}
    assert score.total == 14.0 and score.section == "side-effects"
    assert score.explain().startswith("score 14 = terms 6 (side-effects: ")
    assert "+ evidence 3 (case report) + human data 2 (human) + recency 3 (2 days old)" in (
        score.explain()
    )


def test_ranking_orders_and_drops_nothing(papers, article) -> None:
    scored = []
    for paper in papers.values():
        evidence = classify_evidence(paper)
        scored.append(
            (
                paper.pmid,
                score_paper(paper, evidence, match_sections(paper, article, evidence), NOW),
            )
        )
    order = ranked(scored)
    assert sorted(order) == sorted(pmid for pmid, _ in scored)
    totals = [dict(scored)[pmid].total for pmid in order]
    assert totals == sorted(totals, reverse=True)
    assert ranked(reversed(scored)) == order  # ties broken the same way whatever came first


def test_recency_fades_over_a_year(papers, article) -> None:
    paper = papers["34091497"]
    evidence = classify_evidence(paper)
    matches = match_sections(paper, article, evidence)
    later = score_paper(paper, evidence, matches, NOW + dt.timedelta(days=400))
    assert dict((p.name, p.points) for p in later.parts)["recency"] == 0.0


# --- agreement with the hand-labelled set -----------------------------------------------


def test_agreement_with_hand_labels(papers, article) -> None:
    labelled = tomllib.loads((FIXTURES / "labels.toml").read_text())["paper"]
    per_label: dict[str, list[int]] = {}
    per_batch: dict[int, list[int]] = {}
    evidence_ok = subject_ok = sections_ok = primary_ok = 0
    for row in labelled:
        paper = papers[row["pmid"]]
        evidence = classify_evidence(paper)
        matches = match_sections(paper, article, evidence)
        hit = evidence.label == row["evidence"]
        tally = per_label.setdefault(row["evidence"], [0, 0])
        tally[0] += hit
        tally[1] += 1
        batch = per_batch.setdefault(row["batch"], [0, 0])
        batch[0] += hit
        batch[1] += 1
        evidence_ok += hit
        subject_ok += evidence.subject == row.get("subject")
        sections_ok += {m.name for m in matches if not m.is_other} == set(row["sections"])
        primary_ok += primary_section(matches).name == row.get("primary", "other")
    n = len(labelled)
    print(f"\nhand-labelled records: {n}")
    for label, (ok, total) in sorted(per_label.items(), key=lambda kv: -kv[1][1]):
        print(f"  {label:28s} {ok}/{total}")
    for batch, (ok, total) in sorted(per_batch.items()):
        print(f"  evidence, batch {batch}: {ok}/{total} (labels.toml says how each was drawn)")
    print(
        f"  evidence {evidence_ok}/{n} = {evidence_ok / n:.0%}, subject {subject_ok}/{n} = "
        f"{subject_ok / n:.0%}, sections {sections_ok}/{n} = {sections_ok / n:.0%}, "
        f"primary section {primary_ok}/{n} = {primary_ok / n:.0%}"
    )
    assert n >= 40
    assert evidence_ok / n >= EVIDENCE_FLOOR
    assert subject_ok / n >= SUBJECT_FLOOR
    assert sections_ok / n >= SECTIONS_FLOOR and primary_ok / n >= SECTIONS_FLOOR
