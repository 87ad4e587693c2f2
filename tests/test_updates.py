"""Updates to papers already delivered: PubMed revises a record (retracted, erratum, now in
an issue), litwatch notices with one [mdat] search a day, fetches only that record again,
and tells each recipient once, at the top of the next digest; the feed entry's `updated`
moves."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import Paper
from litwatch.standin.eutils import EutilsStandin
from litwatch.updates import changes
from tests.site import KRATOM, Site, make_site

FATALITIES = "34091497"  # "Kratom-Associated Fatalities in Northern Nevada..." (real record)
EDITOR = "editor@example.org"
DIGEST = f"""
[smtp]
sender = "litwatch@example.org"
[digests.daily]
title = "Kratom literature"
watches = ["kratom"]
recipients = ["{EDITOR}"]
schedule = "0 7 * * *"
"""


def revise(
    xml: bytes,
    revised: dt.date,
    *,
    retract: bool = False,
    erratum: bool = False,
    issue: str | None = None,
) -> bytes:
    """The record as PubMed would serve it after a revision on ``revised``."""
    root = etree.fromstring(xml)
    citation = root.find("MedlineCitation")
    date = citation.find("DateRevised")
    if date is None:
        date = etree.SubElement(citation, "DateRevised")
        for tag in ("Year", "Month", "Day"):
            etree.SubElement(date, tag)
    date.find("Year").text, date.find("Month").text, date.find("Day").text = (
        f"{revised.year}",
        f"{revised.month:02d}",
        f"{revised.day:02d}",
    )
    links = citation.find("CommentsCorrectionsList")
    if links is None and (retract or erratum):
        links = etree.SubElement(citation, "CommentsCorrectionsList")
    if retract:
        link = etree.SubElement(links, "CommentsCorrections", RefType="RetractionIn")
        etree.SubElement(link, "RefSource").text = "Am J Forensic Med Pathol. 2021 Sep;42(3):e1"
        etree.SubElement(link, "PMID", Version="1").text = "34500001"
        types = citation.find("Article/PublicationTypeList")
        etree.SubElement(types, "PublicationType", UI="D016441").text = "Retracted Publication"
    if erratum:
        link = etree.SubElement(links, "CommentsCorrections", RefType="ErratumIn")
        etree.SubElement(link, "RefSource").text = "Am J Forensic Med Pathol. 2021 Sep;42(3):e2"
        etree.SubElement(link, "PMID", Version="1").text = "34500002"
    if issue:
        journal_issue = citation.find("Article/Journal/JournalIssue")
        etree.SubElement(journal_issue, "Volume").text = issue
    return etree.tostring(root)


def paper_of(xml: bytes) -> Paper:
    (paper,) = [p for p in parse_pubmed_xml(b"<PubmedArticleSet>" + xml + b"</PubmedArticleSet>")]
    return paper


@pytest.fixture
def site(tmp_path: Path, eutils: EutilsStandin) -> Site:
    return make_site(tmp_path, eutils.base_url, {"kratom": KRATOM}, extra=DIGEST)


def digests_to(site: Site) -> list[email.message.EmailMessage]:
    paths = sorted((site.root / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.strict) for p in paths]


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def test_changes_on_a_real_record() -> None:
    with EutilsStandin() as eutils:
        original = eutils.record(int(FATALITIES)).xml
    before = paper_of(original)
    assert changes(before, before) == ()
    retracted = changes(before, paper_of(revise(original, dt.date(2021, 9, 1), retract=True)))
    assert [u.kind for u in retracted] == ["retracted"]
    assert retracted[0].serious and "PMID 34500001" in retracted[0].detail
    both = changes(
        before, paper_of(revise(original, dt.date(2021, 9, 1), erratum=True, retract=True))
    )
    assert [u.kind for u in both] == ["retracted", "erratum"]  # the serious one first
    assert (
        changes(before, paper_of(revise(original, dt.date(2021, 9, 1)))) == ()
    )  # MeSH-only revision


def test_a_retraction_reaches_the_next_digest_once_at_the_top(
    site: Site, eutils: EutilsStandin, capsys
) -> None:
    assert site.run("2021-06-01T08:00:00Z") == 0
    assert site.run("2021-06-07T08:00:00Z") == 0
    (first,) = digests_to(site)
    assert FATALITIES in text_of(first)
    feed_before = feedparser.parse((site.root / "feeds" / "kratom.atom").read_bytes()).entries[0]

    original = eutils.record(int(FATALITIES)).xml
    eutils.replace_record(FATALITIES, revise(original, dt.date(2021, 6, 9), retract=True))
    before = len(eutils.requests)
    assert site.run("2021-06-10T08:00:00Z") == 0
    fetched = [r for r in eutils.requests[before:] if r.endpoint == "efetch"]
    assert [r.ids for r in fetched] == [1]  # only the revised record is fetched again

    messages = digests_to(site)
    assert len(messages) == 2
    update = text_of(messages[1])
    assert "Updates to papers you already have" in update
    assert "!! RETRACTED: Kratom-Associated Fatalities" in update
    assert update.index("RETRACTED") < update.index("What was checked")
    html = messages[1].get_body(("html",)).get_content()
    assert html.index("RETRACTED") < html.index("<h1")

    feed_after = feedparser.parse((site.root / "feeds" / "kratom.atom").read_bytes()).entries[0]
    assert feed_after.id == feed_before.id
    assert feed_after.updated != feed_before.updated
    assert feed_after.updated.startswith("2021-06-10")

    # Told once: later digests do not repeat it, and the same revision is not re-reported.
    for day in ("2021-06-11T08:00:00Z", "2021-06-12T08:00:00Z", "2021-06-20T08:00:00Z"):
        assert site.run(day) == 0
    assert sum("RETRACTED" in text_of(m) for m in digests_to(site)) == 1
    exported = site.export(capsys)
    assert [u["kind"] for u in exported[0]["updates"]] == ["retracted"]


def test_update_checks_cost_one_search_per_watch_per_day(site: Site, eutils: EutilsStandin) -> None:
    site.run("2021-06-01T08:00:00Z")
    site.run("2021-06-07T08:00:00Z")
    eutils.reset()
    site.run("2021-06-08T08:00:00Z")
    datetypes = [r.params.get("datetype") for r in eutils.requests if r.endpoint == "esearch"]
    assert datetypes == ["crdt", "mdat"]
    assert eutils.count("efetch") == 0  # nothing was revised
    eutils.reset()
    site.run("2021-06-08T12:00:00Z")
    assert [r.params.get("datetype") for r in eutils.requests if r.endpoint == "esearch"] == [
        "crdt"
    ]


def test_an_issue_assignment_is_an_update_too(site: Site, eutils: EutilsStandin) -> None:
    site.run("2021-06-01T08:00:00Z")
    site.run("2021-06-07T08:00:00Z")
    original = eutils.record(int(FATALITIES)).xml
    assert not paper_of(original).journal.volume  # ahead of print in the real data
    eutils.replace_record(FATALITIES, revise(original, dt.date(2021, 6, 9), issue="42"))
    site.run("2021-06-10T08:00:00Z")
    text = text_of(digests_to(site)[-1])
    assert re.search(r"IN AN ISSUE: Kratom-Associated Fatalities", text)
