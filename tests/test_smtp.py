"""SmtpMailer against a real aiosmtpd server on 127.0.0.1 (tests/smtp_server.py)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from litwatch.config import SmtpSettings
from litwatch.deliver.email import Outcome, as_bytes, build_message, make_mailer
from litwatch.deliver.smtp import SmtpMailer
from litwatch.errors import DeliveryError
from tests.smtp_server import Certificate, SilentServer, SmtpServer, closed_port, make_certificate

PASSWORD = "correct-Horse-7Q!"
WRONG = "wrong-Battery-99"
NOW = dt.datetime(2021, 6, 7, 7, 0, tzinfo=dt.UTC)


def message(recipient: str = "ed@example.org", key: str = "weekly/2021-06-07") -> EmailMessage:
    return build_message(
        subject="Kratom literature: 3 new papers (week to 7 Jun 2021)",
        sender="Kratom Watch <watch@example.org>",
        recipient=recipient,
        text="Three papers.\n.a line starting with a dot\n..two dots\nNF-κB\n",
        html="<p>Three papers. NF-<i>κ</i>B</p>\n",
        digest_key=key,
        list_id="Kratom literature",
        unsubscribe="https://example.org/unsubscribe?t=abc",
        now=NOW,
        domain="example.org",
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


def secrets_in(text: str) -> list[str]:
    forms = [PASSWORD, WRONG]
    for password in (PASSWORD, WRONG):
        for raw in (password, f"\0ed\0{password}"):
            forms.append(base64.b64encode(raw.encode()).decode())
    return [form for form in forms if form in text]


def exception_text(exc: BaseException) -> str:
    """str and repr of an exception and of everything chained to it."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


# --- delivering -----------------------------------------------------------------------


def test_plain_delivery_reuses_one_connection(server: SmtpServer) -> None:
    sent = [message(), message("second@example.org")]
    with SmtpMailer(server.settings()) as mailer:
        results = [mailer.send(m) for m in sent]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert [r.recipient for r in results] == ["ed@example.org", "second@example.org"]
    assert results[0].detail.startswith("250 ")
    assert server.sessions == 1
    first = server.messages[0]
    assert first.mail_from == "watch@example.org"
    assert first.rcpt_tos == ("ed@example.org",)
    assert not first.tls and first.auth_login is None
    assert first.data == as_bytes(sent[0])  # byte for byte, dot-stuffing undone
    parsed = BytesParser(policy=policy.strict).parsebytes(first.data)
    assert parsed["Message-ID"] == sent[0]["Message-ID"]


def test_starttls_with_a_trusted_certificate(certificate: Certificate) -> None:
    with SmtpServer(starttls=True, certificate=certificate) as server:
        settings = server.settings("starttls")
        with SmtpMailer(settings, ssl_context=certificate.client_context()) as mailer:
            assert mailer.send(message()).outcome is Outcome.ACCEPTED
        assert server.messages[0].tls


def test_starttls_with_an_untrusted_certificate_raises(certificate: Certificate) -> None:
    with SmtpServer(starttls=True, certificate=certificate) as server:
        mailer = SmtpMailer(server.settings("starttls"), ssl_context=ssl.create_default_context())
        with pytest.raises(DeliveryError) as caught:
            mailer.send(message())
    text = str(caught.value)
    assert f"{server.host}:{server.port}" in text and "certificate" in text
    assert not server.messages


