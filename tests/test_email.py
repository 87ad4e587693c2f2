"""build_message (pure, golden-ish), digest_subject, message_id, OutboxMailer, make_mailer."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litwatch.config import SmtpSettings
from litwatch.deliver.email import (
    Mailer,
    OutboxMailer,
    Outcome,
    as_bytes,
    build_message,
    clean_subject,
    digest_subject,
    eml_name,
    make_mailer,
    message_id,
)
from litwatch.deliver.smtp import SmtpMailer
from litwatch.errors import DeliveryError

NOW = dt.datetime(2021, 6, 7, 7, 0, tzinfo=dt.UTC)
KEY = "weekly-kratom/2021-06-07T07:00"
TEXT = (
    "Kratom literature: 3 new papers\n"
    "\n"
    ".a line that starts with a dot\n"
    "From a line that starts with From\n"
    "NF-κB and μ-opioid receptors – 7-hydroxymitragynine\n" + "long " * 60 + "\n"
)
HTML = "<html><body><h1>Kratom</h1><p>NF-<i>κ</i>B</p>\n<p>" + "x" * 1200 + "</p></body></html>\n"


def build(**overrides: object) -> EmailMessage:
    args: dict[str, object] = {
        "subject": "Kratom literature: 3 new papers (week to 7 Jun 2021)",
        "sender": "Kratom Watch <watch@example.org>",
        "recipient": "Ed Itor <ed@example.org>",
        "text": TEXT,
        "html": HTML,
        "digest_key": KEY,
        "list_id": "Kratom literature <weekly-kratom.example.org>",
        "unsubscribe": "mailto:watch@example.org?subject=unsubscribe%20weekly-kratom",
        "now": NOW,
        "domain": "example.org",
    }
    args.update(overrides)
    return build_message(**args)  # type: ignore[arg-type]


def reparse(message: EmailMessage) -> EmailMessage:
    """Serialise as sent and parse back strictly; fail on any defect anywhere."""
    data = as_bytes(message)
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    parsed = BytesParser(policy=policy.strict).parsebytes(data)
    for part in parsed.walk():
        assert not part.defects, part.defects
        for name, value in part.items():
            assert not value.defects, (name, value.defects)
    return parsed  # type: ignore[return-value]


def header_block(message: EmailMessage) -> str:
    return as_bytes(message).split(b"\r\n\r\n", 1)[0].decode("ascii")


# --- the message ----------------------------------------------------------------------


def test_headers_are_exact() -> None:
    ident = message_id(KEY, "ed@example.org", "example.org")
    boundary = build().get_boundary()
    assert header_block(build()) == "\r\n".join(
        [
            "From: Kratom Watch <watch@example.org>",
            "To: Ed Itor <ed@example.org>",
            "Date: Mon, 07 Jun 2021 07:00:00 +0000",
            "Subject: Kratom literature: 3 new papers (week to 7 Jun 2021)",
            f"Message-ID: {ident}",
            "List-Id: Kratom literature <weekly-kratom.example.org>",
            "List-Unsubscribe: <mailto:watch@example.org?subject=unsubscribe%20weekly-kratom>",
            "Auto-Submitted: auto-generated",
            f"X-Litwatch-Digest: {KEY}",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative;",
            f' boundary="{boundary}"',
        ]
    )
    assert boundary.startswith("=_litwatch_")


def test_parts_are_text_then_html_utf8_and_decode_to_the_input() -> None:
    parsed = reparse(build())
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = list(parsed.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    for part, expected in ((plain, TEXT), (html, HTML)):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] in ("7bit", "quoted-printable", "base64")
        assert part.get_content().replace("\r\n", "\n") == expected
        assert "MIME-Version" not in part
    assert parsed["MIME-Version"] == "1.0"
    head, body = as_bytes(build()).split(b"\r\n\r\n", 1)
    assert all(len(line) <= 78 for line in body.split(b"\r\n"))
    # a header line is longer only when it is one unbreakable token (Message-ID, a URI)
    assert all(
        len(line) <= 78 or b" " not in line.split(b": ", 1)[1] for line in head.split(b"\r\n")
    )


def test_the_same_input_gives_the_same_bytes() -> None:
    assert as_bytes(build()) == as_bytes(build())


def test_message_id_is_stable_per_digest_and_recipient() -> None:
    first = message_id(KEY, "ed@example.org", "example.org")
    assert first == message_id(KEY, "Ed@Example.ORG", "example.org")
    assert first == message_id(KEY, "Ed Itor <ed@example.org>", "example.org")
    digest = hashlib.sha256(f"{KEY}\0ed@example.org".encode()).hexdigest()
    assert first == f"<{digest}@example.org>"
    assert first != message_id(KEY, "other@example.org", "example.org")
    assert first != message_id("weekly-kratom/2021-06-14T07:00", "ed@example.org", "example.org")
    assert build()["Message-ID"] == first
    assert build(recipient="other@example.org")["Message-ID"] != first
    assert reparse(build())["Message-ID"] == first


def test_subject_with_markup_line_breaks_and_5000_characters_is_one_clean_line() -> None:
    title = "Mitragynine <i>in vitro</i>\r\nBcc: victim@example.org\t" + "kratom " * 715
    assert len(title) > 5000
    parsed = reparse(build(subject=title))
    subject = parsed["Subject"]
    assert "\r" not in subject and "\n" not in subject and "\t" not in subject
    assert "<i>" not in subject and "</i>" not in subject
    assert subject.startswith("Mitragynine in vitro Bcc: victim@example.org kratom kratom")
    assert subject.endswith("…")
    assert len(subject) <= 150
    assert "Bcc" not in parsed  # no header was injected
    assert parsed["Subject"] == build(subject=title)["Subject"]


def test_digest_subject() -> None:
    day = dt.date(2021, 6, 7)
    assert (
        digest_subject("Kratom literature", 3, day)
        == "Kratom literature: 3 new papers (week to 7 Jun 2021)"
    )
    assert digest_subject("Kratom literature", 1, day).endswith(
        ": 1 new paper (week to 7 Jun 2021)"
    )
    assert digest_subject("Kratom literature", 0, day).endswith(
        ": no new papers (week to 7 Jun 2021)"
    )
    long = digest_subject("<i>Kratom</i>\n" + "very " * 1000, 12, day)
    assert long.startswith("Kratom very very")
    assert long.endswith("…: 12 new papers (week to 7 Jun 2021)")
    assert len(long) <= 150


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient", "ed@example.org\r\nBcc: victim@example.org"),
        ("recipient", "not an address"),
        ("recipient", "ed@"),
        ("recipient", "@example.org"),
        ("recipient", "ed@exa mple.org"),
        ("recipient", "ed@under_score.org"),
        ("recipient", "ed@example.org, other@example.org"),
        ("sender", "Watch\r\nBcc: victim@example.org <watch@example.org>"),
        ("sender", "watch"),
        ("unsubscribe", "https://example.org/u\r\nBcc: victim@example.org"),
        ("unsubscribe", "javascript:alert(1)"),
        ("unsubscribe", "https://example.org/un subscribe"),
        ("domain", "example.org\r\nBcc: victim@example.org"),
        ("domain", "exa mple.org"),
        ("list_id", "Kratom <not_a_list_id>"),
    ],
)
def test_bad_addresses_and_values_raise_delivery_error(field: str, value: str) -> None:
    with pytest.raises(DeliveryError):
        build(**{field: value})


def test_line_breaks_in_free_text_headers_are_folded_not_injected() -> None:
    parsed = reparse(
        build(
            digest_key="weekly\r\nBcc: victim@example.org",
            list_id="Kratom\r\nBcc: victim@example.org",
        )
    )
    assert "Bcc" not in parsed
    assert parsed["X-Litwatch-Digest"] == "weekly Bcc: victim@example.org"
    assert parsed["List-Id"].startswith('"Kratom Bcc: victim@example.org" <kratom-bcc-victim')


def test_list_unsubscribe_post_only_for_https() -> None:
    https = reparse(build(unsubscribe="https://example.org/unsubscribe?token=" + "t" * 120))
    assert https["List-Unsubscribe"] == "<https://example.org/unsubscribe?token=" + "t" * 120 + ">"
    assert https["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"=?" not in as_bytes(build(unsubscribe="https://example.org/u?t=" + "t" * 120))
    for value in ("mailto:watch@example.org", "http://example.org/u", "watch@example.org"):
        parsed = reparse(build(unsubscribe=value))
        assert parsed["List-Unsubscribe"].startswith("<")
        assert "List-Unsubscribe-Post" not in parsed
    assert reparse(build(unsubscribe="watch@example.org"))["List-Unsubscribe"] == (
        "<mailto:watch@example.org>"
    )
    none = reparse(build(unsubscribe=None))
    assert "List-Unsubscribe" not in none and "List-Unsubscribe-Post" not in none


def test_list_id_from_a_title_alone() -> None:
    assert build(list_id="Kratom literature")["List-Id"] == (
        "Kratom literature <kratom-literature.example.org>"
    )
    parsed = reparse(build(list_id="Kräuter: Übersicht"))
    assert parsed["List-Id"] == "Kräuter: Übersicht <krauter-ubersicht.example.org>"


def test_non_ascii_names_and_international_domains() -> None:
    parsed = reparse(
        build(sender="Krätom Wätch <watch@example.org>", recipient="Jürgen <ed@bücher.example>")
    )
    assert parsed["To"].addresses[0].addr_spec == "ed@xn--bcher-kva.example"
    assert parsed["To"].addresses[0].display_name == "Jürgen"
    assert parsed["From"].addresses[0].display_name == "Krätom Wätch"


def test_naive_now_is_utc_and_other_zones_keep_their_offset() -> None:
    assert build(now=NOW.replace(tzinfo=None))["Date"] == "Mon, 07 Jun 2021 07:00:00 +0000"
    cest = dt.timezone(dt.timedelta(hours=2))
    assert build(now=NOW.astimezone(cest))["Date"] == "Mon, 07 Jun 2021 09:00:00 +0200"


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(min_size=0, max_size=400),
    text=st.text(st.characters(exclude_categories=("Cs",)), max_size=400),
    name=st.text(st.characters(exclude_categories=("Cs",)), max_size=80),
)
def test_any_input_gives_a_message_that_parses_strictly(subject: str, text: str, name: str) -> None:
    message = build(subject=subject, text=text, html=text, list_id=f"{name} digest")
    parsed = reparse(message)
    assert parsed["Subject"] == clean_subject(subject)
    assert len(parsed["Subject"]) <= 150
    # set_content ends every line with the policy's CRLF, a lone CR included
    expected = re.sub(r"\r\n?", "\n", text)
    if not expected.endswith("\n"):
        expected += "\n"
    for part in parsed.iter_parts():
        assert part.get_content().replace("\r\n", "\n") == expected


# --- the outbox -----------------------------------------------------------------------


def test_outbox_writes_a_parseable_private_eml_named_after_the_message_id(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "outbox"
    mailer = OutboxMailer(folder)
    assert isinstance(mailer, Mailer)
    message = build()
    result = mailer.send(message)
    assert result.outcome is Outcome.ACCEPTED
    assert result.recipient == "ed@example.org"
    path = folder / (message["Message-ID"].strip("<>") + ".eml")
    assert path.exists() and str(path) in result.detail
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert path.read_bytes() == as_bytes(message)
    parsed = BytesParser(policy=policy.strict).parsebytes(path.read_bytes())
    assert parsed["To"] == "Ed Itor <ed@example.org>"


def test_outbox_is_idempotent_per_message_id(tmp_path: Path) -> None:
    with OutboxMailer(tmp_path) as mailer:
        mailer.send(build())
        mailer.send(build(subject="the same digest, rebuilt"))
        mailer.send(build(recipient="other@example.org"))
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2, names  # no temporary files left either
    assert all(name.endswith(".eml") and not name.startswith(".") for name in names)
    again = (tmp_path / eml_name(build())).read_bytes()
    assert b"the same digest, rebuilt" in again


def test_outbox_file_names_are_safe(tmp_path: Path) -> None:
    message = build()
    message.replace_header("Message-ID", "<../../etc/passwd@evil>")
    name = eml_name(message)
    assert "/" not in name and not name.startswith(".")
    OutboxMailer(tmp_path).send(message)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    other = build()
    other.replace_header("Message-ID", "<.._.._etc_passwd@evil>")
    assert eml_name(other) != name


def test_outbox_unwritable_folder_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    folder = blocker / "outbox"
    with pytest.raises(DeliveryError) as caught:
        OutboxMailer(folder).send(build())
    assert str(folder) in str(caught.value)
    assert "[smtp].outbox_dir" in str(caught.value)


def test_make_mailer(tmp_path: Path) -> None:
    outbox = make_mailer(SmtpSettings(), tmp_path)
    assert isinstance(outbox, OutboxMailer) and outbox.folder == tmp_path / "outbox"
    absolute = make_mailer(SmtpSettings(outbox_dir=str(tmp_path / "abs")), Path("/elsewhere"))
    assert isinstance(absolute, OutboxMailer) and absolute.folder == tmp_path / "abs"
    smtp = make_mailer(SmtpSettings(host="127.0.0.1", port=1, password="hunter2"), tmp_path)
    assert isinstance(smtp, SmtpMailer)  # nothing connects until the first send
    assert "hunter2" not in repr(smtp)
    smtp.close()
