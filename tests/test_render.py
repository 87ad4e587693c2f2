"""Digest rendering: golden files, safety of hostile content, user templates, errors."""

from __future__ import annotations

import datetime as dt
import re

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html

from litwatch.errors import ConfigError
from litwatch.records import AbstractSection, Author, DigestItem, Paper
from litwatch.render import check_templates, make_environment, render_digest, render_template
from litwatch.render_filters import (
    authors_short,
    citation,
    excerpt,
    sanitize_inline_html,
    xml_text,
)
from tests.golden import assert_golden
from tests.render_samples import (
    BEAGLE_PK,
    KRATOM_FATALITIES,
    KRATOM_LETTER,
    NOW,
    SOX10,
    digest,
    hostile_paper,
    papers,
)

XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment()


# --- golden files ----------------------------------------------------------------------


def test_text_digest_golden(env):
    assert_golden("digest.txt", render_digest(env, digest(failing=True, more=12), NOW, "text"))


def test_html_digest_golden(env):
    assert_golden("digest.html", render_digest(env, digest(failing=True, more=12), NOW, "html"))


def test_empty_digest_golden(env):
    empty = digest(items=(), send_empty=True, intro=None)
    assert_golden("digest-empty.txt", render_digest(env, empty, NOW, "text"))


def test_rendering_depends_on_values_and_now_only(env):
    first = render_digest(env, digest(), NOW, "html")
    again = render_digest(make_environment(), digest(), NOW + dt.timedelta(days=3), "html")
    assert first == again


# --- content -----------------------------------------------------------------------------


def test_header_counts_and_period(env):
    text = render_digest(env, digest(), NOW, "text")
    assert "4 new papers from 3 watches" in text
    assert "31 May 2021, 07:00 UTC – 7 Jun 2021, 07:00 UTC" in text
    html = render_digest(env, digest(more=12), NOW, "html")
    assert "16 new papers</strong> from 3 watches (the first 4 are below)" in html


def test_paper_found_by_two_watches_appears_once_under_the_first(env):
    text = render_digest(env, digest(), NOW, "text")
    assert text.count("https://pubmed.ncbi.nlm.nih.gov/33342583/") == 1
    kratom = text.index("Kratom and mitragynine (3)")
    pain = text.index("Neuropathic pain treatments (1)")
    letter = text.index('"A Kratom Konundrum"')
    assert kratom < letter < pain
    assert "Also found by: Neuropathic pain treatments" in text
    assert "Also found by: Kratom and liver injury" in text


def test_groups_follow_the_subscription_order(env):
    reordered = digest(watches=("neuropathic-pain", "kratom", "liver"))
    text = render_digest(env, reordered, NOW, "text")
    assert text.index("Neuropathic pain treatments (2)") < text.index("Kratom and mitragynine (2)")
    assert "Also found by: Kratom and mitragynine" in text  # the letter, now under pain


def test_each_paper_shows_its_details_and_links(env):
    html = render_digest(env, digest(), NOW, "html")
    assert "Maxwell EA, King TI, Kamble SH, et al." in html
    assert "Eur J Drug Metab Pharmacokinet. 2021 May;46(3):459-463." in html
    assert "J Acad Consult Liaison Psychiatry. 2021 May-Jun;62(3):368-369." in html
    assert "Letter" in html
    assert 'href="https://doi.org/10.1007/s13318-021-00684-2"' in html
    assert 'href="https://www.ncbi.nlm.nih.gov/pmc/articles/PMC8179724/"' in html
    assert "<strong>Conclusions:</strong> These results provide the first pharmacokinetic" in html
    assert "<i>SOX10</i> Mutation Screening" in html  # PubMed's inline markup kept