def test_starttls_not_offered_raises_naming_the_setting(server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(server.settings("starttls")).send(message())
    assert "STARTTLS" in str(caught.value) and "[smtp].security" in str(caught.value)


def test_implicit_tls_on_its_own_port(certificate: Certificate) -> None:
    with SmtpServer(implicit_tls=True, certificate=certificate) as server:
        settings = server.settings("ssl")
        assert settings.port == server.ssl_port != server.port
        with SmtpMailer(settings, ssl_context=certificate.client_context()) as mailer:
            assert mailer.send(message()).outcome is Outcome.ACCEPTED
        assert server.messages[0].tls and server.messages[0].port == server.ssl_port


def test_ssl_against_a_plain_port_raises_a_tls_error(server: SmtpServer) -> None:
    settings = SmtpSettings(host=server.host, port=server.port, security="ssl", timeout=2)
    start = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(settings).send(message())
    assert time.monotonic() - start < 2
    assert "TLS" in str(caught.value) and "[smtp].security" in str(caught.value)


# --- logging in -----------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_login_with_the_right_password(mechanism: str) -> None:
    with SmtpServer(users={"ed": PASSWORD}, auth_mechanisms=[mechanism]) as server:
        settings = server.settings(username="ed", password=PASSWORD)
        with SmtpMailer(settings) as mailer:
            assert mailer.send(message()).outcome is Outcome.ACCEPTED
    assert server.auth_attempts == [(mechanism, "ed", True)]
    assert server.messages[0].auth_login == "ed"


def test_login_over_starttls_when_the_server_wants_tls_for_auth(certificate: Certificate) -> None:
    with SmtpServer(
        users={"ed": PASSWORD},
        require_auth=True,
        auth_require_tls=True,
        starttls=True,
        certificate=certificate,
    ) as server:
        settings = server.settings("starttls", username="ed", password=PASSWORD)
        with SmtpMailer(settings, ssl_context=certificate.client_context()) as mailer:
            assert mailer.send(message()).outcome is Outcome.ACCEPTED
        plain = server.settings("none", username="ed", password=PASSWORD)
        with pytest.raises(DeliveryError) as caught:
            SmtpMailer(plain).send(message())
        assert "AUTH" in str(caught.value) and "[smtp].security" in str(caught.value)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_wrong_password_raises_without_showing_it(
    mechanism: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpServer(users={"ed": PASSWORD}, auth_mechanisms=[mechanism]) as server:
        mailer = SmtpMailer(server.settings(username="ed", password=WRONG))
        with pytest.raises(DeliveryError) as caught:
            mailer.send(message())
    text = str(caught.value)
    assert f"{server.host}:{server.port}" in text
    assert "[smtp].password" in text and "535" in text
    assert not secrets_in(exception_text(caught.value))
    assert not secrets_in(repr(mailer))
    assert not secrets_in(repr(server.settings(username="ed", password=WRONG)))
    out, err = capsys.readouterr()
    assert not secrets_in(out + err)  # smtplib's debug output stays off
    assert PASSWORD not in caplog.text and WRONG not in caplog.text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("litwatch"))
    assert not secrets_in(ours)


def test_refused_auth_raises() -> None:
    with (
        SmtpServer(users={"ed": PASSWORD}, refuse_auth=True) as server,
        pytest.raises(DeliveryError) as caught,
    ):
        SmtpMailer(server.settings(username="ed", password=PASSWORD)).send(message())
    assert "refused the login" in str(caught.value)
    assert not server.messages


def test_required_auth_without_a_username_raises() -> None:
    with (
        SmtpServer(users={"ed": PASSWORD}, require_auth=True) as server,
        pytest.raises(DeliveryError) as caught,
    ):
        SmtpMailer(server.settings()).send(message())
    assert "requires a login" in str(caught.value) and "[smtp].username" in str(caught.value)


def test_password_never_logged_on_success(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpServer(users={"ed": PASSWORD}, auth_mechanisms=["LOGIN"]) as server:
        settings = server.settings(username="ed", password=PASSWORD)
        with SmtpMailer(settings) as mailer:
            assert mailer.send(message()).outcome is Outcome.ACCEPTED
            assert not secrets_in(repr(mailer))
    assert caplog.records  # there was logging to look at
    assert PASSWORD not in caplog.text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("litwatch"))
    assert not secrets_in(ours)


# --- per-message outcomes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("MAIL", "451 4.3.0 try again later", Outcome.RETRY),
        ("RCPT", "421 4.3.2 shutting down", Outcome.RETRY),
        ("RCPT", "451 4.3.0 try again later", Outcome.RETRY),
        ("RCPT", "550 5.1.1 no such user", Outcome.FAILED),
        ("DATA", "451 4.3.0 try again later", Outcome.RETRY),
        ("DATA", "554 5.5.1 no valid recipients", Outcome.FAILED),
        ("BODY", "451 4.3.0 queue full", Outcome.RETRY),
        ("BODY", "554 5.7.1 message refused as spam", Outcome.FAILED),
    ],
)
def test_refusals_map_to_outcomes_and_the_next_message_goes_through(
    server: SmtpServer, stage: str, reply: str, outcome: Outcome
) -> None:
    server.reply(stage, reply, times=1)
    with SmtpMailer(server.settings()) as mailer:
        refused = mailer.send(message())
        after = mailer.send(message("next@example.org"))
    assert refused.outcome is outcome
    assert refused.detail.startswith(reply) and stage.replace("BODY", "message") in refused.detail
    assert after.outcome is Outcome.ACCEPTED
    assert [m.rcpt_tos for m in server.messages] == [("next@example.org",)]
    assert server.sessions == (2 if reply.startswith("421") else 1)


