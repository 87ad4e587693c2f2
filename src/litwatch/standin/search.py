"""Term lookups for the stand-in's query language: words, phrases, values, dates.

A `Searcher` answers over one base index (minus the PMIDs an edit removed) plus an overlay
index of added or replaced records, so the parsed base corpus is shared and never copied.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import re
from collections.abc import Callable

from .corpus import SEP, Index, Record

# --- dates --------------------------------------------------------------------------------


def parse_date(text: str, today: dt.date) -> tuple[int, int] | None:
    """'2021', '2021/03', '2021/03/15', 'last 30 days' -> inclusive ordinal range."""
    t = " ".join(text.strip().lower().split())
    if m := re.fullmatch(r"last (\d+) (day|month|year)s?", t):
        n, unit = int(m.group(1)), m.group(2)
        days = {"day": 1, "month": 30, "year": 365}[unit] * n
        return (today - dt.timedelta(days=days)).toordinal(), today.toordinal()
    m = re.fullmatch(r"(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?", t)
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    try:
        if month is None:
            return dt.date(year, 1, 1).toordinal(), dt.date(year, 12, 31).toordinal()
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, 1).toordinal(), dt.date(year, month, last).toordinal()
        d = dt.date(year, month, day).toordinal()
    except ValueError:
        return None
    return d, d


def format_date(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).strftime("%Y/%m/%d")


# --- searching one index, or a base index plus an overlay of changed records --------------


class Searcher:
    """Term lookups over `base` (minus `hidden` PMIDs) plus `overlay`."""

    def __init__(
        self, base: Index, overlay: Index | None = None, hidden: frozenset[int] = frozenset()
    ):
        self.parts = [(base, frozenset(hidden))]
        if overlay is not None and len(overlay):
            self.parts.append((overlay, frozenset()))

    def _each(self, fn: Callable[[Index], set[int]]) -> set[int]:
        out: set[int] = set()
        for index, hidden in self.parts:
            hits = fn(index)
            out |= hits - hidden if hidden else hits
        return out

    def all_pmids(self) -> set[int]:
        return self._each(lambda ix: set(ix.records))

    def record(self, pmid: int, version: int | None = None) -> Record | None:
        """The record served for `pmid`: its latest version unless `version` is given."""
        if version is not None:
            for index, hidden in reversed(self.parts):
                if pmid not in hidden and (r := index.versions.get((pmid, version))) is not None:
                    return r
            return None
        for index, hidden in reversed(self.parts):
            if pmid in index.records and pmid not in hidden:
                return index.records[pmid]
        return None

    def _prefixed(self, index: Index, kind: str, part: str, prefix: str) -> list[str]:
        """Words (kind "t") or values ("v") of `part` that start with `prefix`."""
        vocab = index.vocabulary(kind, part)
        i = bisect.bisect_left(vocab, prefix)
        out = []
        while i < len(vocab) and vocab[i].startswith(prefix):
            out.append(vocab[i])
            i += 1
        return out

    def text(self, parts: tuple[str, ...], words: list[str], prefix: bool, near: int | None):
        def one(index: Index) -> set[int]:
            hits: set[int] = set()
            for part in parts:
                postings = index.text[part]
                if prefix:
                    last: set[int] = set()
                    for w in self._prefixed(index, "t", part, words[-1]):
                        last |= postings[w]
                else:
                    last = postings.get(words[-1], set())
                sets = [postings.get(w, set()) for w in words[:-1]] + [last]
                candidates = set.intersection(*sets) if sets else set()
                if len(words) > 1 or near:
                    candidates = {
                        p
                        for p in candidates
                        if _phrase_in(index.records[p].texts[part], words, prefix, near)
                    }
                hits |= candidates
            return hits

        return self._each(one)

    def value(self, part: str, value: str, prefix: bool) -> set[int]:
        def one(index: Index) -> set[int]:
            postings = index.values.get(part, {})
            if not prefix:
                return set(postings.get(value, ()))
            hits: set[int] = set()
            for v in self._prefixed(index, "v", part, value):
                hits |= postings[v]
            return hits

        return self._each(one)

    def author(self, value: str, prefix: bool) -> set[int]:
        def one(index: Index) -> set[int]:
            postings = index.values.get("au", {})
            hits: set[int] = set()
            truncate = prefix or " " in value  # "smith j" finds "smith ja"; "smith" not "smithson"
            for v in self._prefixed(index, "v", "au", value):
                if v == value or v.startswith(value + " ") or truncate:
                    hits |= postings[v]
            return hits

        return self._each(one)

    def dates(self, part: str, lo: int, hi: int) -> set[int]:
        def one(index: Index) -> set[int]:
            entries = index.dates[part]
            i = bisect.bisect_left(entries, (lo, -1))
            j = bisect.bisect_right(entries, (hi, float("inf")))
            return {pmid for _, pmid in entries[i:j]}

        return self._each(one)

    def uid(self, pmid: int) -> set[int]:
        return self._each(lambda ix: {pmid} if pmid in ix.records else set())

    def cited_by(self, pmid: int) -> set[int]:
        """PMIDs of the records served whose ReferenceList cites `pmid` (elink's
        pubmed_pubmed_citedin); records deleted or replaced since drop out, added ones join."""
        return self._each(lambda ix: set(ix.citers().get(pmid, ())))

    def refs(self, pmid: int) -> tuple[int, ...]:
        """The PMIDs the served record `pmid` cites (elink's pubmed_pubmed_refs), else ()."""
        r = self.record(pmid)
        return r.refs if r is not None else ()


def _phrase_in(text: str, words: list[str], prefix: bool, near: int | None) -> bool:
    if near:  # all words within a window of len(words) + near positions, any order
        for value in text.split(f" {SEP} "):
            toks = value.split()
            window = len(words) + near
            for start in range(len(toks)):
                span = toks[start : start + window]
                if all(
                    any(t.startswith(w) if prefix and w == words[-1] else t == w for t in span)
                    for w in words
                ):
                    return True
        return False
    if prefix:
        pattern = r"(?:^| )" + re.escape(" ".join(words)) + r"\w*(?: |$)"
        return re.search(pattern, text) is not None
    return f" {' '.join(words)} " in f" {text} "