def test_error_banner_is_at_the_top_of_both_formats(env):
    for fmt in ("text", "html"):
        out = render_digest(env, digest(failing=True), NOW, fmt)
        banner = (
            "Could not check Kratom and liver injury since 4 Jun 2021, 06:00 UTC: "
            "NCBI answered HTTP 502 (Bad Gateway) after 5 retries."
        )
        flat = " ".join(re.sub(r"<[^>]+>|!!", " ", out).split())
        assert banner in flat, fmt
        assert "Papers from that time will come in a later digest." in flat
        assert flat.index(banner) < flat.index("Kratom-Associated Fatalities"), fmt
    quiet = render_digest(env, digest(failing=False), NOW, "text")
    assert "Could not check" not in quiet


def test_error_without_failing_since_still_shows(env):
    d = digest()
    broken = d.watch_status[0].__class__(name="kratom", title="Kratom", term="kratom", error="boom")
    d = d.__class__(**{**{f: getattr(d, f) for f in d.__slots__}, "watch_status": (broken,)})
    text = render_digest(env, d, NOW, "text")
    assert "!! Could not check Kratom: boom." in text
    assert "Not checked yet" in text  # the two watches with no status at all


def test_empty_digest_says_so_and_shows_what_was_checked(env):
    empty = digest(items=(), send_empty=True)
    for fmt in ("text", "html"):
        out = render_digest(env, empty, NOW, fmt)
        assert "No new papers" in out
        assert "What was checked" in out
        assert "kratom OR mitragynine OR Mitragyna speciosa" in out
        assert "Found 14, new 2" in out


def test_more_papers_point_to_the_feed(env):
    text = render_digest(env, digest(more=12), NOW, "text")
    assert "and 12 more papers — they lead the next digest; all are in the feed now:\n" in text
    assert "\nhttps://feeds.example.org/litwatch/all.atom\n" in text
    assert "more paper" not in render_digest(env, digest(), NOW, "text")


def test_times_are_shown_in_the_subscription_time_zone(env):
    text = render_digest(env, digest(timezone="Europe/Berlin"), NOW, "text")
    assert "7 Jun 2021, 09:00 CEST" in text


def test_unknown_time_zone_is_a_config_error(env):
    with pytest.raises(ConfigError, match=r"digests\.weekly-kratom\]\.timezone"):
        render_digest(env, digest(timezone="Mars/Olympus"), NOW, "text")


# --- format rules ------------------------------------------------------------------------


def test_html_is_a_phone_friendly_document(env):
    out = render_digest(env, digest(failing=True, more=3), NOW, "html")
    assert out.startswith("<!DOCTYPE html>\n")
    doc = lxml_html.document_fromstring(out)
    assert doc.xpath('//meta[@name="viewport"]')
    assert doc.xpath('//meta[@charset="utf-8"]')
    assert "max-width:640px" in out
    for tag in ("style", "script", "link", "img", "table"):
        assert not doc.xpath(f"//{tag}"), tag
    hrefs = doc.xpath("//a/@href")
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert all("text-decoration:underline" in a.get("style") for a in doc.xpath("//a"))


def test_text_has_no_markup_and_wraps(env):
    out = render_digest(env, digest(failing=True, more=3), NOW, "text")
    assert not re.search(r"&(amp|lt|gt|quot|#\d+);|<[a-z/]", out)
    for line in out.splitlines():
        assert len(line) <= 72 or line.strip().startswith("https://"), line
        if "https://" in line:
            assert line.strip().startswith("https://") and " " not in line.strip(), line
    assert '"A Kratom Konundrum"' in out  # plain title, no &quot;


# --- hostile content ---------------------------------------------------------------------


def hostile_digest():
    return digest(
        items=(DigestItem(hostile_paper(), ("kratom",), NOW),),
        intro="<script>alert(5)</script> & intro \x00",
        title="Digest <script>alert(6)</script> & \x07",
    )


def test_hostile_content_is_escaped_in_html(env):
    out = render_digest(env, hostile_digest(), NOW, "html")
    assert "<script" not in out.lower()
    assert "<img" not in out.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert not XML_INVALID.search(out)
    doc = lxml_html.document_fromstring(out)
    assert not doc.xpath("//script | //img | //*[@onerror]")
    title = doc.xpath("//h3/a")[0]
    assert [e.tag for e in title.iter()][1:] == ["i", "b", "sup", "sub"]
    assert "\u200f" in title.text_content()  # the RTL mark is text, kept
    assert 900 < len(title.text_content()) <= 1001  # a 5,000-character title is cut
    assert title.text_content().endswith("…")