def test_550_for_one_recipient_while_another_is_accepted(server: SmtpServer) -> None:
    server.reply("RCPT", "550 5.1.1 <gone@example.org>: no such user", recipient="gone@example.org")
    with SmtpMailer(server.settings()) as mailer:
        results = [mailer.send(message(r)) for r in ("gone@example.org", "ed@example.org")]
        again = mailer.send(message("gone@example.org"))
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.ACCEPTED]
    assert again.outcome is Outcome.FAILED
    assert [m.rcpt_tos for m in server.messages] == [("ed@example.org",)]
    assert server.sessions == 1


def test_connection_dropped_after_the_body_is_unknown(server: SmtpServer) -> None:
    server.drop("BODY", times=1)
    with SmtpMailer(server.settings()) as mailer:
        lost = mailer.send(message())
        after = mailer.send(message("next@example.org"))
    assert lost.outcome is Outcome.UNKNOWN
    assert "may have" in lost.detail
    assert [m.rcpt_tos for m in server.unacknowledged] == [("ed@example.org",)]
    assert after.outcome is Outcome.ACCEPTED  # on a new connection
    assert server.sessions == 2


def test_connection_dropped_before_the_body_is_retry(server: SmtpServer) -> None:
    server.drop("RCPT", times=1)
    with SmtpMailer(server.settings()) as mailer:
        lost = mailer.send(message())
        after = mailer.send(message("next@example.org"))
    assert lost.outcome is Outcome.RETRY and "RCPT" in lost.detail
    assert not server.unacknowledged
    assert after.outcome is Outcome.ACCEPTED


def test_a_connection_closed_between_messages_is_reopened(server: SmtpServer) -> None:
    with SmtpMailer(server.settings()) as mailer:
        assert mailer.send(message()).outcome is Outcome.ACCEPTED
        server.disconnect_all()
        time.sleep(0.1)
        assert mailer.send(message("next@example.org")).outcome is Outcome.ACCEPTED
        server.reply("MAIL", "421 4.4.2 idle too long", times=1)  # closes the connection
        assert mailer.send(message("third@example.org")).outcome is Outcome.ACCEPTED
    assert len(server.messages) == 3
    assert server.sessions == 3


# --- timeouts and unreachable servers -------------------------------------------------


def test_no_reply_to_the_body_within_the_timeout_is_unknown(server: SmtpServer) -> None:
    server.stall("BODY", seconds=10, times=1)
    start = time.monotonic()
    with SmtpMailer(server.settings(timeout=1)) as mailer:
        result = mailer.send(message())
    assert result.outcome is Outcome.UNKNOWN
    assert 0.9 < time.monotonic() - start < 3
    assert "no answer within 1 s" in result.detail


def test_no_reply_to_rcpt_within_the_timeout_is_retry(server: SmtpServer) -> None:
    server.stall("RCPT", seconds=10, times=1)
    start = time.monotonic()
    with SmtpMailer(server.settings(timeout=1)) as mailer:
        result = mailer.send(message())
        after = mailer.send(message("next@example.org"))
    assert result.outcome is Outcome.RETRY
    assert 0.9 < time.monotonic() - start < 3
    assert after.outcome is Outcome.ACCEPTED


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_a_server_that_never_answers_raises_after_the_timeout(security: str) -> None:
    with SilentServer() as silent:
        settings = SmtpSettings(host=silent.host, port=silent.port, security=security, timeout=1)
        start = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            SmtpMailer(settings).send(message())
        elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 3
    assert f"{silent.host}:{silent.port}" in str(caught.value)
    assert "no answer within 1 s" in str(caught.value)


