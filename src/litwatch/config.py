"""Settings and watches: TOML files -> typed values. The only place defaults and URLs live.

Every section of ``litwatch.toml`` is one frozen dataclass below; its fields are the
allowed keys, their annotations the allowed types, and every scalar can be overridden from
the environment as ``LITWATCH_<SECTION>_<KEY>``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litwatch.errors import ConfigError
from litwatch.records import Subscription, Watch

NCBI_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
CONFIG_FILENAME = "litwatch.toml"
ENV_PREFIX = "LITWATCH_"


@dataclass(frozen=True, slots=True)
class EntrezSettings:
    email: str = ""
    base_url: str = NCBI_EUTILS_URL
    api_key: str | None = None
    tool: str = "litwatch"
    timeout: float = 30.0  # seconds, for connect and for each read
    max_retries: int = 5  # attempts after the first one
    backoff: float = 1.0  # seconds; doubled on each retry, with jitter
    batch_size: int = 200  # PMIDs per POSTed efetch
    requests_per_second: float | None = None  # None: NCBI's limit (3, or 10 with an api_key)

    @property
    def rate_limit(self) -> float:
        ceiling = 10.0 if self.api_key else 3.0
        if self.requests_per_second is None:
            return ceiling
        return min(self.requests_per_second, ceiling)

    def __repr__(self) -> str:  # the key must not reach a log through a repr
        key = "***" if self.api_key else None
        return f"EntrezSettings(base_url={self.base_url!r}, email={self.email!r}, api_key={key})"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    url: str = "sqlite:///litwatch.db"


@dataclass(frozen=True, slots=True)
class CollectSettings:
    queries_dir: str = "queries"  # relative to the config file's folder
    overlap_days: int = (
        3  # records reach PubMed late: each window starts this far before the watermark
    )
    datetype: str = "crdt"  # PubMed's create date; edat is back-dated for late records


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str | None = None  # no host: messages are written to outbox_dir instead
    port: int | None = None  # default: 25, 587 with starttls, 465 with ssl
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "litwatch@localhost"
    timeout: float = 30.0
    outbox_dir: str = "outbox"

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port!r}, security={self.security!r})"


@dataclass(frozen=True, slots=True)
class FeedsSettings:
    dir: str = "feeds"
    base_url: str = "http://localhost/feeds/"
    max_entries: int = 100


@dataclass(frozen=True, slots=True)
class TemplatesSettings:
    dir: str | None = None  # a folder whose templates replace the shipped ones, file by file


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything from ``litwatch.toml`` except the digests, resolved against ``root``."""

    path: Path | None  # the config file, None when only defaults and the environment apply
    root: Path  # paths in the config are relative to this folder
    entrez: EntrezSettings = field(default_factory=EntrezSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    templates: TemplatesSettings = field(default_factory=TemplatesSettings)
    digests: tuple[Subscription, ...] = ()

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def queries_dir(self) -> Path:
        return self.resolve(self.collect.queries_dir)

    @property
    def store_path(self) -> Path:
        """The SQLite file named by ``[store].url``."""
        return sqlite_path(self.store.url, self.root, self.path)


SECTIONS: dict[str, type] = {
    "entrez": EntrezSettings,
    "store": StoreSettings,
    "collect": CollectSettings,
    "smtp": SmtpSettings,
    "feeds": FeedsSettings,
    "templates": TemplatesSettings,
}
SMTP_SECURITY = ("none", "starttls", "ssl")
DATETYPES = ("crdt", "edat")
PLACEHOLDER_KEY = re.compile(
    r"your|xxx|changeme|change_me|placeholder|example|dummy|secret|api[_-]?key|<|>|\.\.\.", re.I
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def find_config(explicit: str | os.PathLike[str] | None, cwd: Path | None = None) -> Path | None:
    """``--config``, else ``LITWATCH_CONFIG``, else ``./litwatch.toml`` if it exists."""
    chosen = explicit or os.environ.get("LITWATCH_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError("config file not found", path=path)
        return path.resolve()
    default = (cwd or Path.cwd()) / CONFIG_FILENAME
    return default.resolve() if default.is_file() else None


def load_settings(
    path: Path | None, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    """Read ``litwatch.toml`` (or nothing), apply the environment, validate everything."""
    env = os.environ if env is None else env
    data = read_toml(path) if path else {}
    where = path or Path("<environment>")
    unknown = sorted(set(data) - set(SECTIONS) - {"digests"})
    if unknown:
        raise ConfigError(
            f"unknown section [{unknown[0]}]",
            path=where,
            hint=f"allowed: {', '.join(SECTIONS)}, digests",
        )
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise ConfigError("must be a table", path=where, key=f"[{name}]")
        sections[name] = build_section(cls, name, raw, env, where)
    root = path.parent if path else (cwd or Path.cwd())
    digests = load_subscriptions(data.get("digests", {}), where)
    settings = Settings(path=path, root=root.resolve(), digests=digests, **sections)
    validate_settings(settings, where)
    return settings


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from exc


def build_section(
    cls: type, section: str, raw: Mapping[str, Any], env: Mapping[str, str], where: Path
):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}",
            path=where,
            key=f"[{section}]",
            hint=f"allowed: {', '.join(fields)}",
        )
    values: dict[str, Any] = {}
    for name in fields:
        env_name = f"{ENV_PREFIX}{section}_{name}".upper()
        if env_name in env:
            values[name] = coerce_env(env[env_name], hints[name], env_name)
        elif name in raw:
            values[name] = check_type(raw[name], hints[name], where, f"[{section}].{name}")
    return cls(**values)


def allowed_types(hint: Any) -> tuple[type, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(t for t in typing.get_args(hint) if t is not type(None))
    return (hint,)


def check_type(value: Any, hint: Any, where: Path, key: str) -> Any:
    wanted = allowed_types(hint)
    if isinstance(value, bool) and bool not in wanted:
        raise ConfigError(f"expected {type_words(wanted)}, got a boolean", path=where, key=key)
    if isinstance(value, int) and float in wanted and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, wanted):
        raise ConfigError(
            f"expected {type_words(wanted)}, got {type(value).__name__} {value!r}",
            path=where,
            key=key,
        )
    return value


def coerce_env(text: str, hint: Any, env_name: str) -> Any:
    wanted = allowed_types(hint)
    optional = type(None) in typing.get_args(hint)
    if text == "" and optional:
        return None
    target = wanted[0]
    try:
        if target is bool:
            return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[
                text.strip().lower()
            ]
        return target(text)
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"expected {type_words(wanted)}, got {text!r}", path="environment", key=env_name
        ) from exc


def type_words(types_: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return " or ".join(names.get(t, t.__name__) for t in types_)


def validate_settings(s: Settings, where: Path) -> None:
    e = s.entrez
    if not e.email:
        raise ConfigError(
            "missing: NCBI asks every client for a contact email",
            path=where,
            key="[entrez].email",
            hint="set it or LITWATCH_ENTREZ_EMAIL",
        )
    if not EMAIL.match(e.email):
        raise ConfigError(f"not an email address: {e.email!r}", path=where, key="[entrez].email")
    if e.api_key is not None and is_placeholder_key(e.api_key):
        raise ConfigError(
            "looks like a placeholder, not an NCBI API key",
            path=where,
            key="[entrez].api_key",
            hint="remove it to run at 3 requests/s, or paste the key from your NCBI account",
        )
    check_url(e.base_url, where, "[entrez].base_url")
    positive = {
        "[entrez].timeout": e.timeout,
        "[entrez].batch_size": e.batch_size,
        "[feeds].max_entries": s.feeds.max_entries,
        "[smtp].timeout": s.smtp.timeout,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"must be positive, got {value}", path=where, key=key)
    if e.requests_per_second is not None and e.requests_per_second <= 0:
        raise ConfigError("must be positive", path=where, key="[entrez].requests_per_second")
    if e.max_retries < 0 or e.backoff < 0:
        raise ConfigError("must not be negative", path=where, key="[entrez].max_retries/backoff")
    if e.batch_size > 10000:
        raise ConfigError("at most 10000 PMIDs per efetch", path=where, key="[entrez].batch_size")
    if s.collect.overlap_days < 0:
        raise ConfigError("must not be negative", path=where, key="[collect].overlap_days")
    if s.collect.datetype not in DATETYPES:
        raise ConfigError(
            f"unknown date type {s.collect.datetype!r}",
            path=where,
            key="[collect].datetype",
            hint=f"allowed: {', '.join(DATETYPES)}",
        )
    if s.smtp.security not in SMTP_SECURITY:
        raise ConfigError(
            f"unknown security mode {s.smtp.security!r}",
            path=where,
            key="[smtp].security",
            hint=f"allowed: {', '.join(SMTP_SECURITY)}",
        )
    if s.smtp.port is not None and not 0 < s.smtp.port < 65536:
        raise ConfigError(f"not a port number: {s.smtp.port}", path=where, key="[smtp].port")
    check_url(s.feeds.base_url, where, "[feeds].base_url")
    check_sender(s.smtp.sender, where)
    sqlite_path(s.store.url, s.root, where)


def check_sender(sender: str, where: Path) -> None:
    """``[smtp].sender`` is what every digest's From and Message-ID are built from."""
    from litwatch.deliver.email import parse_address
    from litwatch.errors import DeliveryError

    try:
        parse_address(sender, "sender")
    except DeliveryError as exc:
        raise ConfigError(
            f"not an email address: {sender!r}",
            path=where,
            key="[smtp].sender",
            hint='e.g. "litwatch@example.org" or "Litwatch <litwatch@example.org>"',
        ) from exc


def check_locations(settings: Settings) -> None:
    """The store, the feeds folder and (without an SMTP host) the outbox can be used: a
    path that cannot be is a configuration error found before a run changes anything."""
    where = settings.path or Path("<environment>")
    store = settings.store_path
    writable_folder(store.parent, where, "[store].url")
    if store.is_dir():
        raise ConfigError(f"{store} is a folder, not a store file", path=where, key="[store].url")
    if store.exists():
        with store.open("rb") as fh:
            header = fh.read(16)
        if header and header != b"SQLite format 3\x00":
            raise ConfigError(
                f"{store} is not a SQLite database (not a litwatch store)",
                path=where,
                key="[store].url",
            )
    writable_folder(settings.resolve(settings.feeds.dir), where, "[feeds].dir")
    if not settings.smtp.host:
        writable_folder(settings.resolve(settings.smtp.outbox_dir), where, "[smtp].outbox_dir")


def writable_folder(folder: Path, where: Path, key: str) -> None:
    """``folder`` exists as a writable folder, or can be created as one."""
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(
            f"{probe} is not a folder, so {folder} cannot be one", path=where, key=key
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"folder {probe} is not writable", path=where, key=key)


def is_placeholder_key(key: str) -> bool:
    return not key.strip() or bool(PLACEHOLDER_KEY.search(key)) or len(set(key)) < 4


def check_url(url: str, where: Path, key: str) -> None:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"not an http(s) URL: {url!r}", path=where, key=key)


def sqlite_path(url: str, root: Path, where: Path | None) -> Path:
    """``sqlite:///relative.db`` (against the config's folder) or ``sqlite:////abs/path.db``."""
    if url.startswith(("postgresql:", "postgres:")):
        raise ConfigError(
            "PostgreSQL is not supported yet",
            path=where,
            key="[store].url",
            hint="use sqlite:///litwatch.db",
        )
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise ConfigError(
            f"not a store URL: {url!r}",
            path=where,
            key="[store].url",
            hint="e.g. sqlite:///litwatch.db",
        )
    path = Path(url.removeprefix("sqlite:///")).expanduser()
    return path if path.is_absolute() else root / path


# --- digests -------------------------------------------------------------------------

DIGEST_KEYS = (
    "title",
    "watches",
    "recipients",
    "schedule",
    "timezone",
    "max_papers",
    "send_empty",
    "intro",
    "unsubscribe",
)


def load_subscriptions(tables: Any, where: Path) -> tuple[Subscription, ...]:
    if not isinstance(tables, dict):
        raise ConfigError("must be a table of digests", path=where, key="[digests]")
    return tuple(load_subscription(name, raw, where) for name, raw in tables.items())


def load_subscription(name: str, raw: Any, where: Path) -> Subscription:
    section = f"[digests.{name}]"
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", path=where, key=section)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ConfigError(
            "a digest name takes letters, digits, '-', '_' and '.'", path=where, key=section
        )
    unknown = sorted(set(raw) - set(DIGEST_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}",
            path=where,
            key=section,
            hint=f"allowed: {', '.join(DIGEST_KEYS)}",
        )
    for key in ("watches", "recipients"):
        value = raw.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ConfigError(
                "expected a non-empty list of strings", path=where, key=f"{section}.{key}"
            )
    for address in raw["recipients"]:
        if not EMAIL.match(address):
            raise ConfigError(
                f"not an email address: {address!r}", path=where, key=f"{section}.recipients"
            )
    types_ = {
        "title": str,
        "schedule": str,
        "timezone": str,
        "intro": str,
        "max_papers": int,
        "send_empty": bool,
    }
    for key, wanted in types_.items():
        if key in raw:
            check_type(raw[key], wanted, where, f"{section}.{key}")
    timezone = raw.get("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {timezone!r}", path=where, key=f"{section}.timezone"
        ) from exc
    schedule = raw.get("schedule", "0 7 * * 1")
    check_cron(schedule, where, f"{section}.schedule", timezone)
    max_papers = raw.get("max_papers", 50)
    if max_papers < 1:
        raise ConfigError("must be at least 1", path=where, key=f"{section}.max_papers")
    return Subscription(
        name=name,
        title=raw.get("title", name),
        watches=tuple(raw["watches"]),
        recipients=tuple(dict.fromkeys(a.strip() for a in raw["recipients"])),
        schedule=schedule,
        timezone=timezone,
        max_papers=max_papers,
        send_empty=raw.get("send_empty", False),
        intro=raw.get("intro"),
        unsubscribe=check_unsubscribe(raw.get("unsubscribe"), where, f"{section}.unsubscribe"),
    )


