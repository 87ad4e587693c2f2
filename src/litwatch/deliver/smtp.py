"""Sending by SMTP with smtplib: security none | starttls | ssl, optional login, timeouts,
one connection reused for many messages.

What applies to every recipient (cannot connect, TLS fails, login refused, the server
wants a login) raises DeliveryError naming host:port and the setting to check. What
applies to one message comes back as a SendResult:

========================================  ==========
4xx at MAIL / RCPT / DATA / after body     RETRY
5xx at MAIL / RCPT / DATA / after body     FAILED
connection lost or timeout before the      RETRY
  end of the body was sent
connection lost or timeout waiting for     UNKNOWN
  the reply to the body
========================================  ==========

A connection the server closed between messages (idle timeout, 421) is noticed at MAIL
and opened again once, transparently: nothing of that message had been sent.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage

from litwatch.config import SmtpSettings
from litwatch.deliver.email import (
    Outcome,
    SendResult,
    as_bytes,
    message_sender,
    only_recipient,
    parse_address,
)
from litwatch.errors import DeliveryError

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class _Stale(Exception):
    """A reused connection turned out to be closed before anything of a message was sent."""


class SmtpMailer:
    """Sends messages through ``settings.host``; a context manager. Not thread-safe.

    The connection is opened on the first ``send`` (or by ``connect()``), kept for the
    following messages and closed with QUIT by ``close()``.
    """

    def __init__(
        self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if not settings.host:
            raise DeliveryError("no SMTP host configured", hint="set [smtp].host")
        if settings.security not in DEFAULT_PORTS:
            raise DeliveryError(
                f"unknown SMTP security {settings.security!r}",
                hint=f"[smtp].security: {' | '.join(DEFAULT_PORTS)}",
            )
        self.host = settings.host
        self.port = settings.port or DEFAULT_PORTS[settings.security]
        self.security = settings.security
        self.timeout = settings.timeout
        self._username = settings.username
        self._password = settings.password
        self._ssl_context = ssl_context
        self._conn: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # no username or password here
        return f"SmtpMailer({self.where}, security={self.security!r})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- connection ---------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection now (and log in) if it is not open. Raises DeliveryError."""
        if self._conn is None:
            self._conn = self._open()

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _open(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                self._starttls(conn)
            if self._username:
                self._login(conn)
        except DeliveryError:
            _abandon(conn)
            raise
        except ssl.SSLError as exc:
            _abandon(conn)
            raise self._tls_error(exc) from exc
        except smtplib.SMTPConnectError as exc:
            raise DeliveryError(
                f"SMTP server {self.where} refused the connection: {self._reply(exc)}",
                hint="check [smtp].host and [smtp].port",
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _abandon(conn)
            raise DeliveryError(
                f"cannot talk to SMTP server {self.where}: {self._describe(exc)}",
                hint=f"check [smtp].host, [smtp].port and [smtp].security ({self.security!r}:"
                " 'ssl' for port 465, 'starttls' for 587)",
            ) from exc
        log.info("connected to SMTP server %s (%s)", self.where, self.security)
        return conn

    def _starttls(self, conn: smtplib.SMTP) -> None:
        if not conn.has_extn("starttls"):
            raise DeliveryError(
                f"SMTP server {self.where} does not offer STARTTLS",
                hint="check [smtp].security: 'ssl' for implicit TLS (port 465), 'none' only"
                " for a trusted local relay",
            )
        code, reply = conn.starttls(context=self._context())
        if code != 220:
            raise DeliveryError(
                f"SMTP server {self.where} refused STARTTLS: {self._text(code, reply)}",
                hint="check [smtp].security",
            )
        conn.ehlo()  # the session starts over inside TLS

    def _login(self, conn: smtplib.SMTP) -> None:
        try:
            conn.login(self._username or "", self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP server {self.where} refused the login of {self._username!r}:"
                f" {self._reply(exc)}",
                hint="check [smtp].username and [smtp].password (LITWATCH_SMTP_PASSWORD)",
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"SMTP server {self.where} offers no login (AUTH) on this connection",
                hint="set [smtp].security to 'starttls' or 'ssl' (servers offer AUTH only"
                " over TLS), or remove [smtp].username",
            ) from exc
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise
            raise DeliveryError(
                f"SMTP server {self.where}: login failed: {self._describe(exc)}",
                hint="check [smtp].username and [smtp].password (LITWATCH_SMTP_PASSWORD)",
            ) from None

    def _tls_error(self, exc: ssl.SSLError) -> DeliveryError:
        reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            hint = "the server's certificate is not trusted for this host name: check [smtp].host"
        else:
            hint = "check [smtp].security ('ssl' for port 465, 'starttls' for 587) and [smtp].port"
        return DeliveryError(f"TLS with SMTP server {self.where} failed: {reason}", hint=hint)

    def close(self) -> None:
        """QUIT and close; the next ``send`` connects again."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            conn.close()

    def _drop(self) -> None:
        """Close without QUIT, after the connection broke or the server said 421."""
        conn, self._conn = self._conn, None
        _abandon(conn)

    # --- one message --------------------------------------------------------------------

    def send(self, message: EmailMessage) -> SendResult:
        recipient = only_recipient(message)
        try:
            parse_address(recipient, "recipient")
        except DeliveryError as exc:
            return SendResult(recipient, Outcome.FAILED, str(exc))
        sender = parse_address(message_sender(message), "sender").addr_spec
        data = _dot_stuffed(as_bytes(message))
        for attempt in (1, 2):
            reused = self._conn is not None
            self.connect()
            try:
                result = self._transaction(sender, recipient, data, reused and attempt == 1)
            except _Stale as exc:
                log.info("SMTP connection to %s was closed (%s); reconnecting", self.where, exc)
                continue
            log.debug(
                "SMTP %s: %s %s: %s",
                self.where,
                recipient,
                result.outcome.value,
                result.detail,
            )
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, sender: str, recipient: str, data: bytes, reused: bool) -> SendResult:
        conn = self._conn
        assert conn is not None
        stage = "MAIL"
        try:
            code, reply = conn.mail(sender)
            if code != 250:
                if code == 421 and reused:
                    self._drop()
                    raise _Stale(self._text(code, reply))
                return self._refused(recipient, stage, code, reply)
            stage = "RCPT"
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                return self._refused(recipient, stage, code, reply)
            stage = "DATA"
            code, reply = conn.docmd("DATA")
            if code != 354:
                return self._refused(recipient, stage, code, reply)
            stage = "body"
            conn.send(data)
            stage = "end of data"
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            if stage == "MAIL" and reused:
                raise _Stale(self._describe(exc)) from exc
            if stage == "end of data":
                return SendResult(
                    recipient,
                    Outcome.UNKNOWN,
                    f"connection lost waiting for the reply to the message: {self._describe(exc)}"
                    " (the server may have accepted it)",
                )
            return SendResult(
                recipient, Outcome.RETRY, f"connection lost at {stage}: {self._describe(exc)}"
            )
        if 200 <= code < 300:
            return SendResult(recipient, Outcome.ACCEPTED, self._text(code, reply))
        if code == 421 or not 400 <= code < 600:
            self._drop()
        text = self._text(code, reply)
        if 400 <= code < 500:
            return SendResult(recipient, Outcome.RETRY, f"{text} (after the message)")
        if 500 <= code < 600:
            return SendResult(recipient, Outcome.FAILED, f"{text} (after the message)")
        return SendResult(recipient, Outcome.UNKNOWN, f"unexpected reply to the message: {text}")

    def _refused(self, recipient: str, stage: str, code: int, reply: bytes) -> SendResult:
        """A reply other than the expected one before the body was sent."""
        text = self._text(code, reply)
        if code == 530:  # "authentication required" / "must issue STARTTLS first"
            self._drop()
            raise DeliveryError(
                f"SMTP server {self.where} requires a login (or TLS) before sending: {text}",
                hint="set [smtp].username and [smtp].password (LITWATCH_SMTP_PASSWORD), and"
                " [smtp].security to 'starttls' or 'ssl' if the server asks for TLS",
            )
        if code == 421 or not 400 <= code < 600:
            self._drop()
        else:
            self._reset()
        outcome = Outcome.FAILED if 500 <= code < 600 else Outcome.RETRY
        return SendResult(recipient, outcome, f"{text} (at {stage})")

    def _reset(self) -> None:
        """RSET after a refused MAIL / RCPT / DATA so the next message starts clean."""
        conn = self._conn
        if conn is None:
            return
        try:
            code, _ = conn.rset()
        except (smtplib.SMTPException, OSError):
            code = -1
        if code != 250:
            self._drop()

    # --- text for people (never the password) -------------------------------------------

    def _secrets(self) -> list[str]:
        secrets: list[str] = []
        if self._password:
            user = self._username or ""
            for raw in (self._password, f"\0{user}\0{self._password}", f"{user}\0{self._password}"):
                secrets.append(base64.b64encode(raw.encode()).decode("ascii"))
            secrets.append(self._password)
        return secrets

    def _redact(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def _text(self, code: int, reply: bytes | str) -> str:
        if isinstance(reply, bytes):
            reply = reply.decode("utf-8", "replace")
        return self._redact(f"{code} {' '.join(reply.split())}".strip())

    def _reply(self, exc: smtplib.SMTPResponseException) -> str:
        return self._text(exc.smtp_code, exc.smtp_error)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._reply(exc)
        if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in str(exc):
            return f"no answer within {self.timeout:g} s"
        return self._redact(str(exc) or type(exc).__name__)


def _abandon(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: lines starting with "." doubled, ending with CRLF . CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"
