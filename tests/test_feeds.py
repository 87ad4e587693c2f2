"""Atom and RSS feeds: golden files, readers' view (feedparser), strict XML, atomic writes."""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import re
import stat

import feedparser
import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from litwatch import atomic as atomic_module
from litwatch.deliver.feeds import (
    FeedEntry,
    entry_id,
    feed_url,
    render_feed,
    render_feed_files,
    write_feed_files,
)
from litwatch.errors import DeliveryError
from litwatch.records import AbstractSection, Paper
from tests.golden import assert_golden
from tests.render_samples import LATER, NOW, SOX10, feed, hostile_paper, papers

ATOM = "{http://www.w3.org/2005/Atom}"
STRICT = etree.XMLParser(resolve_entities=False, no_network=True, recover=False)


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    from litwatch.render import make_environment

    return make_environment()


def strict_parse(text: str) -> etree._Element:
    return etree.fromstring(text.encode("utf-8"), STRICT)


def test_atom_golden(env):
    assert_golden("all.atom", render_feed(env, feed("atom"), "atom", NOW))


def test_rss_golden(env):
    assert_golden("all.rss", render_feed(env, feed("rss"), "rss", NOW))


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_reads_the_feed_cleanly(env, fmt):
    parsed = feedparser.parse(render_feed(env, feed(fmt), fmt, NOW).encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
    assert len(parsed.entries) == 4
    assert parsed.feed.title == "litwatch: all watches"
    ids = [e.id for e in parsed.entries]
    assert ids[0] == "tag:litwatch,2026:pubmed:34091497"
    assert all(i.startswith("tag:litwatch,2026:pubmed:") for i in ids)
    assert parsed.entries[0].link == "https://pubmed.ncbi.nlm.nih.gov/34091497/"


def test_atom_titles_carry_inline_markup(env):
    parsed = feedparser.parse(render_feed(env, feed("atom"), "atom", NOW).encode("utf-8"))
    sox10 = next(e for e in parsed.entries if e.id.endswith(SOX10))
    assert sox10.title_detail.type == "text/html"
    assert sox10.title_detail.value.startswith("<i>SOX10</i> Mutation Screening")
    letter = next(e for e in parsed.entries if e.id.endswith("33342583"))
    assert letter.title.startswith('"A Kratom Konundrum"')
    assert [a.name for a in parsed.entries[1].authors][:3] == ["Maxwell EA", "King TI", "Kamble SH"]
    assert len(parsed.entries[1].authors) == 10
    assert len(sox10.authors) == 10  # capped: 11 in the record
    terms = {t.term for t in parsed.entries[0].tags}
    assert {"Journal Article", "kratom", "liver"} <= terms
    assert parsed.entries[1].summary.startswith("Conclusions: These results provide")


def test_rss_titles_are_plain_text(env):
    parsed = feedparser.parse(render_feed(env, feed("rss"), "rss", NOW).encode("utf-8"))
    sox10 = next(e for e in parsed.entries if e.id.endswith(SOX10))
    assert sox10.title == "SOX10 Mutation Screening for 117 Patients with Kallmann Syndrome."
    assert sox10.guidislink is False
    assert "<a href=" in sox10.description  # HTML once decoded
    assert email.utils.parsedate_to_datetime(sox10.published) == NOW - dt.timedelta(days=1)


def test_ids_are_stable_across_renders_times_and_urls(env):
    def ids(text):
        root = strict_parse(text)
        return [e.text for e in root.iter(f"{ATOM}id", "guid")]

    for fmt in ("atom", "rss"):
        first = ids(render_feed(env, feed(fmt), fmt, NOW))
        moved = feed(fmt, base_url="https://elsewhere.example.net/x")
        second = ids(render_feed(env, moved, fmt, LATER))
        assert first == second
    assert entry_id(papers()[SOX10]) == "tag:litwatch,2026:pubmed:34095692"
    revised = Paper(pmid="34095692", pmid_version=2, title="New", title_html="New")
    assert entry_id(revised) == entry_id(papers()[SOX10])
    assert entry_id(Paper(pmid="", title="t", title_html="t", doi="10.1/ABC")) == (
        "tag:litwatch,2026:doi:10.1/abc"
    )


@pytest.mark.parametrize("base", ["https://h.example/feeds/", "https://h.example/feeds"])
def test_self_links_join_the_base_url(env, base):
    files = render_feed_files(env, feed(base_url="https://ignored.example/"), base, NOW)
    atom = strict_parse(files["all.atom"])
    assert atom.find(f"{ATOM}link[@rel='self']").get("href") == "https://h.example/feeds/all.atom"
    rss = strict_parse(files["all.rss"])
    self_link = rss.find("channel/{http://www.w3.org/2005/Atom}link")
    assert self_link.get("href") == "https://h.example/feeds/all.rss"
    assert feed_url(base, "kratom.atom") == "https://h.example/feeds/kratom.atom"


def test_atom_structure(env):
    root = strict_parse(render_feed(env, feed("atom"), "atom", NOW, version="1.2.3"))
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == "tag:litwatch,2026:feed:all"
    assert root.findtext(f"{ATOM}updated") == "2021-06-07T06:00:00Z"
    assert root.find(f"{ATOM}generator").get("version") == "1.2.3"
    assert root.find(f"{ATOM}link[@rel='alternate']") is not None
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}published") == "2021-06-06T07:00:12Z"
    assert entry.findtext(f"{ATOM}updated") == "2021-06-06T07:00:12Z"
    assert entry.find(f"{ATOM}title").get("type") == "html"


