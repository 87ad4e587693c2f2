"""Atom 1.0 and RSS 2.0 feeds: values in, XML text out, files written atomically.

Entry ids are ``tag:`` URIs from the paper's identity (its PMID), never from a run time or
the public URL, so moving the feeds or re-rendering them never makes a reader show an item
twice. Rendering is pure (``now`` and the version string are parameters); only
``write_feed_files`` touches the disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import jinja2

from litwatch.atomic import remove_stale_temps, write_atomic
from litwatch.errors import ConfigError, DeliveryError
from litwatch.records import Paper, TriageNote
from litwatch.render import FEED_TEMPLATES, render_template
from litwatch.render_filters import Link, paper_links

TAG_PREFIX = "tag:litwatch,2026:"  # the tag URI authority and date: never change them
FEED_FORMATS = ("atom", "rss")
FeedFormat = Literal["atom", "rss"]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    paper: Paper
    watches: tuple[str, ...]  # names of the watches that found it
    first_seen: dt.datetime  # Atom ``published``, RSS ``pubDate``
    updated: dt.datetime  # Atom ``updated``: first seen, or when the record last changed
    triage: TriageNote | None = None


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed in one format: ``<name>.atom`` or ``<name>.rss`` (see ``render_feed_files``
    for both at once)."""

    name: str  # a watch's name, or "all"; the file stem and the feed's id
    title: str
    self_url: str  # where this file is served: ``feed_url(base_url, feed_file_name(...))``
    updated: dt.datetime
    entries: tuple[FeedEntry, ...] = ()
    alternate_url: str | None = None  # an HTML page for the same content, if any
    description: str | None = None
    watch_titles: Mapping[str, str] = field(default_factory=dict)  # name -> title

    def with_self_url(self, url: str) -> Feed:
        return replace(self, self_url=url)


@dataclass(frozen=True, slots=True)
class WatchRef:
    name: str
    title: str


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry as a feed template sees it."""

    id: str
    paper: Paper
    watches: tuple[WatchRef, ...]
    first_seen: dt.datetime
    updated: dt.datetime
    links: tuple[Link, ...]  # PubMed first, then DOI and PMC full text when known
    triage: TriageNote | None = None


def entry_id(paper: Paper) -> str:
    """``tag:litwatch,2026:pubmed:<PMID>`` — stable whatever the run, time or URL. A paper
    without a PMID (met in a non-PubMed feed) is named by its DOI, then its PMCID."""
    if paper.pmid and paper.pmid.strip():
        return f"{TAG_PREFIX}pubmed:{quote(paper.pmid.strip(), safe='')}"
    if paper.doi and paper.doi.strip():
        return f"{TAG_PREFIX}doi:{quote(paper.doi.strip().lower(), safe='/:;()-._')}"
    if paper.pmcid and paper.pmcid.strip():
        return f"{TAG_PREFIX}pmc:{quote(paper.pmcid.strip().upper(), safe='')}"
    raise ValueError("a paper needs a PMID, DOI or PMCID to get a feed entry id")


def feed_id(name: str) -> str:
    return f"{TAG_PREFIX}feed:{quote(name, safe='')}"


def feed_file_name(name: str, fmt: FeedFormat) -> str:
    """``kratom.atom``, ``all.rss``."""
    if fmt not in FEED_FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}; expected 'atom' or 'rss'")
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise ConfigError(f"not usable as a feed file name: {name!r}", key="feed name")
    return f"{name}.{fmt}"


def feed_url(base_url: str, file_name: str) -> str:
    """``base_url`` joined with one file name, with or without a trailing slash."""
    return f"{base_url.rstrip('/')}/{quote(file_name)}"


def feed_context(
    feed: Feed, fmt: FeedFormat, now: dt.datetime, version: str | None = None
) -> dict[str, Any]:
    """What ``feed.atom.j2`` and ``feed.rss.j2`` receive (see the templates)."""
    titles = feed.watch_titles
    items = tuple(
        FeedItem(
            id=entry_id(e.paper),
            paper=e.paper,
            watches=tuple(WatchRef(w, titles.get(w) or w) for w in dict.fromkeys(e.watches)),
            first_seen=e.first_seen,
            updated=e.updated,
            links=paper_links(e.paper),
            triage=e.triage,
        )
        for e in feed.entries
    )
    return {
        "feed": feed,
        "fmt": fmt,
        "now": now,
        "version": version,
        "feed_id": feed_id(feed.name),
        "self_url": feed.self_url,
        "alternate_url": feed.alternate_url,
        "items": items,
        "max_authors": 10,
        "tag_prefix": TAG_PREFIX,
    }


def render_feed(
    env: jinja2.Environment,
    feed: Feed,
    fmt: FeedFormat,
    now: dt.datetime,
    *,
    version: str | None = None,
) -> str:
    """The feed as Atom 1.0 or RSS 2.0 text. ``version`` goes into ``<generator>``."""
    if fmt not in FEED_TEMPLATES:
        raise ValueError(f"unknown feed format {fmt!r}; expected 'atom' or 'rss'")
    return render_template(env, FEED_TEMPLATES[fmt], feed_context(feed, fmt, now, version))


def render_feed_files(
    env: jinja2.Environment,
    feed: Feed,
    base_url: str,
    now: dt.datetime,
    *,
    version: str | None = None,
) -> dict[str, str]:
    """``{"kratom.atom": ..., "kratom.rss": ...}``, each with its own self link under
    ``base_url`` (``[feeds].base_url``), ready for ``write_feed_files``."""
    files = {}
    for fmt in FEED_FORMATS:
        name = feed_file_name(feed.name, fmt)
        own = feed.with_self_url(feed_url(base_url, name))
        files[name] = render_feed(env, own, fmt, now, version=version)
    return files


def write_feed_files(folder: Path, files: Mapping[str, str]) -> None:
    """Write each file atomically (temp file in ``folder``, mode 0644, fsync, rename), so a
    reader never sees half a feed. Creates ``folder``."""
    folder = Path(folder)
    try:
        folder.mkdir(mode=0o755, parents=True, exist_ok=True)  # readable, writable by us only
    except OSError as exc:
        raise DeliveryError(
            f"cannot create the feeds folder {folder}: {exc.strerror or exc}",
            hint="check [feeds].dir and its permissions",
        ) from exc
    for name, text in files.items():
        if not name or Path(name).name != name or name in {".", ".."}:
            raise DeliveryError(f"not a plain file name for a feed: {name!r}")
        _write_atomic(folder, name, text.encode("utf-8"))


def _write_atomic(folder: Path, name: str, data: bytes) -> None:
    target = folder / name
    try:
        remove_stale_temps(target)
        write_atomic(target, data, 0o644)  # feeds are served to everyone
    except OSError as exc:
        raise DeliveryError(
            f"cannot write feed file {target} in {folder}: {exc.strerror or exc}",
            hint="check [feeds].dir, its permissions and free space",
        ) from exc
