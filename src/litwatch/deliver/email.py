"""Digest emails: build the message (pure), then hand it to a ``Mailer``.

``build_message`` turns rendered text and HTML into one ``EmailMessage``; it does no I/O
and is the same for the same input (including the MIME boundary), so it can be
golden-tested. A ``Mailer`` sends one message to its one recipient and says what became of
it (``SendResult``): ``SmtpMailer`` (in ``smtp.py``) talks to a server, ``OutboxMailer``
writes ``.eml`` files, the embedded default when ``[smtp].host`` is not set.

Unstructured headers (Subject, List-Id, List-Unsubscribe, ...) are encoded and folded here
rather than by the ``email`` package: its folder can double spaces, emit empty
encoded-words and RFC 2047-encode a long URL, which mail clients then cannot use.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from email import policy as email_policy
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from html import unescape as html_unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from litwatch.atomic import remove_stale_temps, write_atomic
from litwatch.errors import DeliveryError

if TYPE_CHECKING:
    from litwatch.config import SmtpSettings

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 150  # characters of a Subject, after cleaning
NAME_LIMIT = 64  # characters of a display name in From / To
HEADER_LINE_LIMIT = 78  # RFC 5322 "SHOULD"; 998 is the hard limit
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- results and the Mailer protocol --------------------------------------------------


class Outcome(enum.Enum):
    ACCEPTED = "accepted"  # the server took the message (250 after the body)
    RETRY = "retry"  # 4xx, or connection trouble before the server had the message
    FAILED = "failed"  # 5xx: permanent for this recipient
    UNKNOWN = "unknown"  # connection lost after the body was sent: it may have arrived


@dataclass(frozen=True, slots=True)
class SendResult:
    recipient: str
    outcome: Outcome
    detail: str  # SMTP code and text (or what went wrong); never a password


@runtime_checkable
class Mailer(Protocol):
    def send(self, message: EmailMessage) -> SendResult:
        """Deliver ``message`` to its one recipient (the To)."""
        ...

    def close(self) -> None: ...


# --- header text ----------------------------------------------------------------------

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_LOCAL_PART = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_NAME_ADDR = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def one_line(text: str) -> str:
    """``text`` as one header-safe line: CR, LF, tabs and every other control character
    become spaces, bidi overrides go, runs of white space shrink to one space."""
    out = []
    for char in text.translate(_BIDI):
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif category == "Cs":  # a lone surrogate cannot be encoded
            out.append("\ufffd")
        else:
            out.append(char)
    return " ".join("".join(out).split())


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space when one is near, marked with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit - 30:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def clean_subject(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Plain text for a Subject: tags such as PubMed's ``<i>`` stripped, entities decoded,
    one line, at most ``limit`` characters."""
    return shorten(one_line(html_unescape(_TAG.sub("", text))), limit)


def digest_subject(title: str, count: int, period_end: dt.date) -> str:
    """ "Kratom literature: 3 new papers (week to 7 Jun 2021)"; the title is shortened so
    the count and the period always fit."""
    if isinstance(period_end, dt.datetime):
        period_end = period_end.date()
    papers = "no new papers" if count == 0 else f"{count} new paper" + ("" if count == 1 else "s")
    day = f"{period_end.day} {MONTHS[period_end.month - 1]} {period_end.year}"
    tail = f": {papers} (week to {day})"
    name = clean_subject(title, SUBJECT_LIMIT - len(tail)) or "litwatch"
    return name + tail


def _encode_word_run(text: str) -> list[str]:
    """``text`` as UTF-8 encoded-words (RFC 2047) of at most 75 characters each, Q or B
    encoding, whichever is shorter. Q uses only the characters allowed in a phrase."""

    def q(chunk: str) -> str:
        return "".join(
            "_" if b == 0x20 else chr(b) if b in _Q_SAFE else f"={b:02X}"
            for b in chunk.encode("utf-8")
        )

    def b(chunk: str) -> str:
        return base64.b64encode(chunk.encode("utf-8")).decode("ascii")

    def words(encode: Any, tag: str) -> list[str]:
        chunks, current = [], ""
        for char in text:
            if current and len(encode(current + char)) > 75 - len("=?utf-8?q??="):
                chunks.append(current)
                current = char
            else:
                current += char
        chunks.append(current)
        return [f"=?utf-8?{tag}?{encode(chunk)}?=" for chunk in chunks]

    q_words, b_words = words(q, "q"), words(b, "b")
    return q_words if len("".join(q_words)) <= len("".join(b_words)) else b_words


