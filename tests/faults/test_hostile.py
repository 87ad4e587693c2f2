"""Hostile content: records (made from a real one) whose titles, abstracts, authors and
journal carry markup, stray ``&`` and ``<``, CR/LF and other line breaks, bidi controls,
C1 and DEL characters and a 5,000-character title. PubMed's XML is well-formed, so that is
all that can really arrive: characters XML 1.0 forbids (most C0 controls) cannot.

What must hold, through the real CLI: no header injection, no markup injection in the
HTML email or the feeds, valid XML, lines email allows, and the text still readable."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
import json
import re
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html

from litwatch.standin.eutils import EutilsStandin
from tests.faults.harness import feed_problem
from tests.faults.records import SYNTHETIC_BASE, TEMPLATE_PMID, derive_record
from tests.faults.test_bad_input import CORPUS, litwatch

pytestmark = pytest.mark.faults

CREATED = dt.date(2021, 6, 5)
LONG = "Kratom " + " ".join(f"word{i}" for i in range(800))  # ~6,500 characters
HOSTILE = {
    # pmid offset: (title or None, title markup or None, abstract)
    1: (
        'Kratom <script>alert("t1")</script> & opioids < 5 mg > 2 mg',
        None,
        '<img src=x onerror=alert("a1")> AT&amp;T ]]> </summary> & < >',
    ),
    2: (
        None,
        'Kratom <i>in vitro</i> <script>alert("t2")</script><b onclick="alert(2)">bold</b>'
        ' <a href="javascript:alert(3)">link</a> <sup>2+</sup>',
        "Plain abstract about kratom.",
    ),
    3: (
        "Kratom\r\nBcc: victim@example.org\r\nSubject: injected\tTab",
        None,
        "Line one\r\nX-Injected: yes\r\n\r\n<html>body</html>",
    ),
    4: (
        "Kratom \u0085next\u2028line\u2029para \u200fRLM \u202eesrever\u202c \u2066iso\u2069 del\x7f csi\x9b end",
        None,
        "Abstract with \u202eoverride and NEL\u0085 and LS\u2028 end.",
    ),
    5: (LONG, None, "A long title, then a short abstract about kratom."),
}
ALLOWED_HTML_TAGS = {
    "html", "head", "meta", "title", "body", "div", "h1", "h2", "h3", "p", "a", "span",
    "strong", "br", "code", "i", "b", "sup", "sub", "u", "em", "ul", "li", "hr", "small",
}  # fmt: skip
HEADERS = {
    "from", "to", "date", "subject", "message-id", "list-id", "list-unsubscribe",
    "list-unsubscribe-post", "auto-submitted", "x-litwatch-digest", "mime-version",
    "content-type", "content-transfer-encoding",
}  # fmt: skip


def hostile_records(template: bytes) -> bytes:
    records = []
    for offset, (title, markup, abstract) in HOSTILE.items():
        xml = derive_record(
            template,
            SYNTHETIC_BASE + offset,
            title=title,
            title_markup=markup,
            abstract=abstract,
            created=CREATED,
        )
        if offset == 1:  # hostile author and journal too
            root = etree.fromstring(xml)
            root.find(".//AuthorList/Author/LastName").text = "O'Brien <script>alert('au')</script>"
            root.find(".//Journal/Title").text = "J <b>Bold</b> & Co\r\nX-Journal: injected"
            xml = etree.tostring(root, encoding="utf-8")
        records.append(xml)
    return b"<PubmedArticleSet>" + b"".join(records) + b"</PubmedArticleSet>"


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("hostile")
    with EutilsStandin(today=dt.date(2021, 6, 8)) as ncbi:
        ncbi.add_records(hostile_records(ncbi.record(TEMPLATE_PMID).xml))
        (site / "queries").mkdir()
        (site / "queries" / "kratom.toml").write_text('title = "Kratom"\nterm = "kratom[tw]"\n')
        (site / "litwatch.toml").write_text(
            (CORPUS / "good.toml")
            .read_text()
            .replace("@BASE_URL@", ncbi.base_url)
            .replace('watches = ["kratom", "neuropathic"]', 'watches = ["kratom"]')
        )
        for now in ("2021-06-01T08:00:00Z", "2021-06-07T08:00:00Z"):
            result = litwatch(site, "run", "--now", now)
            assert result.returncode == 0, result.stdout + result.stderr
    return site


def hostile_pmids() -> set[str]:
    return {str(SYNTHETIC_BASE + n) for n in HOSTILE}


def the_email(site: Path) -> tuple[bytes, email.message.EmailMessage]:
    (path,) = sorted((site / "outbox").glob("*.eml"))
    data = path.read_bytes()
    return data, email.message_from_bytes(data, policy=email.policy.strict)


def test_all_hostile_records_were_collected_and_sent(delivered: Path) -> None:
    exported = json.loads(litwatch(delivered, "export", "--format", "json").stdout)
    assert hostile_pmids() <= {p["pmid"] for p in exported}
    _, message = the_email(delivered)
    text = message.get_body(("plain",)).get_content()
    for pmid in hostile_pmids():
        assert f"pubmed.ncbi.nlm.nih.gov/{pmid}/" in text


def test_no_header_injection_and_lines_email_allows(delivered: Path) -> None:
    data, message = the_email(delivered)
    assert message.defects == []
    names = [k.lower() for k in message]
    assert set(names) <= HEADERS, set(names) - HEADERS
    assert len(names) == len(set(names)), "a header appears twice"
    for name, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
    header_block = data.split(b"\r\n\r\n", 1)[0]
    assert (
        b"Bcc" not in header_block
        and b"X-Injected" not in header_block
        and b"X-Journal" not in header_block
    )
    assert all(len(line) <= 998 for line in data.split(b"\r\n")), "a line longer than SMTP allows"
    assert all(b"\r" not in line and b"\n" not in line for line in data.split(b"\r\n")), (
        "a bare CR or LF"
    )
    for part in message.walk():
        assert not part.defects, (part.get_content_type(), part.defects)


def test_the_html_email_carries_no_markup_from_records(delivered: Path) -> None:
    _, message = the_email(delivered)
    html = message.get_body(("html",)).get_content()
    doc = lxml_html.document_fromstring(html)
    tags = {el.tag for el in doc.iter() if isinstance(el.tag, str)}
    assert tags <= ALLOWED_HTML_TAGS, tags - ALLOWED_HTML_TAGS
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attribute, value in el.attrib.items():
            assert not attribute.lower().startswith("on"), (el.tag, attribute)
            if attribute in ("href", "src"):
                assert value.startswith(("https://", "http://", "mailto:")), value
        if el.tag in ("i", "b", "sup", "sub", "u"):
            assert not el.attrib, (el.tag, el.attrib)
    visible = doc.text_content()
    for char in "\x7f\x9b\u2028":
        assert char not in html, hex(ord(char))
    # the text stays readable: the hostile characters are shown, not obeyed
    assert '<script>alert("t1")</script>' in visible
    assert "opioids < 5 mg > 2 mg" in visible
    assert "in vitro" in visible and "bold" in visible
    assert "Bcc: victim@example.org" in visible  # one line of a title, not a header
    assert "…" in visible  # the 5,000-character title is cut...
    assert max(len(h3.text_content()) for h3 in doc.iter("h3")) < 1100  # ...to a readable length


def test_the_text_email_is_readable(delivered: Path) -> None:
    _, message = the_email(delivered)
    text = message.get_body(("plain",)).get_content()
    assert 'Kratom <script>alert("t1")</script> & opioids < 5 mg > 2 mg' in " ".join(text.split())
    assert "del csi end" in " ".join(text.split())  # DEL and CSI (U+009B) are not shown
    for line in text.splitlines():
        assert len(line) <= 200, line[:80]
    assert "\u2028" not in text and "\u0085" not in text, (
        "a line break the text wrapper did not see"
    )


def test_feeds_are_valid_xml_without_markup_from_records(delivered: Path) -> None:
    for path in sorted((delivered / "feeds").glob("*.*")):
        data = path.read_bytes()
        assert feed_problem(path.name, data) is None, feed_problem(path.name, data)
        parsed = feedparser.parse(data)
        entries = {e.id.rsplit(":", 1)[1]: e for e in parsed.entries}
        assert hostile_pmids() <= set(entries), path.name
        root = etree.fromstring(data)
        ns = "{http://www.w3.org/2005/Atom}"
        if path.suffix == ".atom":
            html_fields = [
                el.text or ""
                for el in root.iter(f"{ns}title", f"{ns}content")
                if el.get("type") == "html"
            ]
        else:
            html_fields = [el.text or "" for el in root.iter("description")]
        for field in html_fields:
            if not field.strip():
                continue
            fragment = lxml_html.fragment_fromstring(field, create_parent="div")
            tags = {el.tag for el in fragment.iter() if isinstance(el.tag, str)}
            assert tags <= ALLOWED_HTML_TAGS, (path.name, tags - ALLOWED_HTML_TAGS, field[:200])
            for el in fragment.iter():
                if isinstance(el.tag, str):
                    assert not any(a.lower().startswith("on") for a in el.attrib), (
                        path.name,
                        el.attrib,
                    )
                    href = el.get("href")
                    assert href is None or href.startswith(("https://", "http://")), href
        long_entry = entries[str(SYNTHETIC_BASE + 5)]
        assert len(long_entry.title) < 1100, len(long_entry.title)
        for char in "\u2028\u0085\x7f\x9b":
            assert char not in data.decode(), (path.name, hex(ord(char)))


def test_exports_keep_one_record_per_paper(delivered: Path) -> None:
    ris = litwatch(delivered, "export", "--format", "ris").stdout
    lines = ris.replace("\r\n", "\n").split("\n")
    for line in lines:
        assert line == "" or re.fullmatch(r"[A-Z][A-Z0-9]  - .*", line), repr(line[:80])
    rows = list(
        csv.DictReader(io.StringIO(litwatch(delivered, "export", "--format", "csv").stdout))
    )
    exported = json.loads(litwatch(delivered, "export", "--format", "json").stdout)
    assert len(rows) == len(exported) == ris.count("ER  - ")
    titles = {p["pmid"]: p["title"] for p in exported}
    assert titles[str(SYNTHETIC_BASE + 1)].startswith(
        'Kratom <script>alert("t1")</script> & opioids'
    )