def test_nothing_listening_raises_naming_host_and_port() -> None:
    port = closed_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=1)
    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(settings).send(message())
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "[smtp].host" in str(caught.value)


# --- the rest of the contract ---------------------------------------------------------


def test_make_mailer_sends_through_the_configured_server(server: SmtpServer, tmp_path) -> None:
    mailer = make_mailer(server.settings(), tmp_path)
    try:
        assert mailer.send(message()).outcome is Outcome.ACCEPTED
    finally:
        mailer.close()
        mailer.close()  # closing twice is fine
    assert not list(tmp_path.iterdir())  # no outbox
    assert len(server.messages) == 1


def test_default_ports() -> None:
    for security, port in (("none", 25), ("starttls", 587), ("ssl", 465)):
        assert SmtpMailer(SmtpSettings(host="mail.example.org", security=security)).port == port
    assert SmtpMailer(SmtpSettings(host="mail.example.org", port=2525)).port == 2525


def test_env_for_a_subprocess(certificate: Certificate) -> None:
    with SmtpServer(starttls=True, certificate=certificate) as server:
        env = server.env("starttls", username="ed", password=PASSWORD)
    assert env["LITWATCH_SMTP_PORT"] == str(server.port)
    assert env["LITWATCH_SMTP_SECURITY"] == "starttls"
    assert env["SSL_CERT_FILE"] == str(certificate.ca_file)


def test_an_invalid_recipient_fails_without_connecting() -> None:
    bad = EmailMessage()
    bad["From"] = "watch@example.org"
    bad["To"] = "ed@exa_mple.org"
    bad.set_content("hello")
    settings = SmtpSettings(host="127.0.0.1", port=closed_port(), security="none", timeout=1)
    result = SmtpMailer(settings).send(bad)
    assert result.outcome is Outcome.FAILED and "ed@exa_mple.org" in result.detail


def test_a_message_for_two_recipients_is_refused(server: SmtpServer) -> None:
    two = message()
    two.replace_header("To", "a@example.org, b@example.org")
    with pytest.raises(DeliveryError, match="exactly one recipient"):
        SmtpMailer(server.settings()).send(two)
    assert not server.messages


SUBPROCESS_SEND = """
import datetime as dt, os, sys
from litwatch.config import SmtpSettings
from litwatch.deliver.email import build_message, make_mailer
env = os.environ
settings = SmtpSettings(
    host=env["LITWATCH_SMTP_HOST"], port=int(env["LITWATCH_SMTP_PORT"]),
    security=env["LITWATCH_SMTP_SECURITY"], username=env["LITWATCH_SMTP_USERNAME"],
    password=env["LITWATCH_SMTP_PASSWORD"], timeout=5,
)
mailer = make_mailer(settings, os.getcwd())
result = mailer.send(build_message(
    subject="from a subprocess", sender="watch@example.org", recipient="ed@example.org",
    text="hi", html="<p>hi</p>", digest_key="sub/1", list_id="Sub", unsubscribe=None,
    now=dt.datetime(2021, 6, 7, tzinfo=dt.UTC), domain="example.org",
))
mailer.close()
print(result.outcome.name)
"""


def test_a_subprocess_sends_over_starttls_with_the_env(
    certificate: Certificate, tmp_path: Path
) -> None:
    with SmtpServer(starttls=True, users={"ed": PASSWORD}, certificate=certificate) as server:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            **server.env("starttls", username="ed", password=PASSWORD),
        }
        done = subprocess.run(
            [sys.executable, "-c", SUBPROCESS_SEND],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ACCEPTED"
        assert PASSWORD not in done.stdout + done.stderr
        assert server.messages[0].tls and server.messages[0].auth_login == "ed"