def encode_unstructured(text: str) -> str:
    """One-line text as header value: ASCII words as they are, each run of words with
    other characters (or that look like an encoded-word) as encoded-words."""
    out: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if word.isascii() and "=?" not in word and "?=" not in word:
            if run:
                out.extend(_encode_word_run(" ".join(run)))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out.extend(_encode_word_run(" ".join(run)))
    return " ".join(out)


def fold_header(name: str, value: str, linesep: str = "\r\n") -> str:
    """``Name: value`` folded at spaces to lines of at most 78 characters where it can be."""
    lines: list[str] = []
    line = f"{name}:"
    for token in value.split(" "):
        if len(line) + 1 + len(token) > HEADER_LINE_LIMIT and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    if any(len(part) > 998 for part in lines):
        raise DeliveryError(f"header {name} is too long for email ({len(value)} characters)")
    return linesep.join(lines) + linesep


class _PreparedHeader(UnstructuredHeader):
    """An unstructured header whose value is stored as given (no encoded-words decoded)
    and folded by ``encode_unstructured`` / ``fold_header``."""

    max_count = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["parse_tree"] = None
        kwds["decoded"] = one_line(value)

    def fold(self, *, policy: Any) -> str:
        return fold_header(self.name, encode_unstructured(str(self)), policy.linesep)


class _VerbatimHeader(_PreparedHeader):
    """A header whose value is already ASCII and encoded (List-Id, List-Unsubscribe,
    Message-ID): never RFC 2047-encoded, only folded at spaces."""

    def fold(self, *, policy: Any) -> str:
        return fold_header(self.name, str(self), policy.linesep)


_registry = HeaderRegistry()
for _name in ("subject", "x-litwatch-digest", "auto-submitted", "list-unsubscribe-post"):
    _registry.map_to_type(_name, _PreparedHeader)
for _name in ("message-id", "list-id", "list-unsubscribe"):
    _registry.map_to_type(_name, _VerbatimHeader)

#: ``email.policy.SMTP`` (CRLF line ends) with litwatch's own unstructured headers.
POLICY = email_policy.SMTP.clone(header_factory=_registry)


# --- addresses ------------------------------------------------------------------------


def check_domain(domain: str, what: str = "domain") -> str:
    """A host name as ASCII (IDNA for an internationalised one), or DeliveryError."""
    text = domain.strip().rstrip(".")
    try:
        ascii_ = text if text.isascii() else text.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DeliveryError(f"not a valid {what}: {domain!r}") from exc
    labels = ascii_.split(".")
    if not ascii_ or len(ascii_) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise DeliveryError(f"not a valid {what}: {domain!r}")
    return ascii_.lower()


def parse_address(value: str, what: str = "address") -> Address:
    """``user@example.org`` or ``Name <user@example.org>`` -> Address, or DeliveryError.

    Only dot-atom local parts (no quoted ones) and host-name domains are accepted; the
    domain may be internationalised (sent as IDNA). A display name is made one line.
    """
    if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
        raise DeliveryError(f"not an email {what}: {value!r}")
    text = value.strip()
    match = _NAME_ADDR.fullmatch(text)
    name, addr = (match["name"], match["addr"].strip()) if match else ("", text)
    name = one_line(name)
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    local, at, domain = addr.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(local) > 64:
        raise DeliveryError(f"not an email {what}: {value!r}")
    try:
        domain = check_domain(domain, f"email {what}")
    except DeliveryError:
        raise DeliveryError(f"not an email {what}: {value!r}") from None
    try:
        return Address(display_name=shorten(name, NAME_LIMIT), username=local, domain=domain)
    except (ValueError, TypeError) as exc:
        raise DeliveryError(f"not an email {what}: {value!r}") from exc


