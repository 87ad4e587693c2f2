"""Which article each watch serves: ``queries/articles/NAME.toml``, read by
``litwatch.articles``; and the watch of papers newly citing an article's references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from litwatch.articles import load_article
from litwatch.errors import ConfigError
from litwatch.records import Watch
from litwatch.references import ArticleRefs, citing_watch
from litwatch.triage.matching import Article


def article_path(queries_dir: Path, name: str) -> Path:
    return queries_dir / "articles" / f"{name}.toml"


def refs_of(article: Article) -> ArticleRefs:
    return ArticleRefs(
        article.name,
        article.title,
        article.pmids,
        article.source or Path(article.name),
        article.dois,
    )


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


def with_citing_watches(watches: list[Watch], articles: Mapping[str, Article]) -> list[Watch]:
    """``watches`` plus, per article with references, the watch of its new citers."""
    names = {w.name for w in watches}
    out = list(watches)
    for article in articles.values():
        if article.pmids or article.dois:
            citing = citing_watch(refs_of(article))
            if citing.name in names:
                raise ConfigError(
                    f"the name {citing.name!r} is taken by the watch of the article's citers",
                    path=article.source,
                    hint=f"rename the watch file {citing.name}.toml",
                )
            out.append(citing)
    return out
