"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, ephemeral ports, programmable.

    from smtp_server import SmtpServer

    with SmtpServer(starttls=True, users={"ed": "s3cret"}) as server:
        server.reply("RCPT", "550 5.1.1 no such user", recipient="gone@example.org")
        server.drop("BODY", times=1)            # close after the body, no reply
        ...                                      # point litwatch at server.host / server.port
        assert server.messages[0].rcpt_tos == ["ed@example.org"]

Stages a rule can apply to: ``MAIL``, ``RCPT`` (optionally for one recipient), ``DATA``
(the DATA command, before 354) and ``BODY`` (the reply after the message's final dot).
A rule replies with a given line, drops the connection without replying, or stalls for a
while before the normal reply; ``times`` limits how often it fires (None: always). A
reply starting with 421 also closes the connection, as real servers do.

The server runs in threads of this process (aiosmtpd's Controller); a ``litwatch``
subprocess reaches it through ``server.env()`` (LITWATCH_SMTP_* and SSL_CERT_FILE, so the
subprocess trusts the test certificate). Also here: ``make_certificate`` (a CA and a
server certificate for 127.0.0.1 / localhost, made with ``cryptography``),
``SilentServer`` (accepts TCP connections and never says a word) and ``closed_port()``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
STAGES = ("MAIL", "RCPT", "DATA", "BODY")

# aiosmtpd logs every line it reads at DEBUG (AUTH LOGIN's base64 password included) and
# each connection at INFO; tests that want that chatter can lower this level again.
logging.getLogger("mail.log").setLevel(logging.WARNING)
# aiosmtpd 1.4 sets the deprecated Session.login_data itself on every successful AUTH.
logging.getLogger("mail.log").addFilter(
    lambda record: "login_data is deprecated" not in record.getMessage()
)


# --- certificates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A throw-away CA and a server certificate it signed, as PEM files in ``folder``."""

    folder: Path
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def cert_file(self) -> Path:
        return self.folder / "server.pem"

    @property
    def key_file(self) -> Path:
        return self.folder / "server.key"

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A default (verifying) client context that trusts only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


def make_certificate(
    folder: Path, names: Sequence[str] = ("localhost",), ips: Sequence[str] = (HOST,)
) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "litwatch test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    result = Certificate(
        folder=folder,
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    result.ca_file.write_bytes(result.ca_pem)
    result.cert_file.write_bytes(result.cert_pem)
    result.key_file.write_bytes(result.key_pem)
    result.key_file.chmod(0o600)
    return result


# --- what the server saw --------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message body the server received, with its envelope."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # as received (after dot-unstuffing), CRLF line ends
    tls: bool
    auth_login: str | None
    port: int

    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]


@dataclass
class Rule:
    stage: str
    action: str  # "reply" | "drop" | "stall"
    reply: str | None = None
    recipient: str | None = None
    times: int | None = None
    seconds: float = 0.0

    def matches(self, stage: str, recipients: Sequence[str]) -> bool:
        if self.stage != stage:
            return False
        return self.recipient is None or self.recipient.lower() in (r.lower() for r in recipients)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: list[Rule] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)
    unacknowledged: list[Received] = field(default_factory=list)
    auth_attempts: list[tuple[str, str, bool]] = field(default_factory=list)
    sessions: int = 0
    protocols: set[_Protocol] = field(default_factory=set)

    def take(self, stage: str, recipients: Sequence[str]) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(stage, recipients):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules.remove(rule)
                    return rule
        return None


# --- the aiosmtpd side ----------------------------------------------------------------


