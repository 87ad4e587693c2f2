"""Article files: the shipped kratom article loads with the sections the article has, and
every mistake in an article file is a ConfigError naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from litwatch.articles import load_article, load_articles
from litwatch.config import shipped_dir
from litwatch.errors import ConfigError
from litwatch.triage import LABELS, Term

ARTICLES = shipped_dir("queries") / "articles"
ARTICLE = ARTICLES / "kratom-neuropathic-pain.toml"


def write(tmp_path: Path, text: str, name: str = "a.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_article_has_the_articles_sections_in_order() -> None:
    article = load_article(ARTICLE)
    assert article.name == "kratom-neuropathic-pain"
    assert article.title.startswith("Kratom's Effects on Neuropathic Pain")
    assert [s.name for s in article.sections] == [
        "what-is-kratom",
        "mechanism",
        "analgesia",
        "anti-inflammatory",
        "neuroprotection",
        "user-experience",
        "pharmacokinetics",
        "side-effects",
        "legal-status",
        "neuropathic-pain",
    ]
    titles = {s.name: s.title for s in article.sections}
    assert titles["side-effects"] == (
        "Side effects: liver, dependence and withdrawal, seizures, interactions, deaths"
    )
    # the kratom sections are about kratom; neuropathic pain in general is not
    assert all(s.requires_topic for s in article.sections[:-1])
    assert not article.sections[-1].requires_topic and article.sections[-1].require
    assert {t.text for t in article.topic if not t.mesh} >= {"mitragyn*", "Mitragyna"}
    assert article.text == ARTICLES / "kratom-neuropathic-pain.txt" and article.text.is_file()


def test_the_shipped_references_are_real_records_of_the_fixtures() -> None:
    article = load_article(ARTICLE)
    # the three kratom papers of the real data, and neuropathic-pain treatment papers
    assert {"33847897", "34091497", "33342583", "34097069", "33222681"} <= set(article.pmids)
    assert article.dois == ("10.1097/md.0000000000026141",)


def test_load_articles_reads_a_folder(tmp_path: Path) -> None:
    assert set(load_articles(ARTICLES)) == {"kratom-neuropathic-pain"}
    assert load_articles(tmp_path / "missing") == {}
    write(tmp_path, 'title = "B"', "b.toml")
    write(tmp_path, 'title = "A"', "a.toml")
    assert list(load_articles(tmp_path)) == ["a", "b"]


def test_a_minimal_article_and_its_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'title = "A"\nreferences = ["123", "https://doi.org/10.1097/PAF.0000000000000695"]\n'
        '[[sections]]\nname = "pk"\ntitle = "PK"\n'
        'terms = ["dose", { term = "half-life", weight = 2, places = ["title"] }]\n'
        'mesh = ["Half-Life", "Mitragyna/pharmacokinetics"]\n',
    )
    article = load_article(path)
    assert (article.pmids, article.dois) == (("123",), ("10.1097/paf.0000000000000695",))
    (section,) = article.sections
    assert section.terms == ("dose", "half-life")
    assert section.mesh == ("Half-Life", "Mitragyna/pharmacokinetics")
    assert section.rules[1] == Term("half-life", 2.0, ("title",))
    assert section.rules[3].mesh and section.rules[3].places == ("mesh",)
    assert (section.min_score, section.weight, section.requires_topic) == (1.0, 1.0, False)
    assert dict(article.weights) == {"title": 3.0, "keywords": 2.0, "mesh": 2.0, "abstract": 1.0}


def test_the_earlier_article_schema_still_loads(tmp_path: Path) -> None:
    # the keys of the first article files (title, text, references, sections with name,
    # title, terms, mesh) mean the same here
    path = write(
        tmp_path,
        'title = "A"\ntext = "a.txt"\nreferences = ["33847897"]\n'
        '[[sections]]\nname = "x"\ntitle = "X"\nterms = ["dose*"]\nmesh = ["Half-Life"]\n',
    )
    article = load_article(path)
    assert article.text == tmp_path / "a.txt" and article.sections[0].terms == ("dose*",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('title = "A"\nrefs = []', "a.toml: unknown key 'refs' (allowed: title, text, url,"),
        ('references = ["1"]', "title: missing or empty"),
        ('title = "A"\nreferences = ["not-an-id"]', "references[0]: not a PMID or a DOI"),
        ('title = "A"\nreferences = "123"', "references: expected a list"),
        ('title = "A"\nurl = "ftp://x"', "url: not an http(s) URL"),
        ('title = "A"\n[weights]\nauthors = 1', "weights: unknown key 'authors'"),
        ('title = "A"\n[weights]\ntitle = "high"', "weights.title: expected a number"),
        ('title = "A"\n[topic]\nwords = ["x"]', "topic: unknown key 'words'"),
        ('title = "A"\n[topic]\nterms = []', "topic: a topic needs terms or mesh"),
        ('title = "A"\nsections = 3', "sections: expected [[sections]] tables"),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a"]\nwords = ["b"]',
            "sections[0]: unknown key 'words' (allowed: name, title, terms,",
        ),
        ('title = "A"\n[[sections]]\nname = "x"\ntitle = "X"', "a section needs terms, mesh"),
        ('title = "A"\n[[sections]]\ntitle = "X"\nterms = ["a"]', "sections[0].name: missing"),
        (
            'title = "A"\n[[sections]]\nname = "Side Effects"\ntitle = "X"\nterms = ["a"]',
            "a section name takes a-z, 0-9 and '-'",
        ),
        ('title = "A"\n[[sections]]\nname = "other"\ntitle = "X"\nterms = ["a"]', "not 'other'"),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "Other"\nterms = ["a"]',
            "'Other' is where unmatched papers go",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a"]\n'
            '[[sections]]\nname = "x"\ntitle = "Y"\nterms = ["b"]',
            "two sections share the name 'x'",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a?b"]',
            "sections[0] (x).terms[0]: not a term: 'a?b'",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a|"]',
            "sections[0] (x).terms[0]: not a term",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = [{ word = "a" }]',
            "terms[0]: unknown key 'word' (allowed: term, weight, places)",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\n'
            'terms = [{ term = "a", places = ["authors"] }]',
            "terms[0].places: expected a list of places",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = [{ term = "a", weight = 0 }]',
            "terms[0].weight: must be positive",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nmesh = ["A/b/c"]',
            "mesh[0]: not a MeSH heading",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nevidence = { "rct" = 1 }',
            "unknown evidence label 'rct'",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a"]\nrequires_topic = true',
            "requires_topic needs a [topic] table",
        ),
        (
            'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nterms = ["a"]\nmin_score = -1',
            "min_score: must be at least 0",
        ),
        ('title = "A"\ntitle2 = [', "not valid TOML"),
    ],
)
def test_article_files_are_strict(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_article(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_every_evidence_label_can_weigh_in_a_section(tmp_path: Path) -> None:
    table = ", ".join(f'"{label}" = 1' for label in LABELS)
    path = write(
        tmp_path, f'title = "A"\n[[sections]]\nname = "x"\ntitle = "X"\nevidence = {{ {table} }}\n'
    )
    assert len(load_article(path).sections[0].evidence) == len(LABELS)
