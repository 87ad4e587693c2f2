"""The article's own references: a retraction reaches every subscriber at the top of the
next digest (even though no digest ever carried that paper), and papers that newly cite
the references come as their own group, deduplicated against everything else."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import sqlite3
from pathlib import Path

from lxml import etree

from litwatch.article import refs_of
from litwatch.config import load_settings, load_watches
from litwatch.pipeline import run_once
from litwatch.references import citing_watch
from litwatch.standin.eutils import EutilsStandin
from litwatch.store import schema
from litwatch.store.repository import Store
from litwatch.triage.matching import Article
from tests.site import KRATOM, make_site
from tests.test_updates import DIGEST, revise

DOPAMINE = "10704411"  # "Dopamine modulates acute responses to cocaine, nicotine and ethanol in Drosophila."
CITERS = {"12486199", "15550987"}  # slice records whose reference lists cite it
DOG_PK = "33847897"  # a kratom paper the article cites
NEW_CITER = "39000001"  # a record we add later, citing DOPAMINE


def a_new_citer(eutils: EutilsStandin, created: dt.date) -> bytes:
    """A real citing record under a new PMID, created on ``created``."""
    root = etree.fromstring(eutils.record(int(sorted(CITERS)[0])).xml)
    root.find("MedlineCitation/PMID").text = NEW_CITER
    for history in root.iterfind("PubmedData/History/PubMedPubDate"):
        history.find("Year").text = str(created.year)
        history.find("Month").text = str(created.month)
        history.find("Day").text = str(created.day)
    for article_id in root.iterfind("PubmedData/ArticleIdList/ArticleId"):
        if article_id.get("IdType") == "pubmed":
            article_id.text = NEW_CITER
    return etree.tostring(root)


def kratom_site(tmp_path: Path, eutils: EutilsStandin):
    return make_site(
        tmp_path,
        eutils.base_url,
        {"kratom": KRATOM},
        extra=DIGEST,
        watch_extra='article = "kratom-article"\n',
    )


def run(site, eutils, now: str, pmids=(DOG_PK, DOPAMINE), dois=()):
    settings = load_settings(site.config, env={})
    article = Article(
        "kratom-article", "Kratom and neuropathic pain", pmids=pmids, dois=dois, source=site.config
    )
    watches = [*load_watches(settings.queries_dir), citing_watch(refs_of(article))]
    return run_once(settings, watches, dt.datetime.fromisoformat(now), articles=[article])


def citers(report):
    """What the run did for the watch of the article's new citers."""
    return next(r for r in report.collected.watches if r.watch == "cites-kratom-article")


def messages(root: Path) -> list[email.message.EmailMessage]:
    paths = sorted((root / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.strict) for p in paths]


def test_reference_retraction_and_new_citers(tmp_path: Path, eutils: EutilsStandin) -> None:
    site = kratom_site(tmp_path, eutils)
    first = run(site, eutils, "2021-06-01T08:00:00+00:00")
    assert first.ok
    (refs,) = first.collected.references
    assert refs.references == 2 and refs.fetched == 2 and refs.updated == ()
    citing = citers(first)
    assert citing.seeded and citing.found == len(CITERS)  # today's citers are known, not new

    eutils.add_records(a_new_citer(eutils, dt.date(2021, 6, 2)))
    assert run(site, eutils, "2021-06-02T08:00:00+00:00").ok
    (digest,) = messages(site.root)
    text = digest.get_body(("plain",)).get_content()
    assert "New papers citing the article's references" in text
    assert f"pubmed.ncbi.nlm.nih.gov/{NEW_CITER}/" in text
    assert not any(f"/{pmid}/" in text for pmid in CITERS)

    original = eutils.record(int(DOPAMINE)).xml
    eutils.replace_record(DOPAMINE, revise(original, dt.date(2021, 6, 3), retract=True))
    third = run(site, eutils, "2021-06-03T08:00:00+00:00")
    assert third.collected.references[0].updated == (DOPAMINE,)
    latest = messages(site.root)[-1].get_body(("plain",)).get_content()
    assert "!! RETRACTED (cited by the article): Dopamine modulates" in latest
    assert latest.index("RETRACTED") < latest.index("What was checked")

    for day in ("2021-06-04T08:00:00+00:00", "2021-06-05T08:00:00+00:00"):
        assert run(site, eutils, day).ok
    told = [m.get_body(("plain",)).get_content() for m in messages(site.root)]
    assert sum("RETRACTED" in t for t in told) == 1


def test_reference_checks_cost_one_search_and_one_link_a_day(
    tmp_path: Path, eutils: EutilsStandin
) -> None:
    site = make_site(
        tmp_path, eutils.base_url, {"kratom": KRATOM}, watch_extra='article = "kratom-article"\n'
    )
    run(site, eutils, "2021-06-01T08:00:00+00:00")
    eutils.reset()
    run(site, eutils, "2021-06-02T08:00:00+00:00")
    calls = [(r.endpoint, r.params.get("datetype")) for r in eutils.requests]
    assert sorted(calls, key=str) == sorted(
        [("esearch", "crdt"), ("esearch", "mdat"), ("elink", None)], key=str
    )
    eutils.reset()
    run(site, eutils, "2021-06-02T12:00:00+00:00")  # the same day again: references not re-checked
    assert sorted((r.endpoint, r.params.get("datetype")) for r in eutils.requests) == sorted(
        [("esearch", "crdt"), ("elink", None)], key=str
    )


