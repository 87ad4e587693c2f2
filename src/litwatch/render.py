"""Jinja2 rendering: the environment, template errors, and the digest's view.

Templates are files (``templates/`` shipped, one user folder in front of it). Every text
that reaches a template's output goes through ``finalize=xml_text``, so XML-invalid
control characters never reach a feed or an email; HTML and XML templates autoescape.
A broken template (syntax error, undefined variable) raises ``ConfigError`` naming the
template file and line. Nothing here reads the clock: times come from the values and
``now``. The filters live in ``render_filters``.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2

from litwatch.config import shipped_dir
from litwatch.errors import ConfigError
from litwatch.records import (
    AbstractSection,
    Author,
    Digest,
    DigestItem,
    Journal,
    Paper,
    PartialDate,
    Subscription,
    TriageNote,
    WatchStatus,
)
from litwatch.render_filters import FILTERS, Link, oneline, paper_links, xml_text, zone

AUTOESCAPE_SUFFIXES = ("html.j2", "htm.j2", "xml.j2", "atom.j2", "rss.j2")
PLAIN_SUFFIXES = ("txt.j2", "text.j2")
DIGEST_TEMPLATES = {"html": "digest.html.j2", "text": "digest.txt.j2"}
FEED_TEMPLATES = {"atom": "feed.atom.j2", "rss": "feed.rss.j2"}
SHIPPED_TEMPLATES = (*DIGEST_TEMPLATES.values(), *FEED_TEMPLATES.values())


# --- environment and errors ----------------------------------------------------------


def _autoescape(name: str | None) -> bool:
    if name is None:
        return True
    # AUTOESCAPE_SUFFIXES escape; so does any kind not known to be plain text, to be safe
    return not name.lower().endswith(PLAIN_SUFFIXES)


def make_environment(user_dir: Path | None = None) -> jinja2.Environment:
    """Templates from ``user_dir`` first (one file overrides one template), then the
    shipped ones. Strict about undefined names; autoescape for HTML/XML/Atom/RSS."""
    folders = []
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            raise ConfigError("template folder not found", path=user_dir)
        folders.append(jinja2.FileSystemLoader(str(user_dir)))
    folders.append(jinja2.FileSystemLoader(str(shipped_dir("templates"))))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(folders),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=xml_text,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


def render_template(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render one template; any template mistake becomes a ``ConfigError`` naming the
    template file and line."""
    try:
        template = env.get_template(name)
        return template.render(context)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"template not found: {exc.name}", path=name, hint=_searched(env)
        ) from exc
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise ConfigError(
            f"template syntax error: {exc.message}", path=where, key=f"line {exc.lineno}"
        ) from exc
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError, LookupError) as exc:
        found = _template_frame(exc)
        if found is None and not isinstance(exc, jinja2.TemplateError):
            raise
        path, line = found or (name, None)
        kind = "undefined variable" if isinstance(exc, jinja2.UndefinedError) else "error"
        raise ConfigError(
            f"template {kind}: {exc}",
            path=path,
            key=f"line {line}" if line else None,
            hint="fix the template or remove it from the user template folder",
        ) from exc


def _template_frame(exc: BaseException) -> tuple[str, int] | None:
    """The innermost template file and line in the traceback Jinja rewrote."""
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if "__jinja_exception__" in frame.f_globals:
            found = (frame.f_code.co_filename, line)
    return found


def _searched(env: jinja2.Environment) -> str:
    loaders = getattr(env.loader, "loaders", [env.loader])
    folders = [p for loader in loaders for p in getattr(loader, "searchpath", [])]
    return "looked in " + ", ".join(folders)


# --- the digest ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One paper as a digest template shows it."""

    paper: Paper
    watches: tuple[str, ...]  # names of every watch that found it, subscription order
    first_seen: dt.datetime
    also_found_by: tuple[str, ...]  # titles of the watches other than its group's
    links: tuple[Link, ...]
    triage: TriageNote | None = None


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """The papers listed under one watch (the first of the subscription's watches that
    found them)."""

    name: str
    title: str
    entries: tuple[DigestEntry, ...]


def group_items(
    items: Sequence[DigestItem], order: Sequence[str], titles: Mapping[str, str]
) -> tuple[DigestGroup, ...]:
    """Papers grouped by watch in ``order``; a paper found by several watches appears
    once, under the first of them, listing the others. Watches not in ``order`` follow."""
    rank = {name: i for i, name in enumerate(order)}
    groups: dict[str, list[DigestEntry]] = {}
    seen: set[str] = set()
    for item in items:
        key = item.paper.pmid or item.paper.doi or id(item)
        if key in seen:
            continue
        seen.add(key)
        watches = tuple(sorted(dict.fromkeys(item.watches), key=lambda w: rank.get(w, len(rank))))
        home = watches[0] if watches else ""
        groups.setdefault(home, []).append(
            DigestEntry(
                paper=item.paper,
                watches=watches,
                first_seen=item.first_seen,
                also_found_by=tuple(titles.get(w, w) for w in watches[1:]),
                links=paper_links(item.paper),
                triage=item.triage,
            )
        )
    ordered = sorted(groups, key=lambda w: rank.get(w, len(rank)))
    return tuple(
        DigestGroup(name=w, title=titles.get(w, w) or "Other", entries=tuple(groups[w]))
        for w in ordered
    )