class _Protocol(SMTP):
    """aiosmtpd's SMTP with rules for the DATA command and 421 closing the connection."""

    def __init__(self, handler: _Handler, *, auth_required: bool = False, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        # set afterwards: aiosmtpd warns about AUTH without TLS, which tests do on purpose
        self._auth_required = auth_required
        self.state = handler.state

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        with self.state.lock:
            self.state.protocols.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        with self.state.lock:
            self.state.protocols.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        await super().push(status)
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith("421") and self.transport is not None:
            self.transport.close()

    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        if envelope is not None and envelope.rcpt_tos:
            rule = self.state.take("DATA", envelope.rcpt_tos)
            if rule is not None and await _apply(self, rule):
                return
        await super().smtp_DATA(arg)


async def _apply(server: SMTP, rule: Rule) -> str | None:
    """Carry out a rule; a reply to push (or "" after a drop), None to go on normally."""
    if rule.action == "reply":
        assert rule.reply is not None
        if rule.stage == "DATA":  # smtp_DATA is ours: push here
            await server.push(rule.reply)
        return rule.reply
    if rule.action == "drop":
        if server.transport is not None:
            server.transport.close()
        await asyncio.Event().wait()  # cancelled when the connection is gone
    if rule.action == "stall":
        await asyncio.sleep(rule.seconds)
    return None


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        with self.state.lock:
            self.state.sessions += 1
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        with self.state.lock:
            self.state.sessions += 1
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        rule = self.state.take("MAIL", [])
        if rule is not None:
            reply = await _apply(server, rule)
            if reply is not None:
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        rule = self.state.take("RCPT", [address])
        if rule is not None:
            reply = await _apply(server, rule)
            if reply is not None:
                return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        login = session.auth_data.login.decode() if session.authenticated else None
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=envelope.original_content,
            tls=tls,
            auth_login=login,
            port=sockname[1] if sockname else 0,
        )
        rule = self.state.take("BODY", envelope.rcpt_tos)
        if rule is not None:
            with self.state.lock:
                self.state.unacknowledged.append(received)
            reply = await _apply(server, rule)
            if reply is not None:
                return reply
            with self.state.lock:
                self.state.unacknowledged.remove(received)
        with self.state.lock:
            self.state.messages.append(received)
            number = len(self.state.messages)
        return f"250 2.0.0 OK queued as {number}"


class _Controller(Controller):
    """Binds an ephemeral port itself (aiosmtpd 1.4 cannot report the port it got)."""

    def factory(self) -> SMTP:
        return _Protocol(self.handler, **self.SMTP_kwargs)

    def _create_server(self):  # type: ignore[no-untyped-def]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.hostname, 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)


