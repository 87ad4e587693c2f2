"""Article files (``queries/articles/NAME.toml``): the article's title, the papers it cites,
and its sections with the terms that tie a paper to each. Watches name their article with
``article = "NAME"``. Example::

    title = "Kratom's Effects on Neuropathic Pain"
    text = "kratom-neuropathic-pain.txt"      # optional, relative to this file
    references = ["33847897", "10.1097/PAF.0000000000000695"]   # PMIDs and/or DOIs

    [[sections]]
    name = "pharmacokinetics"
    title = "Dosage, strains and pharmacokinetics"
    terms = ["dose*", "pharmacokinetic*", "half-life"]   # title, keywords, abstract
    mesh = ["Dose-Response Relationship, Drug"]          # MeSH descriptors
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litwatch.config import read_toml
from litwatch.dedupe import normalize_doi
from litwatch.errors import ConfigError
from litwatch.records import Watch
from litwatch.references import ArticleRefs
from litwatch.triage.sections import OTHER, Section

ARTICLE_KEYS = ("title", "text", "references", "sections")
SECTION_KEYS = ("name", "title", "terms", "mesh")


@dataclass(frozen=True, slots=True)
class Article:
    name: str
    title: str
    source: Path
    pmids: tuple[str, ...] = ()
    dois: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    text: Path | None = None

    def refs(self) -> ArticleRefs:
        return ArticleRefs(self.name, self.title, self.pmids, self.source, self.dois)


def article_path(queries_dir: Path, name: str) -> Path:
    return queries_dir / "articles" / f"{name}.toml"


def load_article(path: Path) -> Article:
    data = read_toml(path)
    unknown = sorted(set(data) - set(ARTICLE_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}", path=path, hint=f"allowed: {', '.join(ARTICLE_KEYS)}"
        )
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("missing or empty", path=path, key="title")
    pmids, dois = split_references(strings(data.get("references", []), path, "references"), path)
    sections = tuple(
        load_section(raw, path, f"sections[{i}]") for i, raw in enumerate(data.get("sections", []))
    )
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise ConfigError("two sections share a name", path=path, key="sections")
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise ConfigError("expected a path", path=path, key="text")
    return Article(
        name=path.stem,
        title=title.strip(),
        source=path,
        pmids=pmids,
        dois=dois,
        sections=sections,
        text=(path.parent / text) if text else None,
    )


def strings(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError("expected a list of non-empty strings", path=path, key=key)
    return tuple(v.strip() for v in value)


def split_references(items: Sequence[str], path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pmids: list[str] = []
    dois: list[str] = []
    for item in items:
        if re.fullmatch(r"\d{1,9}", item):
            pmids.append(item)
        elif doi := normalize_doi(item):
            dois.append(doi)
        else:
            raise ConfigError(f"not a PMID or a DOI: {item!r}", path=path, key="references")
    return tuple(dict.fromkeys(pmids)), tuple(dict.fromkeys(dois))


def load_section(raw: Any, path: Path, key: str) -> Section:
    if not isinstance(raw, dict):
        raise ConfigError("expected a table", path=path, key=key)
    unknown = sorted(set(raw) - set(SECTION_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}",
            path=path,
            key=key,
            hint=f"allowed: {', '.join(SECTION_KEYS)}",
        )
    for field in ("name", "title"):
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise ConfigError("missing or empty", path=path, key=f"{key}.{field}")
    if raw["title"].strip() == OTHER:
        raise ConfigError(f"{OTHER!r} is where unmatched papers go", path=path, key=f"{key}.title")
    terms = strings(raw.get("terms", []), path, f"{key}.terms")
    mesh = strings(raw.get("mesh", []), path, f"{key}.mesh")
    if not terms and not mesh:
        raise ConfigError("a section needs terms or mesh", path=path, key=key)
    return Section(name=raw["name"].strip(), title=raw["title"].strip(), terms=terms, mesh=mesh)


def with_citing_watches(watches: list[Watch], articles: Mapping[str, Article]) -> list[Watch]:
    """``watches`` plus, per article with references, the watch of its new citers."""
    from litwatch.references import citing_watch

    names = {w.name for w in watches}
    out = list(watches)
    for article in articles.values():
        if article.pmids or article.dois:
            citing = citing_watch(article.refs())
            if citing.name in names:
                raise ConfigError(
                    f"the name {citing.name!r} is taken by the watch of the article's citers",
                    path=article.source,
                    hint=f"rename the watch file {citing.name}.toml",
                )
            out.append(citing)
    return out


def load_articles_for(watches: Sequence[Watch], queries_dir: Path) -> dict[str, Article]:
    """The articles the watches name; a name with no file is a configuration error."""
    articles: dict[str, Article] = {}
    for watch in watches:
        if watch.article and watch.article not in articles:
            path = article_path(queries_dir, watch.article)
            if not path.is_file():
                raise ConfigError(
                    f"article {watch.article!r} not found at {path}",
                    path=watch.source,
                    key="article",
                )
            articles[watch.article] = load_article(path)
    return articles
