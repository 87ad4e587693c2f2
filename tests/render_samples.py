"""Digest and feed values for the rendering tests, built from real PubMed records.

``fixtures/render/pubmed-papers.xml`` holds four records from ``pubmed21n1298.xml.gz``
(see ``fixtures/render/README.md``), read with litwatch's own parser. Everything else
(watches, times, statuses) is made up here, with fixed times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import cache
from pathlib import Path

from litwatch.deliver.feeds import Feed, FeedEntry, feed_file_name, feed_url
from litwatch.parse.pubmed_xml import parse_pubmed_xml
from litwatch.records import (
    AbstractSection,
    Author,
    Digest,
    DigestItem,
    Paper,
    Subscription,
    WatchStatus,
)
from litwatch.triage.note import triage_note

FIXTURE = Path(__file__).parent / "fixtures" / "render" / "pubmed-papers.xml"
UTC = dt.UTC
NOW = dt.datetime(2021, 6, 7, 7, 0, 12, tzinfo=UTC)
LATER = dt.datetime(2021, 6, 14, 7, 0, 0, tzinfo=UTC)

KRATOM_FATALITIES = "34091497"  # unstructured abstract labelled ABSTRACT, no PMCID
BEAGLE_PK = "33847897"  # structured abstract with CONCLUSIONS, 10 authors, PMCID
KRATOM_LETTER = "33342583"  # no abstract, MedlineDate "2021 May-Jun", quoted title
SOX10 = "34095692"  # <i> in the title, labels without NlmCategory, 11 authors

WATCH_TITLES = {
    "kratom": "Kratom and mitragynine",
    "neuropathic-pain": "Neuropathic pain treatments",
    "liver": "Kratom and liver injury",
}


@cache
def papers() -> dict[str, Paper]:
    parsed = [p for p in parse_pubmed_xml(FIXTURE.read_bytes()) if isinstance(p, Paper)]
    return {p.pmid: p for p in parsed}


def subscription(**changes) -> Subscription:
    sub = Subscription(
        name="weekly-kratom",
        title="Kratom article: weekly literature watch",
        watches=("kratom", "neuropathic-pain", "liver"),
        recipients=("editor@example.org",),
        intro="New papers for “Kratom's Effects on Neuropathic Pain”. Check the "
        "pharmacology and safety sections first.",
    )
    return replace(sub, **changes)


def statuses(failing: bool = False) -> tuple[WatchStatus, ...]:
    return (
        WatchStatus(
            name="kratom",
            title=WATCH_TITLES["kratom"],
            term="kratom OR mitragynine OR Mitragyna speciosa",
            query_translation='"kratom"[All Fields] OR "mitragynine"[Supplementary Concept] '
            'OR "mitragynine"[All Fields] OR ("mitragyna"[MeSH Terms] OR "mitragyna"[All Fields])',
            found=5,
            new=3,
            checked_until=dt.datetime(2021, 6, 7, 6, 0, tzinfo=UTC),
        ),
        WatchStatus(
            name="neuropathic-pain",
            title=WATCH_TITLES["neuropathic-pain"],
            term='"neuropathic pain"[tiab] AND (treatment OR therapy)',
            query_translation='"neuropathic pain"[Title/Abstract] AND ("treatment"[All Fields] '
            'OR "therapy"[All Fields])',
            found=14,
            new=2,
            checked_until=dt.datetime(2021, 6, 7, 6, 0, tzinfo=UTC),
        ),
        WatchStatus(
            name="liver",
            title=WATCH_TITLES["liver"],
            term="kratom AND (liver OR hepatotoxicity)",
            query_translation=None if failing else '"kratom"[All Fields] AND "liver"[All Fields]',
            found=0,
            new=0,
            checked_until=dt.datetime(2021, 6, 3, 6, 0, tzinfo=UTC),
            failing_since=dt.datetime(2021, 6, 4, 6, 0, tzinfo=UTC) if failing else None,
            error="NCBI answered HTTP 502 (Bad Gateway) after 5 retries" if failing else None,
        ),
    )


def digest_items() -> tuple[DigestItem, ...]:
    p = papers()
    return (
        DigestItem(
            p[KRATOM_FATALITIES],
            ("kratom", "liver"),
            NOW - dt.timedelta(days=1),
            triage=triage_note(p[KRATOM_FATALITIES]),
        ),
        DigestItem(
            p[BEAGLE_PK], ("kratom",), NOW - dt.timedelta(days=2), triage=triage_note(p[BEAGLE_PK])
        ),
        DigestItem(
            p[SOX10],
            ("neuropathic-pain",),
            NOW - dt.timedelta(days=1),
            triage=triage_note(p[SOX10]),
        ),
        DigestItem(
            p[KRATOM_LETTER],
            ("kratom", "neuropathic-pain"),
            NOW - dt.timedelta(days=3),
            triage=triage_note(p[KRATOM_LETTER]),
        ),
    )


def digest(failing: bool = False, more: int = 0, items=None, **sub_changes) -> Digest:
    return Digest(
        subscription=subscription(**sub_changes),
        key="weekly-kratom/2021-06-07T07:00",
        period_start=dt.datetime(2021, 5, 31, 7, 0, tzinfo=UTC),
        period_end=dt.datetime(2021, 6, 7, 7, 0, tzinfo=UTC),
        items=digest_items() if items is None else items,
        more=more,
        watch_status=statuses(failing),
        feed_url="https://feeds.example.org/litwatch/all.atom",
    )


def feed(
    fmt: str = "atom", entries=None, base_url: str = "https://feeds.example.org/litwatch/"
) -> Feed:
    if entries is None:
        entries = tuple(
            FeedEntry(i.paper, i.watches, i.first_seen, i.first_seen) for i in digest_items()
        )
    return Feed(
        name="all",
        title="litwatch: all watches",
        self_url=feed_url(base_url, feed_file_name("all", fmt)),
        updated=dt.datetime(2021, 6, 7, 6, 0, tzinfo=UTC),
        entries=entries,
        alternate_url="https://example.org/articles/kratom-neuropathic-pain",
        description="New papers on kratom and neuropathic pain",
        watch_titles=WATCH_TITLES,
    )


HOSTILE_TITLE = (
    "Evil <script>alert(1)</script> & co < 5 \x00\x0b\u200f\ufffe\ud800 title\r\nsecond line "
    + "very long " * 500
)


def hostile_paper() -> Paper:
    """A paper whose every text is out to break the HTML or the XML."""
    return Paper(
        pmid="99999999",
        title=HOSTILE_TITLE,
        title_html="<i>Evil</i> <script>alert(1)</script> &amp; co &lt; 5 & <b>bold <img src=x "
        "onerror=alert(2)></b> <sup>\x00\x0b\u200f</sup> </u></i><sub>unclosed "
        + "very long "
        * 500,
        doi='10.1000/"><script>alert(3)</script>',
        pmcid="PMC1\x00",
        abstract=(
            AbstractSection("<script>alert(4)</script> stray & and < and ]]> \x0c\x1f\u200f"),
            AbstractSection(
                "It works.\r\nReally\x00.", label="<b>CONCLUSIONS</b>", category="CONCLUSIONS"
            ),
        ),
        authors=(
            Author(last_name="<script>", initials="X\x01"),
            Author(collective_name="R&D <Group>"),
        ),
        publication_types=("Journal Article <script>", "Case Reports\x0b"),
    )