def test_render_feed_files_names(env):
    files = render_feed_files(env, feed(), "https://h.example/", NOW)
    assert sorted(files) == ["all.atom", "all.rss"]
    assert files["all.rss"] == render_feed(
        env, feed("rss", base_url="https://h.example"), "rss", NOW
    )


# --- hostile content ---------------------------------------------------------------------


def hostile_feed():
    paper = hostile_paper()
    return feed(entries=(FeedEntry(paper, ("kratom", "x<y&z"), NOW, LATER),))


def hostile(fmt):
    return feed(fmt, entries=hostile_feed().entries)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_hostile_content_stays_valid_xml(env, fmt):
    text = render_feed(env, hostile(fmt), fmt, NOW)
    root = strict_parse(text)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", text)
    parsed = feedparser.parse(text.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1
    title = parsed.entries[0].title
    assert "\u200f" in title
    if fmt == "rss":
        assert title.startswith("Evil <script>alert(1)</script> & co < 5")
        assert root.findtext("channel/item/title").startswith("Evil <script>")
    else:
        raw = root.findtext(f"{ATOM}entry/{ATOM}title")
        assert raw.startswith("<i>Evil</i> &lt;script&gt;alert(1)&lt;/script&gt; &amp; co")
    assert "<script" not in text  # every < of the content arrives escaped


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=80),
    abstract=st.text(max_size=80),
    author=st.text(max_size=20),
)
def test_any_text_gives_valid_feeds(title, abstract, author):
    from litwatch.records import Author
    from litwatch.render import make_environment

    paper = Paper(
        pmid="1",
        title=title,
        title_html=title,
        abstract=(AbstractSection(abstract),),
        authors=(Author(collective_name=author),),
        publication_types=(title,),
    )
    env = make_environment()
    for fmt in ("atom", "rss"):
        one = feed(fmt, entries=(FeedEntry(paper, ("w",), NOW, NOW),))
        strict_parse(render_feed(env, one, fmt, NOW))


# --- writing files -----------------------------------------------------------------------


def test_write_feed_files_creates_folder_and_replaces_atomically(tmp_path):
    folder = tmp_path / "public" / "feeds"
    write_feed_files(folder, {"kratom.atom": "first é\n", "kratom.rss": "rss\n"})
    assert (folder / "kratom.atom").read_text(encoding="utf-8") == "first é\n"
    write_feed_files(folder, {"kratom.atom": "second\n"})
    assert (folder / "kratom.atom").read_text(encoding="utf-8") == "second\n"
    assert (folder / "kratom.rss").read_text(encoding="utf-8") == "rss\n"
    assert sorted(p.name for p in folder.iterdir()) == ["kratom.atom", "kratom.rss"]
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_unusable_folder_raises_delivery_error_naming_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(DeliveryError, match=re.escape(str(blocker / "feeds"))):
        write_feed_files(blocker / "feeds", {"a.atom": "x"})


def test_unwritable_folder_raises_delivery_error_naming_it(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic_module.tempfile, "mkstemp", refuse)
    with pytest.raises(DeliveryError, match=re.escape(str(tmp_path))) as caught:
        write_feed_files(tmp_path, {"a.atom": "x"})
    assert "Permission denied" in str(caught.value)


def test_failed_rename_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    write_feed_files(tmp_path, {"a.atom": "old"})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "replace", broken_replace)
    with pytest.raises(DeliveryError, match="No space left"):
        write_feed_files(tmp_path, {"a.atom": "new"})
    assert (tmp_path / "a.atom").read_text() == "old"
    assert os.listdir(tmp_path) == ["a.atom"]


def test_file_names_must_be_plain(tmp_path):
    with pytest.raises(DeliveryError):
        write_feed_files(tmp_path, {"../escape.atom": "x"})