def group_by_section(
    groups: Sequence[DigestGroup], sections: Sequence[str], citing: set[str]
) -> tuple[DigestGroup, ...]:
    """Regroup papers by the first article section they bear on, in the article's order,
    "Other" last, best ranked first; papers found only as new citers keep their group."""
    by_section: dict[str, list[DigestEntry]] = {title: [] for title in sections}
    kept: list[DigestGroup] = []
    other: list[DigestEntry] = []
    for group in groups:
        if group.name in citing:
            kept.append(group)
            continue
        for entry in group.entries:
            titles = entry.triage.sections if entry.triage else ()
            home = next((t for t in titles if t in by_section), None)
            (by_section[home] if home else other).append(entry)
    ranked = [
        DigestGroup(name=title, title=title, entries=tuple(sorted(entries, key=_rank)))
        for title, entries in by_section.items()
        if entries
    ]
    if other:
        ranked.append(
            DigestGroup(name="other", title="Other", entries=tuple(sorted(other, key=_rank)))
        )
    return (*ranked, *kept)


def _rank(entry: DigestEntry) -> float:
    return -(entry.triage.score if entry.triage else 0.0)


def watch_checks(digest: Digest) -> tuple[WatchStatus, ...]:
    """One status per watch: the subscription's order, and a "not checked yet" status
    for a watch with none."""
    by_name = {s.name: s for s in digest.watch_status}
    checks = [
        by_name.pop(name, None) or WatchStatus(name, name, "")
        for name in digest.subscription.watches
    ]
    return (*checks, *by_name.values())


def digest_context(digest: Digest, now: dt.datetime) -> dict[str, Any]:
    """What ``digest.html.j2`` and ``digest.txt.j2`` receive (see the templates)."""
    sub = digest.subscription
    tz = zone(sub.timezone, key=f"[digests.{sub.name}].timezone")
    checks = watch_checks(digest)
    titles = {s.name: oneline(s.title) or s.name for s in checks}
    groups = group_items(digest.items, sub.watches, titles)
    if digest.sections:
        groups = group_by_section(
            groups, digest.sections, citing={w for w in sub.watches if w.startswith("cites-")}
        )
    shown = sum(len(g.entries) for g in groups)
    return {
        "digest": digest,
        "subscription": sub,
        "now": now,
        "tz": tz,
        "groups": groups,
        "paper_count": shown,
        "total_count": shown + digest.more,
        "more": digest.more,
        "feed_url": digest.feed_url,
        "watch_count": len(checks),
        "contributing_count": len({w for g in groups for e in g.entries for w in e.watches}),
        "checks": checks,
        "failing": tuple(s for s in checks if s.error or s.failing_since),
    }


def render_digest(
    env: jinja2.Environment, digest: Digest, now: dt.datetime, fmt: Literal["html", "text"]
) -> str:
    """The digest email body as HTML or plain text."""
    if fmt not in DIGEST_TEMPLATES:
        raise ValueError(f"unknown digest format {fmt!r}; expected 'html' or 'text'")
    return render_template(env, DIGEST_TEMPLATES[fmt], digest_context(digest, now))


# --- checking templates before the first run -----------------------------------------


def check_templates(env: jinja2.Environment, now: dt.datetime | None = None) -> None:
    """Render every template (the user's where they override) with sample values, so a
    syntax error or an undefined name fails ``litwatch check`` and the start of a run,
    not the first delivery. Raises ``ConfigError`` naming the template and line."""
    from litwatch.deliver.feeds import Feed, FeedEntry, render_feed

    moment = now or dt.datetime(2000, 1, 3, 7, 0, tzinfo=dt.UTC)
    for fmt in DIGEST_TEMPLATES:
        render_digest(env, _sample_digest(moment), moment, fmt)  # type: ignore[arg-type]
    paper = _sample_paper()
    entry = FeedEntry(paper, ("sample",), moment, moment)
    for fmt in FEED_TEMPLATES:
        feed = Feed("sample", "Sample feed", f"http://localhost/sample.{fmt}", moment, (entry,))
        render_feed(env, feed, fmt, moment)  # type: ignore[arg-type]


def _sample_paper() -> Paper:
    return Paper(
        pmid="1",
        title="Sample title",
        title_html="<i>Sample</i> title",
        doi="10.1000/sample",
        pmcid="PMC1",
        abstract=(AbstractSection("Sample.", "CONCLUSIONS", "CONCLUSIONS"),),
        authors=(Author(last_name="Sample", initials="S"), Author(collective_name="Group")),
        journal=Journal(title="Journal", iso_abbreviation="J", volume="1", issue="2", pages="3-4"),
        published=PartialDate(2000, 1, 2),
        publication_types=("Journal Article",),
    )


def _sample_digest(now: dt.datetime) -> Digest:
    sub = Subscription("sample", "Sample digest", ("a", "b"), ("x@example.org",), intro="Hi.")
    note = TriageNote(
        evidence="review",
        subject="human",
        evidence_why='review (human): publication type "Review"',
        sections=("Section",),
        matched_terms=("term",),
        score=1.0,
        score_why="score 1.0",
    )
    item = DigestItem(_sample_paper(), ("a", "b"), now, triage=note)
    checks = (
        WatchStatus("a", "Watch A", "a", "a[All Fields]", 1, 1, checked_until=now),
        WatchStatus("b", "Watch B", "b", None, 0, 0, now, failing_since=now, error="down"),
    )
    return Digest(sub, "sample/1", now, now, (item,), 1, checks, "http://localhost/a.atom")