def check_unsubscribe(value: str | None, where: Path, key: str) -> str | None:
    if value is None:
        return None
    if value.startswith("mailto:") and EMAIL.match(value.removeprefix("mailto:").split("?")[0]):
        return value
    if value.startswith("https://"):
        return value
    raise ConfigError(
        f"expected mailto:ADDRESS or an https:// URL, got {value!r}", path=where, key=key
    )


def check_subscriptions(settings: Settings, watches: list[Watch]) -> None:
    """Every digest names watches that exist."""
    names = {w.name for w in watches}
    for sub in settings.digests:
        for watch in sub.watches:
            if watch not in names:
                raise ConfigError(
                    f"no watch named {watch!r}",
                    path=settings.path,
                    key=f"[digests.{sub.name}].watches",
                    hint=f"known: {', '.join(sorted(names))}",
                )


# --- watches -------------------------------------------------------------------------

WATCH_KEYS = ("title", "term", "schedule", "first_run", "backlog_since", "enabled", "article")
FIRST_RUN = ("seed", "collect")
# PubMed's search field tags (https://pubmed.ncbi.nlm.nih.gov/help/#search-tags), lower case.
FIELD_TAGS = frozenset(
    {
        "1au",
        "ab",
        "abstract",
        "ad",
        "affiliation",
        "aid",
        "all",
        "all fields",
        "article identifier",
        "au",
        "auid",
        "author",
        "author identifier",
        "book",
        "cn",
        "cois",
        "completion date",
        "conflict of interest statement",
        "corporate author",
        "crdt",
        "create date",
        "date - completion",
        "date - create",
        "date - entry",
        "date - modification",
        "date - publication",
        "dcom",
        "doi",
        "dp",
        "ec/rn number",
        "ed",
        "edat",
        "editor",
        "entrez date",
        "entry date",
        "fau",
        "filter",
        "fir",
        "first author name",
        "full author name",
        "full investigator name",
        "gr",
        "grant number",
        "investigator",
        "ip",
        "ir",
        "isbn",
        "issue",
        "jid",
        "jour",
        "journal",
        "journal id",
        "la",
        "lang",
        "language",
        "last author name",
        "lastau",
        "lid",
        "location id",
        "majr",
        "majr:noexp",
        "mdat",
        "mesh",
        "mesh date",
        "mesh major topic",
        "mesh subheading",
        "mesh terms",
        "mesh terms:noexp",
        "mesh:noexp",
        "mh",
        "mh:noexp",
        "mhda",
        "modification date",
        "nm",
        "ot",
        "other term",
        "pa",
        "pagination",
        "pdat",
        "personal name as subject",
        "pg",
        "pharmacological action",
        "pl",
        "place of publication",
        "pmcid",
        "pmid",
        "ps",
        "pt",
        "publication date",
        "publication type",
        "publisher",
        "pubn",
        "rn",
        "sb",
        "secondary source id",
        "sh",
        "si",
        "subheading",
        "subset",
        "substance name",
        "supplementary concept",
        "ta",
        "text word",
        "ti",
        "tiab",
        "title",
        "title/abstract",
        "transliterated title",
        "tt",
        "tw",
        "uid",
        "vi",
        "volume",
    }
)