def test_hostile_content_in_text_digest(env):
    out = render_digest(env, hostile_digest(), NOW, "text")
    assert not XML_INVALID.search(out)
    assert "Evil <script>alert(1)</script> & co < 5" in out  # plain text stays plain
    assert "title second line" in out  # CR/LF inside a title collapsed
    assert "very long very long…\n" in out  # cut at 1,000 characters
    assert "Conclusions: It works. Really." in out


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<i>SOX10</i> gene", "<i>SOX10</i> gene"),
        ("NF-<i><sub>κ</sub></i>B", "NF-<i><sub>κ</sub></i>B"),
        ("<I>Caps</I>", "<i>Caps</i>"),
        ("a <script>x</script>", "a &lt;script&gt;x&lt;/script&gt;"),
        ('<i class="x">attr</i>', '&lt;i class="x"&gt;attr'),
        ("stray & and < and >", "stray &amp; and &lt; and &gt;"),
        ("&amp;lt;i&amp;gt;", "&amp;lt;i&amp;gt;"),
        ("&lt;i&gt;escaped&lt;/i&gt;", "&lt;i&gt;escaped&lt;/i&gt;"),
        ("&quot;q&quot; &#233; &eacute;", '"q" é é'),
        ("<b>open", "<b>open</b>"),
        ("close</b> <i>x<b>y</i>z", "close <i>x<b>y</b></i>z"),
        ("ctl\x00\x0b\ud800", "ctl"),
    ],
)
def test_sanitize_inline_html(raw, clean):
    assert sanitize_inline_html(raw) == clean


