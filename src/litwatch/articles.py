"""Article files (``queries/articles/NAME.toml``) -> ``litwatch.triage.matching.Article``.

A watch names the article it serves with ``article = "NAME"`` (the file's stem). The file
says what the article is, which papers it cites, and its sections in the article's order,
each with the rules that tie a paper to it. Strict: an unknown key, a wrong type, a term
that cannot be read or an evidence label that does not exist is a ``ConfigError`` naming
the file and the key. Schema (every key but ``title`` is optional)::

    title = "Kratom's Effects on Neuropathic Pain"
    text = "kratom-neuropathic-pain.txt"   # the article itself, relative to this file
    url = "https://example.org/kratom"     # where readers find it
    references = ["33847897", "10.1097/PAF.0000000000000695"]   # PMIDs and/or DOIs

    [weights]            # points per place a term matched in (these are the defaults)
    title = 3.0
    keywords = 2.0
    mesh = 2.0
    abstract = 1.0

    [topic]              # what the article is about; sections with requires_topic = true
    terms = ["kratom", "mitragyn*"]        # only match papers that match the topic
    mesh = ["Mitragyna"]

    [[sections]]
    name = "pharmacokinetics"              # a-z, 0-9, "-"; unique; not "other"
    title = "Dosage, strains and pharmacokinetics"
    requires_topic = true
    terms = ["pharmacokinetic*", "dose", { term = "half-life", weight = 2 },
             { term = "strain*", places = ["title", "keywords"] }]
    mesh = ["Dose-Response Relationship, Drug", "Mitragyna/pharmacokinetics"]
    require = ["..."]    # at least one of these must match (they score too)
    exclude = ["..."]    # none of these may match
    evidence = { "case report" = 2.0 }     # points when the paper has this evidence label
    min_score = 1.0      # the least score that counts as a match
    weight = 1.0         # multiplies the section's score
    weights = { title = 3.0 }              # this section's own place weights

Terms: words are whole words, ``*`` matches any letters, the last word may take a plural
``s``/``es``, words may be joined by space, hyphen or nothing, Greek letters match their
names (``"mu-opioid"`` finds "μ-opioid"); see ``litwatch.triage.text``. MeSH rules match
whole descriptors (``*`` wildcards, case ignored), optionally with a qualifier after ``/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litwatch.config import read_toml
from litwatch.dedupe import normalize_doi
from litwatch.errors import ConfigError
from litwatch.triage.evidence import LABELS
from litwatch.triage.matching import (
    DEFAULT_WEIGHTS,
    MESH_SYNTAX,
    OTHER_NAME,
    OTHER_TITLE,
    Article,
    Section,
    Term,
)
from litwatch.triage.text import PLACES, TERM_SYNTAX, term_pattern

ARTICLE_KEYS = ("title", "text", "url", "references", "weights", "topic", "sections")
TOPIC_KEYS = ("terms", "mesh")
SECTION_KEYS = (
    "name",
    "title",
    "terms",
    "mesh",
    "require",
    "exclude",
    "requires_topic",
    "evidence",
    "min_score",
    "weight",
    "weights",
)
TERM_KEYS = ("term", "weight", "places")
SECTION_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def load_articles(folder: Path) -> dict[str, Article]:
    """Every ``*.toml`` in ``folder``, by name (the file's stem); none when it is missing."""
    if not folder.is_dir():
        return {}
    return {path.stem: load_article(path) for path in sorted(folder.glob("*.toml"))}


def load_article(path: Path) -> Article:
    """One article file, validated (see the module docstring for the schema)."""
    data = read_toml(path)
    _no_unknown(data, ARTICLE_KEYS, path, None)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("missing or empty", path=path, key="title")
    pmids, dois = _references(data.get("references", []), path)
    weights = _weights(data.get("weights", {}), path, "weights", DEFAULT_WEIGHTS)
    topic: tuple[Term, ...] = ()
    if "topic" in data:
        raw = _table(data["topic"], path, "topic")
        _no_unknown(raw, TOPIC_KEYS, path, "topic")
        topic = _terms(raw.get("terms", []), path, "topic.terms") + _mesh(
            raw.get("mesh", []), path, "topic.mesh"
        )
        if not topic:
            raise ConfigError("a topic needs terms or mesh", path=path, key="topic")
    raw_sections = data.get("sections", [])
    if not isinstance(raw_sections, list):
        raise ConfigError("expected [[sections]] tables", path=path, key="sections")
    sections = tuple(
        _section(raw, path, f"sections[{i}]", bool(topic)) for i, raw in enumerate(raw_sections)
    )
    for attribute in ("name", "title"):
        values = [getattr(s, attribute) for s in sections]
        if dupes := sorted({v for v in values if values.count(v) > 1}):
            raise ConfigError(
                f"two sections share the {attribute} {dupes[0]!r}", path=path, key="sections"
            )
    text = _optional_string(data, "text", path)
    url = _optional_string(data, "url", path)
    if url is not None and not re.match(r"^https?://\S+$", url):
        raise ConfigError(f"not an http(s) URL: {url!r}", path=path, key="url")
    return Article(
        name=path.stem,
        title=title.strip(),
        sections=sections,
        pmids=pmids,
        dois=dois,
        topic=topic,
        weights=weights,
        source=path,
        text=(path.parent / text) if text else None,
        url=url,
    )


def _section(raw: Any, path: Path, key: str, has_topic: bool) -> Section:
    raw = _table(raw, path, key)
    _no_unknown(raw, SECTION_KEYS, path, key)
    for field in ("name", "title"):
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise ConfigError("missing or empty", path=path, key=f"{key}.{field}")
    name, title = raw["name"].strip(), raw["title"].strip()
    if not SECTION_NAME.fullmatch(name) or name == OTHER_NAME:
        raise ConfigError(
            f"a section name takes a-z, 0-9 and '-' and is not {OTHER_NAME!r}: {name!r}",
            path=path,
            key=f"{key}.name",
        )
    if title.casefold() == OTHER_TITLE.casefold():
        raise ConfigError(
            f"{OTHER_TITLE!r} is where unmatched papers go", path=path, key=f"{key}.title"
        )
    key = f"{key} ({name})"
    terms = _terms(raw.get("terms", []), path, f"{key}.terms")
    mesh = _mesh(raw.get("mesh", []), path, f"{key}.mesh")
    evidence = _evidence(raw.get("evidence", {}), path, f"{key}.evidence")
    if not terms and not mesh and not evidence:
        raise ConfigError("a section needs terms, mesh or evidence", path=path, key=key)
    requires_topic = raw.get("requires_topic", False)
    if not isinstance(requires_topic, bool):
        raise ConfigError("expected true or false", path=path, key=f"{key}.requires_topic")
    if requires_topic and not has_topic:
        raise ConfigError(
            "requires_topic needs a [topic] table", path=path, key=f"{key}.requires_topic"
        )
    weights = None
    if "weights" in raw:
        weights = _weights(raw["weights"], path, f"{key}.weights", DEFAULT_WEIGHTS)
    return Section(
        name=name,
        title=title,
        terms=tuple(t.text for t in terms),
        mesh=tuple(t.text for t in mesh),
        rules=terms + mesh,
        require=_terms(raw.get("require", []), path, f"{key}.require"),
        exclude=_terms(raw.get("exclude", []), path, f"{key}.exclude"),
        requires_topic=requires_topic,
        evidence=evidence,
        min_score=_number(raw.get("min_score", 1.0), path, f"{key}.min_score", positive=False),
        weight=_number(raw.get("weight", 1.0), path, f"{key}.weight"),
        weights=weights,
    )


def _terms(value: Any, path: Path, key: str) -> tuple[Term, ...]:
    if not isinstance(value, list):
        raise ConfigError("expected a list of terms", path=path, key=key)
    terms = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        weight, places = 1.0, PLACES
        if isinstance(item, dict):
            _no_unknown(item, TERM_KEYS, path, where)
            text = item.get("term")
            weight = _number(item.get("weight", 1.0), path, f"{where}.weight")
            if "places" in item:
                places = _places(item["places"], path, f"{where}.places")
        else:
            text = item
        if not isinstance(text, str) or not text.strip():
            raise ConfigError("expected a non-empty string", path=path, key=where)
        text = " ".join(text.split())
        if not TERM_SYNTAX.match(text) or text.strip("*- ") == "":
            raise ConfigError(
                f"not a term: {text!r}",
                path=path,
                key=where,
                hint="letters, digits, spaces, hyphens and * wildcards",
            )
        try:
            term_pattern(text)
        except (ValueError, re.error) as exc:
            raise ConfigError(f"not a term: {text!r} ({exc})", path=path, key=where) from exc
        terms.append(Term(text, weight, places))
    return tuple(terms)


def _mesh(value: Any, path: Path, key: str) -> tuple[Term, ...]:
    if not isinstance(value, list):
        raise ConfigError("expected a list of MeSH headings", path=path, key=key)
    rules = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        weight = 1.0
        if isinstance(item, dict):
            _no_unknown(item, ("term", "weight"), path, where)
            weight = _number(item.get("weight", 1.0), path, f"{where}.weight")
            item = item.get("term")
        if not isinstance(item, str) or not MESH_SYNTAX.match(item.strip()):
            raise ConfigError(
                f"not a MeSH heading: {item!r}",
                path=path,
                key=where,
                hint='"Descriptor" or "Descriptor/qualifier"',
            )
        rules.append(Term(item.strip(), weight, ("mesh",), mesh=True))
    return tuple(rules)


def _evidence(value: Any, path: Path, key: str) -> tuple[tuple[str, float], ...]:
    table = _table(value, path, key)
    for label in table:
        if label not in LABELS:
            raise ConfigError(
                f"unknown evidence label {label!r}",
                path=path,
                key=key,
                hint=f"allowed: {', '.join(LABELS)}",
            )
    return tuple(
        (label, _number(points, path, f"{key}.{label}")) for label, points in table.items()
    )


def _weights(value: Any, path: Path, key: str, defaults: tuple[tuple[str, float], ...]):
    table = _table(value, path, key)
    _no_unknown(table, PLACES, path, key)
    merged = dict(defaults)
    for place, points in table.items():
        merged[place] = _number(points, path, f"{key}.{place}", positive=False)
    return tuple((place, merged[place]) for place in PLACES)


def _places(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(v in PLACES for v in value):
        raise ConfigError(f"expected a list of places from {', '.join(PLACES)}", path=path, key=key)
    return tuple(p for p in PLACES if p in value)


def _references(value: Any, path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(value, list):
        raise ConfigError("expected a list of PMIDs and DOIs", path=path, key="references")
    pmids: list[str] = []
    dois: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError("expected a PMID or a DOI", path=path, key=f"references[{i}]")
        item = item.strip()
        if re.fullmatch(r"\d{1,9}", item):
            pmids.append(item)
        elif doi := normalize_doi(item):
            dois.append(doi)
        else:
            raise ConfigError(f"not a PMID or a DOI: {item!r}", path=path, key=f"references[{i}]")
    return tuple(dict.fromkeys(pmids)), tuple(dict.fromkeys(dois))


def _table(value: Any, path: Path, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("expected a table", path=path, key=key)
    return value


def _no_unknown(table: dict[str, Any], allowed: tuple[str, ...], path: Path, key: str | None):
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}", path=path, key=key, hint=f"allowed: {', '.join(allowed)}"
        )


def _number(value: Any, path: Path, key: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"expected a number, got {value!r}", path=path, key=key)
    if value < 0 or (positive and value == 0):
        raise ConfigError(
            f"must be {'positive' if positive else 'at least 0'}, got {value}", path=path, key=key
        )
    return float(value)


def _optional_string(data: dict[str, Any], key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("expected a non-empty string", path=path, key=key)
    return value.strip()