def load_watches(queries_dir: Path, only: list[str] | None = None) -> list[Watch]:
    """Every ``*.toml`` in ``queries_dir`` (sorted by name), or just the ones named in ``only``."""
    if not queries_dir.is_dir():
        raise ConfigError(
            "queries folder not found", path=queries_dir, hint="[collect].queries_dir"
        )
    watches = [load_watch(path) for path in sorted(queries_dir.glob("*.toml"))]
    if not watches:
        raise ConfigError("no watches (*.toml) in the queries folder", path=queries_dir)
    if only:
        names = {w.name for w in watches}
        missing = [name for name in only if name not in names]
        if missing:
            raise ConfigError(
                f"no watch named {missing[0]!r}",
                path=queries_dir,
                hint=f"known: {', '.join(sorted(names))}",
            )
        watches = [w for w in watches if w.name in only]
    return watches


def load_watch(path: Path) -> Watch:
    data = read_toml(path)
    unknown = sorted(set(data) - set(WATCH_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}", path=path, hint=f"allowed: {', '.join(WATCH_KEYS)}"
        )
    for key in ("title", "term"):
        if key not in data:
            raise ConfigError("missing", path=path, key=key)
    for key in ("title", "term", "schedule", "first_run", "article"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"expected a string, got {data[key]!r}", path=path, key=key)
    if "enabled" in data and not isinstance(data["enabled"], bool):
        raise ConfigError("expected true or false", path=path, key="enabled")
    term = " ".join(data["term"].split())
    check_term(term, path)
    title = data["title"].strip()
    if not title:
        raise ConfigError("must not be empty", path=path, key="title")
    schedule = data.get("schedule", "0 6 * * *")
    check_cron(schedule, path, "schedule")
    first_run = data.get("first_run", "seed")
    if first_run not in FIRST_RUN:
        raise ConfigError(
            f"unknown mode {first_run!r}",
            path=path,
            key="first_run",
            hint=f"allowed: {', '.join(FIRST_RUN)}",
        )
    return Watch(
        name=path.stem,
        title=title,
        term=term,
        source=path,
        schedule=schedule,
        first_run=first_run,
        backlog_since=parse_day(data.get("backlog_since"), path, "backlog_since"),
        enabled=data.get("enabled", True),
        article=data.get("article"),
    )