def test_sanitize_inline_html_cuts_long_text_and_closes_tags():
    assert sanitize_inline_html("<i>abc def</i> <b>ghi jkl mno</b>", 14) == (
        "<i>abc def</i> <b>ghi…</b>"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;#ibsupa \"'x\x00\u200f")), max_size=60))
def test_sanitized_html_is_always_well_formed_and_idempotent(raw):
    clean = sanitize_inline_html(raw)
    fragment = etree.fromstring(f"<t>{clean}</t>".encode())  # well-formed XML
    assert {e.tag for e in fragment.iter()} <= {"t", "i", "b", "sup", "sub", "u"}
    assert not fragment.xpath("//@*")
    assert sanitize_inline_html(clean) == clean


def test_xml_text_keeps_markup_type():
    from markupsafe import Markup

    assert xml_text(Markup("<i>a\x00</i>")) == Markup("<i>a</i>")
    assert isinstance(xml_text(Markup("x")), Markup)
    assert xml_text(3) == 3


# --- filters -----------------------------------------------------------------------------


def test_authors_short():
    people = [
        Author(last_name=n, initials=i) for n, i in [("Smith", "J"), ("Doe", "A"), ("Lee", "K")]
    ]
    assert authors_short(people) == "Smith J, Doe A, Lee K"
    assert authors_short([*people, Author(last_name="Roe")]) == "Smith J, Doe A, Lee K, et al."
    assert authors_short([Author(collective_name="Kratom Study Group")]) == "Kratom Study Group"
    assert authors_short([]) == ""


def test_excerpt_prefers_conclusions():
    p = papers()
    assert excerpt(p[BEAGLE_PK]).startswith("Conclusions: These results provide the first")
    assert excerpt(p[SOX10]).startswith("Conclusions: These results provide evidence")  # label only
    assert excerpt(p[KRATOM_LETTER]) == ""


def test_excerpt_of_unstructured_abstract_is_cut_at_a_word():
    text = excerpt(papers()[KRATOM_FATALITIES])
    assert text.startswith("Mitragyna speciosa, commonly known as the kratom tree")
    assert not text.startswith("ABSTRACT")  # a lone section's label is not shown
    assert text.endswith("…") and len(text) <= 301
    assert text[:-1] in papers()[KRATOM_FATALITIES].abstract[0].text
    long_word = Paper(pmid="1", title="t", title_html="t", abstract=(AbstractSection("x" * 500),))
    assert len(excerpt(long_word)) == 301


def test_citation_copes_with_missing_parts():
    assert citation(Paper(pmid="1", title="t", title_html="t")) == ""
    assert citation(papers()[SOX10]) == "J Endocr Soc. 2021 Jul 1;5(7):bvab056."


# --- environment, user templates, errors -------------------------------------------------


def test_autoescape_by_template_name(tmp_path):
    (tmp_path / "x.html.j2").write_text("{{ v }}")
    (tmp_path / "x.atom.j2").write_text("{{ v }}")
    (tmp_path / "x.txt.j2").write_text("{{ v }}")
    env = make_environment(tmp_path)
    ctx = {"v": "a & <b>"}
    assert render_template(env, "x.html.j2", ctx) == "a &amp; &lt;b&gt;"
    assert render_template(env, "x.atom.j2", ctx) == "a &amp; &lt;b&gt;"
    assert render_template(env, "x.txt.j2", ctx) == "a & <b>"


def test_user_folder_overrides_one_template(tmp_path):
    (tmp_path / "digest.txt.j2").write_text(
        "Custom: {{ total_count }} papers for {{ subscription.name }}\n"
    )
    env = make_environment(tmp_path)
    assert render_digest(env, digest(), NOW, "text") == "Custom: 4 papers for weekly-kratom\n"
    assert render_digest(env, digest(), NOW, "html").startswith("<!DOCTYPE html>")


def test_undefined_variable_names_the_template_and_line(tmp_path):
    (tmp_path / "digest.txt.j2").write_text("ok\n{{ subscription.title }}\n{{ no_such_thing }}\n")
    env = make_environment(tmp_path)
    with pytest.raises(ConfigError) as caught:
        render_digest(env, digest(), NOW, "text")
    message = str(caught.value)
    assert str(tmp_path / "digest.txt.j2") in message
    assert "line 3" in message and "no_such_thing" in message
    assert isinstance(caught.value.__cause__, jinja2.UndefinedError)


def test_undefined_attribute_in_a_loop_names_the_line(tmp_path):
    (tmp_path / "digest.html.j2").write_text(
        "{% for g in groups %}\n{% for e in g.entries %}\n{{ e.paper.no_field }}\n"
        "{% endfor %}\n{% endfor %}\n"
    )
    with pytest.raises(ConfigError, match=r"digest\.html\.j2: line 3: .*no_field"):
        render_digest(make_environment(tmp_path), digest(), NOW, "html")


def test_syntax_error_names_the_template_and_line(tmp_path):
    (tmp_path / "digest.txt.j2").write_text("one\ntwo\n{% if %}\n")
    with pytest.raises(ConfigError) as caught:
        render_digest(make_environment(tmp_path), digest(), NOW, "text")
    assert str(tmp_path / "digest.txt.j2") in str(caught.value)
    assert "line 3" in str(caught.value)


def test_missing_template_and_folder_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="template not found"):
        render_template(make_environment(tmp_path), "nope.txt.j2", {})
    with pytest.raises(ConfigError, match="template folder not found"):
        make_environment(tmp_path / "missing")


def test_check_templates_passes_for_the_shipped_ones(env):
    check_templates(env)


@pytest.mark.parametrize("name", ["digest.html.j2", "digest.txt.j2", "feed.atom.j2", "feed.rss.j2"])
def test_check_templates_finds_a_broken_user_template(tmp_path, name):
    (tmp_path / name).write_text("fine\n{{ paper.title if paper is defined else typo_here }}\n")
    with pytest.raises(ConfigError, match=rf"{name}: line 2: .*typo_here"):
        check_templates(make_environment(tmp_path))


def test_unknown_format_is_rejected(env):
    with pytest.raises(ValueError, match="markdown"):
        render_digest(env, digest(), NOW, "markdown")  # type: ignore[arg-type]
