"""Text helpers shared by evidence cues and section terms: term patterns and their needles,
sentences, places, and ``fold`` (the lower-case copy that cues and needles search).

A *term* is what an article file writes: ``"kratom"``, ``"mu-opioid receptor*"``,
``"7-hydroxymitragynine"``. It becomes one case-insensitive regular expression that runs on
the record's own text (no normalised copy), so match spans can be highlighted as they are:

- words are whole words: ``"pain"`` does not match "painful"; ``"*"`` matches any letters
  and digits (``"analgesi*"`` matches "analgesia", "analgesic");
- a term's last word also matches its plural in ``s`` / ``es`` ("dose" -> "doses");
- words may be joined by a space, a hyphen (any dash), a slash or nothing:
  ``"anti-inflammatory"`` matches "anti inflammatory" and "antiinflammatory";
- Greek letters match their names and back: ``"mu-opioid"`` matches "μ-opioid" and
  "µ-opioid" (micro sign), ``"kappa"`` matches "κ";
- ``|`` separates spellings of one term: ``"half-life|half-lives"`` counts once.
"""

from __future__ import annotations

import re
from functools import lru_cache

from litwatch.records import Paper

PLACES = ("title", "keywords", "mesh", "abstract")
_GREEK = {
    "alpha": "αΑ",
    "beta": "βΒ",
    "gamma": "γΓ",
    "delta": "δΔ",
    "kappa": "κΚ",
    "mu": "μµΜ",
}
_SEPARATOR = r"[\s\-\u2010-\u2015/]*"
_WORD_SPLIT = re.compile(r"[\s\-\u2010-\u2015]+")
TERM_SYNTAX = re.compile(r"^[\w*'/.+(),:&|αβγδκμµ\s\-\u2010-\u2015]+$")


def _token(word: str) -> str:
    parts = []
    for piece in re.split(r"(\*)", word):
        if piece == "*":
            parts.append(r"\w*")
        elif piece:
            lowered = piece.lower()
            greek = next((g for name, g in _GREEK.items() if lowered == name), None)
            if greek is not None:
                parts.append(f"(?:{re.escape(piece)}|[{greek}])")
            else:
                for name, letters in _GREEK.items():
                    if any(ch in piece for ch in letters):
                        piece = re.sub(f"[{letters}]", name, piece)
                escaped = re.escape(piece)
                for name, letters in _GREEK.items():
                    if len(name) > 2:  # "kappa" inside "NF-kappaB"; not "mu" inside words
                        escaped = re.sub(name, f"(?:{name}|[{letters}])", escaped, flags=re.I)
                parts.append(escaped)
    return "".join(parts)


def _spellings(term: str) -> list[list[str]]:
    """The words of each of the term's spellings."""
    spellings = []
    for spelling in term.split("|"):
        words = [w for w in _WORD_SPLIT.split(spelling.strip()) if w]
        if not words:
            raise ValueError(f"empty spelling in {term!r}")
        spellings.append(words)
    return spellings


@lru_cache(maxsize=4096)
def term_pattern(term: str) -> re.Pattern[str]:
    """The compiled regular expression for one term (see the module docstring).
    ``"a|b c"`` is one term with two spellings: either matches, and it counts once."""
    alternatives = []
    for words in _spellings(term):
        body = _SEPARATOR.join(_token(w) for w in words)
        if not words[-1].endswith("*"):
            body += "(?:e?s)?"
        alternatives.append(body)
    return re.compile(rf"(?<![\w])(?:{'|'.join(alternatives)})(?![\w])", re.IGNORECASE)


@lru_cache(maxsize=4096)
def term_needles(term: str) -> tuple[str, ...] | None:
    """Lower-case strings, one from each spelling, that every match of ``term_pattern(term)``
    contains once folded (``fold``): a text whose fold has none of them cannot match, and
    ``in`` says so much faster than the pattern. ``None`` when a spelling has no such string
    (its words are Greek letters or wildcards)."""
    needles = []
    for words in _spellings(term):
        pieces = [p for w in words for p in w.split("*") if _is_literal(p)]
        if not pieces:
            return None
        needles.append(max(pieces, key=len).lower())
    return tuple(needles)


def _is_literal(piece: str) -> bool:
    """Does ``_token`` match this piece of a word letter for letter (ignoring case)?"""
    lowered = piece.lower()
    return (
        piece.isascii()
        and piece.isalnum()
        and lowered not in _GREEK
        and not any(name in lowered for name in _GREEK if len(name) > 2)
    )


def place_texts(paper: Paper) -> dict[str, str]:
    """The four places a term can match: title, keywords, MeSH (descriptors and their
    qualifiers), abstract. Separators keep a term from matching across two keywords."""
    mesh = []
    for heading in paper.mesh_headings:
        mesh.append(heading.descriptor)
        mesh.extend(q.name for q in heading.qualifiers)
    title = paper.title or paper.vernacular_title or ""
    return {
        "title": title,
        "keywords": " ; ".join(paper.keywords),
        "mesh": " ; ".join(mesh),
        "abstract": "\n".join(s.text for s in paper.abstract),
    }


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(\[])|\n+")


def sentences(text: str) -> list[str]:
    """Sentences, split at ``. `` before a capital or digit and at line breaks (the
    abstract's sections), good enough for "is this cue said about this study?"."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


# Letters re.IGNORECASE matches to an ASCII letter that str.lower() leaves alone or turns
# into two characters ("İ".lower() is "i" + a combining dot).
_ASCII_FOLD = str.maketrans("İıſ", "iis")


def fold(text: str) -> str:
    """``text`` in lower case for the cue patterns, one character for one, so a match on
    the folded text has the same span in ``text``. A lower-case ASCII pattern finds in it
    what it would find in ``text`` with re.IGNORECASE (the Kelvin sign is a "k", "ſ" an
    "s", ...), several times faster."""
    folded = text.lower()
    if text.isascii():
        return folded
    if len(folded) != len(text):
        folded = "".join(low if len(low := c.lower()) == 1 else c for c in text)
    if "ı" in folded or "ſ" in folded or "İ" in folded:
        folded = folded.translate(_ASCII_FOLD)
    return folded


def snippet(text: str, match: re.Match[str], limit: int = 40) -> str:
    """What ``match`` found, as written in ``text`` (the match may have run on its folded
    copy), shortened for a reason string."""
    found = " ".join(text[match.start() : match.end()].split())
    return found if len(found) <= limit else found[: limit - 1] + "…"