DOPAMINE_DOI = "10.1016/s0960-9822(00)00336-5"  # the real record's DOI
UNKNOWN_DOI = "10.9999/not-in-pubmed"


def run_with_dois(site, eutils, now: str):
    return run(site, eutils, now, pmids=(DOG_PK,), dois=(DOPAMINE_DOI, UNKNOWN_DOI))


def aid_terms(eutils: EutilsStandin) -> list[str]:
    return [r.params["term"] for r in eutils.requests if "[aid]" in r.params.get("term", "")]


def test_references_given_as_dois(tmp_path: Path, eutils: EutilsStandin) -> None:
    site = kratom_site(tmp_path, eutils)
    first = run_with_dois(site, eutils, "2021-06-01T08:00:00+00:00")
    (refs,) = first.collected.references
    assert refs.references == 2 and refs.fetched == 2  # DOG_PK, and DOPAMINE by its DOI
    assert refs.warnings == (f"1 reference DOI(s) not found in PubMed: {UNKNOWN_DOI}",)
    assert aid_terms(eutils) == [f'"{DOPAMINE_DOI}"[aid]', f'"{UNKNOWN_DOI}"[aid]']
    citing = citers(first)
    assert citing.found == len(CITERS)  # the citers of the reference given by DOI

    eutils.reset()
    run_with_dois(site, eutils, "2021-06-01T12:00:00+00:00")  # the same day: nothing to resolve
    assert aid_terms(eutils) == []
    eutils.reset()
    second = run_with_dois(site, eutils, "2021-06-02T08:00:00+00:00")
    assert aid_terms(eutils) == [f'"{UNKNOWN_DOI}"[aid]']  # a found DOI is kept in the store
    assert second.collected.references[0].warnings == refs.warnings

    original = eutils.record(int(DOPAMINE)).xml
    eutils.replace_record(DOPAMINE, revise(original, dt.date(2021, 6, 3), retract=True))
    third = run_with_dois(site, eutils, "2021-06-03T08:00:00+00:00")
    assert third.collected.references[0].updated == (DOPAMINE,)
    latest = messages(site.root)[-1].get_body(("plain",)).get_content()
    assert "!! RETRACTED (cited by the article): Dopamine modulates" in latest


def with_doi(xml: bytes, doi: str) -> bytes:
    """The record with another DOI (in ArticleIdList and ELocationID)."""
    root = etree.fromstring(xml)
    for element in root.iter("ArticleId", "ELocationID"):
        if element.get("IdType") == "doi" or element.get("EIdType") == "doi":
            element.text = doi
    return etree.tostring(root)


def test_a_reference_pubmed_resolves_later_brings_no_old_citers(
    tmp_path: Path, eutils: EutilsStandin
) -> None:
    site = kratom_site(tmp_path, eutils)
    original = eutils.record(int(DOPAMINE)).xml
    eutils.replace_record(DOPAMINE, with_doi(original, "10.1016/other"))  # not indexed yet
    first = run_with_dois(site, eutils, "2021-06-01T08:00:00+00:00")
    assert first.collected.references[0].references == 1  # DOG_PK only
    citing = citers(first)
    assert citing.seeded and citing.found == 0

    eutils.replace_record(DOPAMINE, original)  # PubMed now knows the DOI
    eutils.add_records(a_new_citer(eutils, dt.date(2021, 6, 2)))
    second = run_with_dois(site, eutils, "2021-06-02T08:00:00+00:00")
    assert second.collected.references[0].references == 2
    citing = citers(second)
    assert not citing.seeded and "query changed: seeded again" not in citing.warnings
    assert citing.found == len(CITERS) + 1 and citing.new == 0  # the backlog of the new reference
    digests = messages(site.root)
    assert not any(f"/{pmid}/" in m.as_string() for m in digests for pmid in {*CITERS, NEW_CITER})

    eutils.reset()
    third = run_with_dois(site, eutils, "2021-06-03T08:00:00+00:00")
    citing = citers(third)
    assert citing.ok and citing.new == 0
    assert [r.endpoint for r in eutils.requests].count("elink") == 1  # covered: no seeding again


def test_a_store_from_before_doi_lookups_keeps_what_its_citers_watches_covered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "litwatch.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in schema.MIGRATIONS[:4]:
        for statement in schema.statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.executemany(
        "INSERT INTO article_refs (article, pmid) VALUES (?, ?)",
        [("kratom-article", DOG_PK), ("kratom-article", DOPAMINE)],
    )
    conn.close()
    with Store.open(path) as store:
        assert store.citers_covered("cites-kratom-article") == {DOG_PK, DOPAMINE}
        assert store.doi_lookups([DOPAMINE_DOI]) == {}