def message_id(digest_key: str, recipient: str, domain: str) -> str:
    """``<hex@domain>``: the same for the same digest and recipient, whenever it is built."""
    address = parse_address(recipient, "recipient").addr_spec.lower()
    digest = hashlib.sha256(f"{digest_key}\0{address}".encode()).hexdigest()
    return f"<{digest}@{check_domain(domain, 'Message-ID domain')}>"


def message_recipients(message: EmailMessage) -> list[str]:
    """The addresses (addr-spec) in the message's To headers."""
    found: list[str] = []
    for header in message.get_all("To", []):
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            found.extend(a.addr_spec for a in addresses)
        else:
            found.extend(addr for _, addr in getaddresses([str(header)]) if addr)
    return found


def message_sender(message: EmailMessage) -> str:
    """The envelope sender: the addr-spec of Sender, else of From."""
    for name in ("Sender", "From"):
        header = message.get(name)
        if header is None:
            continue
        addresses = getattr(header, "addresses", None)
        if addresses:
            return addresses[0].addr_spec
        pairs = [addr for _, addr in getaddresses([str(header)]) if addr]
        if pairs:
            return pairs[0]
    raise DeliveryError("the message has no From address")


def only_recipient(message: EmailMessage) -> str:
    recipients = message_recipients(message)
    if len(recipients) != 1:
        raise DeliveryError(f"a digest goes to exactly one recipient, this one has {recipients}")
    return recipients[0]


# --- building the message -------------------------------------------------------------


def list_id_header(list_id: str, domain: str) -> str:
    """``Title <slug.domain>`` (RFC 2919). ``list_id`` is either that full form, whose id
    is kept, or just a title, from which the id is made."""
    text = one_line(list_id)
    match = re.fullmatch(r"(?P<title>.*?)\s*<(?P<id>[^<>\s]+)>", text)
    if match:
        title, ident = match["title"].strip(), match["id"]
        if not _DOT_ATOM.fullmatch(ident) or "." not in ident:
            raise DeliveryError(f"not a List-Id: {list_id!r}")
    else:
        title = text
        ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-")
        ident = f"{slug or 'digest'}.{check_domain(domain, 'List-Id domain')}"
    title = shorten(title, 100)
    if not title:
        return f"<{ident}>"
    if not title.isascii():
        phrase = " ".join(_encode_word_run(title))
    elif re.fullmatch(rf"[{_ATEXT} ]+", title):
        phrase = title
    else:
        phrase = '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{phrase} <{ident}>"


def unsubscribe_uri(value: str) -> str:
    """A ``mailto:`` or ``http(s):`` URI for List-Unsubscribe; a bare address becomes
    ``mailto:``. Anything that could break the header is refused."""
    uri = value.strip()
    if ":" not in uri and "@" in uri:
        uri = "mailto:" + parse_address(uri, "unsubscribe address").addr_spec
    scheme = uri.split(":", 1)[0].lower()
    bad = [c for c in uri if c.isspace() or not c.isprintable() or c in '<>"' or not c.isascii()]
    if scheme not in ("mailto", "https", "http") or bad or len(uri) > 900:
        raise DeliveryError(
            f"not an unsubscribe URI: {value!r}",
            hint="use mailto:address or an https:// URL (percent-encode spaces and non-ASCII)",
        )
    if scheme == "mailto":
        parse_address(uri[len("mailto:") :].split("?", 1)[0], "unsubscribe address")
    return uri


