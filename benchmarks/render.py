"""Rendering: the digest email (HTML + text) for 1,000 papers and the feed files (Atom +
RSS) for 100 entries, with the shipped templates, from real records, each paper with its
triage note for the shipped article (evidence, sections, matched terms) as a real run has.
Computing those notes is timed on its own: a run pays it once per paper, before rendering.

Reference, measured in the same run: a minimal autoescaped Jinja2 template that writes each
paper's title, authors and journal, over the same items: what any template engine costs for
that many papers. Ratios are litwatch's time / the reference's time (lower is better).
"""

from __future__ import annotations

import datetime as dt
import time

import jinja2

from benchmarks.common import median
from litwatch.articles import load_article
from litwatch.config import shipped_dir
from litwatch.deliver.feeds import Feed, FeedEntry, feed_file_name, feed_url, render_feed_files
from litwatch.records import Digest, DigestItem, Paper, Subscription, TriageNote, WatchStatus
from litwatch.render import make_environment, render_digest
from litwatch.triage.matching import Article
from litwatch.triage.note import triage_note

UTC = dt.UTC
NOW = dt.datetime(2021, 6, 7, 7, 0, tzinfo=UTC)
WATCHES = ("kratom", "neuropathic-pain", "liver-injury")
BASE_URL = "https://feeds.example.org/litwatch/"
REFERENCE = jinja2.Environment(autoescape=True).from_string(
    "{% for i in items %}<li>{{ i.paper.title }} {{ i.paper.authors|map(attribute='last_name')"
    "|select|join(', ') }} {{ i.paper.journal.title }}</li>\n{% endfor %}"
)


def shipped_article() -> Article:
    return load_article(shipped_dir("queries") / "articles" / "kratom-neuropathic-pain.toml")


def make_digest(papers: list[Paper], notes: list[TriageNote], article: Article) -> Digest:
    items = tuple(
        DigestItem(p, WATCHES[: 1 + i % 3], NOW - dt.timedelta(hours=i % 168), note)
        for i, (p, note) in enumerate(zip(papers, notes, strict=True))
    )
    return Digest(
        subscription=Subscription(
            name="weekly",
            title="Kratom article: weekly literature watch",
            watches=WATCHES,
            recipients=("editor@example.org",),
            max_papers=len(items),
            intro="New papers for 'Kratom's Effects on Neuropathic Pain'.",
        ),
        key="weekly/2021-06-07T07:00",
        period_start=NOW - dt.timedelta(days=7),
        period_end=NOW,
        items=items,
        watch_status=tuple(
            WatchStatus(name=w, title=w.replace("-", " ").capitalize(), term=w, found=len(items))
            for w in WATCHES
        ),
        feed_url=BASE_URL + "all.atom",
        sections=tuple(s.title for s in article.sections),
    )


def make_feed(papers: list[Paper], notes: list[TriageNote]) -> Feed:
    entries = tuple(
        FeedEntry(p, WATCHES[: 1 + i % 3], NOW - dt.timedelta(hours=i), NOW, note)
        for i, (p, note) in enumerate(zip(papers, notes, strict=True))
    )
    return Feed(
        name="all",
        title="litwatch: all watches",
        self_url=feed_url(BASE_URL, feed_file_name("all", "atom")),
        updated=NOW,
        entries=entries,
        watch_titles={w: w.capitalize() for w in WATCHES},
    )


def _timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return median(times), result


def run(papers: list[Paper], digest_size: int, feed_size: int, runs: int) -> dict:
    env = make_environment()
    article = shipped_article()
    shown = papers[:digest_size]
    triage_s, notes = _timed(lambda: [triage_note(p, article, NOW) for p in shown], runs)
    digest = make_digest(shown, notes, article)  # type: ignore[arg-type]
    feed = make_feed(papers[:feed_size], notes[:feed_size])  # type: ignore[index]
    render_digest(env, digest, NOW, "html")  # compile the templates outside the timing
    render_feed_files(env, feed, BASE_URL, NOW)
    html_s, html = _timed(lambda: render_digest(env, digest, NOW, "html"), runs)
    text_s, text = _timed(lambda: render_digest(env, digest, NOW, "text"), runs)
    ref_s, _ = _timed(lambda: REFERENCE.render(items=digest.items), runs)
    feed_s, files = _timed(lambda: render_feed_files(env, feed, BASE_URL, NOW), runs)
    ref_feed_s, _ = _timed(lambda: REFERENCE.render(items=feed.entries), runs)
    return {
        "digest_papers": len(digest.items),
        "feed_entries": len(feed.entries),
        "runs": runs,
        "triage_ms": round(triage_s * 1000, 1),
        "triage_ms_per_paper": round(triage_s * 1000 / len(shown), 2),
        "digest_html_ms": round(html_s * 1000, 1),
        "digest_text_ms": round(text_s * 1000, 1),
        "digest_ms": round((html_s + text_s) * 1000, 1),
        "digest_html_kb": round(len(html.encode()) / 1024, 1),  # type: ignore[union-attr]
        "digest_text_kb": round(len(text.encode()) / 1024, 1),  # type: ignore[union-attr]
        "reference_ms": round(ref_s * 1000, 1),
        "digest_ratio_to_reference": round((html_s + text_s) / ref_s, 2),
        "feed_files_ms": round(feed_s * 1000, 1),
        "feed_files": sorted(files),  # type: ignore[arg-type]
        "feed_reference_ms": round(ref_feed_s * 1000, 2),
        "feed_ratio_to_reference": round(feed_s / ref_feed_s, 2),
    }