def check_term(term: str, path: Path) -> None:
    if not term:
        raise ConfigError("the PubMed query is empty", path=path, key="term")
    if term.count('"') % 2:
        raise ConfigError("unbalanced double quote", path=path, key="term")
    depth = 0
    for char in re.sub(r'"[^"]*"', "", term):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ConfigError("a ')' closes nothing", path=path, key="term")
    if depth:
        raise ConfigError(f"{depth} unclosed '('", path=path, key="term")
    for tag in re.findall(r"\[([^\]]*)\]", term):
        if tag.strip().lower() not in FIELD_TAGS:
            raise ConfigError(
                f"unknown PubMed field tag [{tag}]",
                path=path,
                key="term",
                hint="see https://pubmed.ncbi.nlm.nih.gov/help/#search-tags",
            )


def check_cron(expression: str, path: Path, key: str, timezone: str = "UTC") -> None:
    from litwatch.cron import cron_trigger

    try:
        cron_trigger(expression, timezone)
    except ValueError as exc:
        raise ConfigError(
            f"not a cron expression {expression!r}: {exc}", path=path, key=key
        ) from exc


def parse_day(value: Any, path: Path, key: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"expected a date like 2020-01-01, got {value!r}", path=path, key=key)


def parse_now(text: str) -> dt.datetime:
    """``--now`` / ``LITWATCH_NOW``: ISO 8601; a date means midnight UTC, no zone means UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(f"not an ISO 8601 moment: {text!r}", key="--now") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def shipped_dir(name: str) -> Path:
    """The shipped ``queries/`` or ``templates/``: inside an installed wheel, or the checkout's."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_shipped" / name, package.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"shipped folder {name!r} is missing from this installation", path=package)
