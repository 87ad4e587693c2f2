"""The shipped article's sections on real records, the article file's strictness, and a
digest grouped by section, in the article's order, with the matched terms shown."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import gzip
import shutil
from pathlib import Path

import pytest

from litwatch.articles import load_article
from litwatch.config import shipped_dir
from litwatch.errors import ConfigError
from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import Paper
from litwatch.standin.eutils import EutilsStandin
from litwatch.triage.note import triage_note
from tests.site import KRATOM, NEUROPATHIC, make_site

SLICE = Path(__file__).parents[1] / "src/litwatch/standin/data/pubmed-slice.xml.gz"
ARTICLE = shipped_dir("queries") / "articles" / "kratom-neuropathic-pain.toml"
NOW = dt.datetime(2021, 6, 8, tzinfo=dt.UTC)
PK = "Dosage, strains and pharmacokinetics"
SIDE_EFFECTS = "Side effects: liver, dependence and withdrawal, seizures, interactions, deaths"
NEUROPATHIC_PAIN = "Neuropathic pain and its treatment"


@pytest.fixture(scope="module")
def papers() -> dict[str, Paper]:
    with gzip.open(SLICE) as fh:
        return {p.pmid: p for p in parse_pubmed_xml(fh) if isinstance(p, Paper)}


@pytest.fixture(scope="module")
def article():
    return load_article(ARTICLE)


@pytest.mark.parametrize(
    ("pmid", "evidence", "first_section", "terms"),
    [
        # "Oral Pharmacokinetics in Beagle Dogs of ... 7-Hydroxymitragynine"
        ("33847897", "animal study (animal)", PK, {"Pharmacokinetics", "half-life"}),
        # "Kratom-Associated Fatalities in Northern Nevada-What Mitragynine Level Is Fatal?"
        ("34091497", "case report (human)", SIDE_EFFECTS, {"Fatalities", "deaths"}),
        # "Regional brain morphology predicts pain relief in trigeminal neuralgia"
        ("34087549", "observational study (human)", NEUROPATHIC_PAIN, {"neuralgia"}),
        # "Analgesic Effects of Tonic and Burst Dorsal Root Ganglion Stimulation..." (rats)
        ("34096146", "animal study (animal)", NEUROPATHIC_PAIN, {"Dorsal Root Ganglion"}),
    ],
)
def test_what_a_paper_means_for_the_article(
    papers, article, pmid, evidence, first_section, terms
) -> None:
    note = triage_note(papers[pmid], article, NOW)
    assert note.label == evidence
    assert note.sections[0] == first_section
    assert terms <= set(note.matched_terms)
    assert note.evidence_why.startswith(evidence.split(" (")[0])
    assert note.score_why.startswith(f"score {note.score:g} = terms ")


def test_sections_say_no_as_well(papers, article) -> None:
    neuralgia = triage_note(papers["34087549"], article, NOW)
    assert SIDE_EFFECTS not in neuralgia.sections
    assert "What kratom is and its alkaloids" not in neuralgia.sections
    dogs = triage_note(papers["33847897"], article, NOW)
    assert "Legal status and regulation" not in dogs.sections


def test_a_paper_matching_no_section_has_none(papers, article) -> None:
    # "Tracking down the elusive early endosome."
    assert triage_note(papers["17920331"], article, NOW).sections == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('title = "A"\nrefs = []', "unknown key 'refs'"),
        ('title = "A"\nreferences = ["not-an-id"]', "not a PMID or a DOI"),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"',
            "a section needs terms, mesh or evidence",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a"]\nwords = ["b"]',
            "unknown key 'words'",
        ),
        ('references = ["123"]', "title: missing or empty"),
    ],
)
def test_article_files_are_strict(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_article(path)


def test_dois_and_pmids_are_both_references(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        'title = "A"\nreferences = ["123", "https://doi.org/10.1097/PAF.0000000000000695"]'
    )
    article = load_article(path)
    assert article.pmids == ("123",)
    assert article.dois == ("10.1097/paf.0000000000000695",)


def test_a_watch_naming_a_missing_article_is_a_config_error(
    tmp_path: Path, eutils: EutilsStandin, capsys
) -> None:
    site = make_site(tmp_path, eutils.base_url, watch_extra='article = "nope"\n')
    assert site.cli("check") == 2
    assert "article 'nope' not found" in capsys.readouterr().err


def test_the_digest_is_grouped_by_section(tmp_path: Path, eutils: EutilsStandin) -> None:
    site = make_site(
        tmp_path,
        eutils.base_url,
        {"kratom": KRATOM, "neuropathic": NEUROPATHIC},
        watch_extra='article = "kratom-neuropathic-pain"\n',
        extra='[digests.weekly]\ntitle = "Kratom"\nwatches = ["kratom", "neuropathic"]\n'
        'recipients = ["editor@example.org"]\nschedule = "0 7 * * *"\n',
    )
    (site.root / "queries" / "articles").mkdir()
    shutil.copy(ARTICLE, site.root / "queries" / "articles")
    assert site.run("2021-04-01T08:00:00Z") == 0
    assert site.run("2021-06-07T08:00:00Z") == 0
    (path,) = (site.root / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.strict)
    text = message.get_body(("plain",)).get_content()
    article = load_article(ARTICLE)
    flat = " ".join(text.split())
    shown = [s.title for s in article.sections if f"{s.title} (" in flat]
    assert len(shown) >= 2
    positions = [flat.index(f"{title} (") for title in shown]
    assert positions == sorted(positions)  # the article's order
    assert "Evidence: animal study (animal)" in text
    assert "matched: PHARMACOKINETICS" in flat
    html = message.get_body(("html",)).get_content()
    assert "<mark" in html
