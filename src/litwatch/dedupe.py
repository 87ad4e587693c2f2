"""Identity of papers: normalised identifiers and a title fingerprint. Pure functions, no I/O.

Every function returns ``None`` for a value that cannot identify a paper, so callers
never store an empty string or a junk id as an identity.
"""

from __future__ import annotations

import html
import re
import unicodedata

_DOI_PREFIXES = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "doi.org/",
    "dx.doi.org/",
    "urn:doi:",
    "doi:",
)
# Registrant code ("10.1097", "10.1000.10"), a slash, a suffix without whitespace.
_DOI_RE = re.compile(r"10\.\d+(?:\.\d+)*/\S+")
_DOI_TRAILING = ".,;:'\""
_BRACKETS = {")": "(", "]": "[", "}": "{", ">": "<"}
_DOI_TRAILING_ALL = _DOI_TRAILING + "".join(_BRACKETS)
# DOIs are case-insensitive for ASCII letters only (DOI Handbook 2.4), so only those fold.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

_PMCID_RE = re.compile(r"(?:pmc)?0*(\d+)(?:\.\d+)?", re.IGNORECASE)
# PubMed's inline tags, as in Paper.title_html; a bare "<" or ">" in plain text is kept.
_TAG_RE = re.compile(r"</?(?:i|b|u|sup|sub)>")

# Normalised titles that name a kind of notice, not a paper: many records share them.
_GENERIC_TITLES = frozenset(
    {
        "abstracts",
        "acknowledgement",
        "acknowledgements",
        "acknowledgment",
        "acknowledgments",
        "addendum",
        "announcement",
        "announcements",
        "author reply",
        "authors reply",
        "authors response",
        "book review",
        "book reviews",
        "case for diagnosis",
        "comment",
        "commentary",
        "correction",
        "correction notice",
        "corrections",
        "corrigenda",
        "corrigendum",
        "department of error",
        "editorial",
        "editorial comment",
        "editorial expression of concern",
        "editors note",
        "errata",
        "erratum",
        "expression of concern",
        "foreword",
        "in memoriam",
        "in reply",
        "in this issue",
        "introduction",
        "issue information",
        "letter",
        "letter to the editor",
        "letters",
        "letters to the editor",
        "news",
        "not available",
        "notice of retraction",
        "notice of withdrawal",
        "obituary",
        "preface",
        "publisher s note",
        "reply",
        "response",
        "retracted",
        "retraction",
        "retraction notice",
        "reviewers",
        "untitled",
        "withdrawn",
    }
)
# Shorter titles ("Kratom.", "Case 12") are too likely to repeat within a year.
_MIN_TITLE_WORDS = 3


def normalize_doi(value: str | None) -> str | None:
    """``"https://doi.org/10.1097/PAF.0000000000000695."`` -> ``"10.1097/paf.0000000000000695"``.

    Strips whitespace, resolver and ``doi:`` prefixes, trailing punctuation (a closing
    bracket only when unbalanced), folds ASCII case. ``None`` unless the result looks
    like a DOI (``10.<registrant>/<suffix>``, no whitespace).
    """
    if not value:
        return None
    doi = (value.lower() if value.isascii() else value.translate(_ASCII_LOWER)).strip()
    if doi.startswith("10.") and doi[-1] not in _DOI_TRAILING_ALL and _DOI_RE.fullmatch(doi):
        return doi  # the common case: already a bare DOI
    previous = None
    while doi != previous:
        previous = doi
        for prefix in _DOI_PREFIXES:
            if doi.startswith(prefix):
                doi = doi[len(prefix) :].strip()
        doi = _strip_trailing(doi)
    return doi if _DOI_RE.fullmatch(doi) else None


def _strip_trailing(doi: str) -> str:
    while doi and _is_trailing_junk(doi):
        doi = doi[:-1]
    return doi


def _is_trailing_junk(doi: str) -> bool:
    last = doi[-1]
    if last in _DOI_TRAILING or last.isspace():
        return True
    return last in _BRACKETS and doi.count(last) > doi.count(_BRACKETS[last])


def normalize_pmcid(value: str | None) -> str | None:
    """``"pmc7938335.2"``, ``"PMCID: PMC7938335"``, ``"7938335"`` -> ``"PMC7938335"``.

    PubMed writes versioned ids ("PMC7938335.2") for articles with several versions; the
    version is dropped because every version is the same paper.
    """
    if not value:
        return None
    text = value.strip()
    if text[:6].lower() == "pmcid:":
        text = text[6:].strip()
    match = _PMCID_RE.fullmatch(text)
    if match is None or not match.group(1).strip("0"):
        return None
    return "PMC" + match.group(1)


def normalize_title(value: str | None) -> str:
    """A comparison key: markup and entities removed, accents dropped, case folded, every
    run of punctuation and whitespace made one space. ``"NF-<i>κ</i>B."`` -> ``"nf κb"``."""
    if not value:
        return ""
    text = html.unescape(_TAG_RE.sub("", value))
    previous = None
    while text != previous:  # casefold and NFKD can each expose work for the other
        previous = text
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return " ".join(words)


def title_fingerprint(title: str | None, year: int | None) -> str | None:
    """``"2021:kratom associated fatalities in northern nevada ..."``, or ``None`` when the
    title cannot identify a paper: no year, empty, a generic notice title ("Correction",
    "Erratum", "Retraction", "Expression of concern", ...) or fewer than three words.

    A fingerprint is a hint for merging, weaker than a shared PMID, DOI or PMCID: letters
    in one correspondence thread can share a title and a year.
    """
    if year is None:
        return None
    key = normalize_title(title)
    if key in _GENERIC_TITLES or len(key.split()) < _MIN_TITLE_WORDS:
        return None
    return f"{year:04d}:{key}"