# --- the server tests use -------------------------------------------------------------


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (and, with ``implicit_tls``, a second, TLS-only
    port). ``users`` turns on AUTH (PLAIN and LOGIN by default) with those logins."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        require_auth: bool = False,
        refuse_auth: bool = False,
        auth_mechanisms: Sequence[str] = ("PLAIN", "LOGIN"),
        auth_require_tls: bool = False,
        starttls: bool = False,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        hostname: str = "localhost",
        certificate: Certificate | None = None,
    ) -> None:
        self.host = HOST
        self.port = 0
        self.ssl_port: int | None = None
        self.users = dict(users or {})
        self.require_auth = require_auth
        self.refuse_auth = refuse_auth
        self.auth_mechanisms = tuple(m.upper() for m in auth_mechanisms)
        self.auth_require_tls = auth_require_tls
        self.starttls = starttls or require_starttls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.hostname = hostname
        self._state = _State()
        self._controllers: list[_Controller] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.certificate = certificate

    def __repr__(self) -> str:
        return f"SmtpServer({self.host}:{self.port}, ssl_port={self.ssl_port})"

    # --- life cycle ---

    def start(self) -> SmtpServer:
        if (self.starttls or self.implicit_tls) and self.certificate is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="litwatch-smtp-")
            self.certificate = make_certificate(Path(self._tmp.name))
        handler = _Handler(self._state)
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "server_hostname": self.hostname,
            "auth_require_tls": self.auth_require_tls,
            "auth_required": self.require_auth,
            "authenticator": self._authenticate,
            "auth_exclude_mechanism": [
                m for m in ("PLAIN", "LOGIN") if m not in self.auth_mechanisms
            ],
            "enable_SMTPUTF8": True,
            "ready_timeout": 5.0,
        }
        tls_context = self.certificate.server_context() if self.certificate else None
        main = _Controller(
            handler,
            tls_context=tls_context if self.starttls else None,
            require_starttls=self.require_starttls,
            **kwargs,
        )
        main.start()
        self._controllers.append(main)
        self.port = main.port
        if self.implicit_tls:
            assert tls_context is not None
            secure = _Controller(handler, ssl_context=tls_context, **kwargs)
            secure.start()
            self._controllers.append(secure)
            self.ssl_port = secure.port
        return self

    def stop(self) -> None:
        while self._controllers:
            self._controllers.pop().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = not self.refuse_auth and login in self.users and self.users[login] == password
        with self._state.lock:
            self._state.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    # --- programming ---

    def reply(
        self, stage: str, reply: str, *, recipient: str | None = None, times: int | None = None
    ) -> None:
        """Answer ``reply`` (e.g. "451 4.3.0 try later") at ``stage`` instead of the normal reply."""
        self._add(Rule(_stage(stage), "reply", reply=reply, recipient=recipient, times=times))

    def drop(
        self, stage: str = "BODY", *, recipient: str | None = None, times: int | None = None
    ) -> None:
        """Close the connection at ``stage`` without replying (``BODY``: after receiving it)."""
        self._add(Rule(_stage(stage), "drop", recipient=recipient, times=times))

    def stall(
        self,
        stage: str,
        seconds: float = 30.0,
        *,
        recipient: str | None = None,
        times: int | None = None,
    ) -> None:
        """Say nothing for ``seconds`` at ``stage``, then reply normally."""
        self._add(Rule(_stage(stage), "stall", recipient=recipient, times=times, seconds=seconds))

    def clear_rules(self) -> None:
        with self._state.lock:
            self._state.rules.clear()

    def _add(self, rule: Rule) -> None:
        with self._state.lock:
            self._state.rules.append(rule)

    def disconnect_all(self) -> None:
        """Close every open client connection, as a server's idle timeout would."""
        with self._state.lock:
            protocols = list(self._state.protocols)
        for protocol in protocols:
            transport = protocol.transport
            if transport is not None:
                protocol.loop.call_soon_threadsafe(transport.close)

    # --- what happened ---

    @property
    def messages(self) -> list[Received]:
        """Messages accepted (250 after the body), oldest first."""
        with self._state.lock:
            return list(self._state.messages)

    @property
    def unacknowledged(self) -> list[Received]:
        """Bodies received but not acknowledged with 250 (dropped, refused at BODY)."""
        with self._state.lock:
            return list(self._state.unacknowledged)

    @property
    def auth_attempts(self) -> list[tuple[str, str, bool]]:
        """(mechanism, login, success) for every AUTH; passwords are not kept."""
        with self._state.lock:
            return list(self._state.auth_attempts)

    @property
    def sessions(self) -> int:
        """How many EHLO/HELO greetings the server answered (one or two per connection)."""
        with self._state.lock:
            return self._state.sessions

    # --- pointing litwatch at it ---

    def port_for(self, security: str) -> int:
        if security == "ssl":
            if self.ssl_port is None:
                raise RuntimeError("start the server with implicit_tls=True for security 'ssl'")
            return self.ssl_port
        return self.port

    def settings(self, security: str = "none", **overrides: Any) -> Any:
        """``SmtpSettings`` for this server (timeout 5 s unless overridden)."""
        from litwatch.config import SmtpSettings

        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port_for(security),
            "security": security,
            "timeout": 5.0,
        }
        values.update(overrides)
        return SmtpSettings(**values)

    def env(
        self,
        security: str = "none",
        *,
        username: str | None = None,
        password: str | None = None,
        sender: str | None = None,
    ) -> dict[str, str]:
        """Environment for a ``litwatch`` subprocess: LITWATCH_SMTP_* and, with TLS,
        SSL_CERT_FILE so that the default SSL context trusts the test CA."""
        env = {
            "LITWATCH_SMTP_HOST": self.host,
            "LITWATCH_SMTP_PORT": str(self.port_for(security)),
            "LITWATCH_SMTP_SECURITY": security,
        }
        for key, value in (("USERNAME", username), ("PASSWORD", password), ("SENDER", sender)):
            if value is not None:
                env[f"LITWATCH_SMTP_{key}"] = value
        if self.certificate is not None:
            env["SSL_CERT_FILE"] = str(self.certificate.ca_file)
        return env


def _stage(stage: str) -> str:
    stage = stage.upper()
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
    return stage


# --- servers that misbehave below SMTP ------------------------------------------------


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (a hung server)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self._sock.listen(16)
        self.host = HOST
        self.port: int = self._sock.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._clients.append(client)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        for client in self._clients:
            client.close()
        self._sock.close()

    @property
    def connections(self) -> int:
        return len(self._clients)


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- pytest fixtures (import them into a test module to use them) ---------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no AUTH); program it per test."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """One CA + server certificate for the whole session (making one takes ~10 ms)."""
    return make_certificate(tmp_path_factory.mktemp("smtp-cert"))


def main() -> None:  # pragma: no cover - a manual aid: python tests/smtp_server.py
    import json
    import sys

    with SmtpServer(starttls=True, implicit_tls=True) as server:
        print(
            json.dumps(
                {
                    "host": server.host,
                    "port": server.port,
                    "ssl_port": server.ssl_port,
                    "ca_file": str(server.certificate.ca_file) if server.certificate else None,
                }
            ),
            flush=True,
        )
        sys.stdin.read()  # until stdin closes
        for received in server.messages:
            print(received.mail_from, "->", ", ".join(received.rcpt_tos), file=sys.stderr)


if __name__ == "__main__":
    main()