def build_message(
    *,
    subject: str,
    sender: str,
    recipient: str,
    text: str,
    html: str,
    digest_key: str,
    list_id: str,
    unsubscribe: str | None,
    now: dt.datetime,
    domain: str,
) -> EmailMessage:
    """One digest email for one recipient: multipart/alternative, text then HTML.

    Pure: the same arguments give the same bytes (the MIME boundary comes from the
    Message-ID). A naive ``now`` is taken as UTC. Raises DeliveryError for an address,
    domain, List-Id or unsubscribe URI that is not valid.
    """
    from_ = parse_address(sender, "sender")
    to = parse_address(recipient, "recipient")
    ident = message_id(digest_key, to.addr_spec, domain)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)

    message = EmailMessage(policy=POLICY)
    message["From"] = from_
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Subject"] = clean_subject(subject)
    message["Message-ID"] = ident
    message["List-Id"] = list_id_header(list_id, domain)
    if unsubscribe:
        uri = unsubscribe_uri(unsubscribe)
        message["List-Unsubscribe"] = f"<{uri}>"
        if uri.lower().startswith("https:"):
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Litwatch-Digest"] = one_line(digest_key)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    for part in message.iter_parts():
        del part["MIME-Version"]  # only the top level carries it
    message.set_boundary(_boundary(ident, message))
    return message


def _boundary(ident: str, message: EmailMessage) -> str:
    """A MIME boundary derived from the Message-ID that occurs in no part."""
    bodies = [str(part.get_payload()) for part in message.iter_parts()]
    seed = ident
    while True:
        seed = hashlib.sha256(seed.encode()).hexdigest()
        boundary = f"=_litwatch_{seed[:32]}"
        if not any(boundary in body for body in bodies):
            return boundary


def as_bytes(message: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, litwatch's header folding."""
    return message.as_bytes(policy=POLICY)


# --- the outbox -----------------------------------------------------------------------


class OutboxMailer:
    """Writes each message to ``folder`` as ``<Message-ID>.eml`` instead of sending it.

    The same message written again replaces its file, atomically (temporary file, fsync,
    rename); files are 0600, a folder this creates is 0700.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"OutboxMailer({str(self.folder)!r})"

    def __enter__(self) -> OutboxMailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def path_for(self, message: EmailMessage) -> Path:
        return self.folder / eml_name(message)

    def send(self, message: EmailMessage) -> SendResult:
        recipient = only_recipient(message)
        data = as_bytes(message)
        path = self.path_for(message)
        try:
            self._ensure_folder()
            remove_stale_temps(path)  # of this Message-ID, left by a run killed mid-write
            write_atomic(path, data, 0o600)
        except OSError as exc:
            raise DeliveryError(
                f"cannot write to the outbox folder {self.folder}: {exc.strerror or exc}",
                hint="check [smtp].outbox_dir, or set [smtp].host to send by SMTP",
            ) from exc
        log.debug("outbox: wrote %s for %s", path, recipient)
        return SendResult(recipient, Outcome.ACCEPTED, f"written to {path}")

    def close(self) -> None:
        pass

    def _ensure_folder(self) -> None:
        if self.folder.is_dir():
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)


def eml_name(message: EmailMessage) -> str:
    """A file name from the Message-ID with only safe characters; a short hash is added
    when characters had to be replaced, so two Message-IDs never share a file."""
    raw = str(message.get("Message-ID", "")).strip()
    if not raw:
        raw = "<" + hashlib.sha256(as_bytes(message)).hexdigest() + "@no-message-id>"
    core = raw.strip("<>")
    safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", core).lstrip(".-") or "message"
    if safe != core or len(safe) > 180:
        safe = safe[:180] + "-" + hashlib.sha256(raw.encode()).hexdigest()[:12]
    return safe + ".eml"


# --- choosing a mailer ----------------------------------------------------------------


def make_mailer(settings: SmtpSettings, root: Path) -> Mailer:
    """``SmtpMailer`` when ``[smtp].host`` is set, else the outbox (relative to ``root``)."""
    if settings.host:
        from litwatch.deliver.smtp import SmtpMailer

        return SmtpMailer(settings)
    folder = Path(settings.outbox_dir).expanduser()
    return OutboxMailer(folder if folder.is_absolute() else Path(root) / folder)


def __getattr__(name: str) -> Any:  # ``from litwatch.deliver.email import SmtpMailer``
    if name == "SmtpMailer":
        from litwatch.deliver.smtp import SmtpMailer

        return SmtpMailer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
