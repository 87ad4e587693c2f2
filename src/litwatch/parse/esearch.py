"""esearch XML bytes -> ``EsearchPage``. Pure: no I/O, no network, no DTD.

The shape is NCBI's esearch DTD (``eSearch_020511.dtd``, shipped with Biopython as
``Bio/Entrez/DTDs/esearch.dtd``)::

    eSearchResult ((Count, (RetMax, RetStart, QueryKey?, WebEnv?, IdList, TranslationSet,
                    TranslationStack?, QueryTranslation)?) | ERROR),
                  ErrorList?    (PhraseNotFound*, FieldNotFound*)
                  WarningList?  (PhraseIgnored*, QuotedPhraseNotFound*, OutputMessage*)

``Bio.Entrez.read`` is not used: it needs the DOCTYPE and fetches DTDs it does not ship.
What the findings *mean* (retry, fail the watch, warn) is decided by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

__all__ = ["EsearchPage", "MalformedResponse", "parse_esearch"]

ERROR_KINDS = ("PhraseNotFound", "FieldNotFound")


class MalformedResponse(ValueError):
    """The body is not a complete, well-formed eSearchResult (truncated, HTML, empty...)."""


@dataclass(frozen=True, slots=True)
class EsearchPage:
    """What one esearch response says, as plain values."""

    count: int  # NCBI's total Count for the query (0 when the body is an <ERROR>)
    ids: tuple[str, ...]
    query_translation: str | None
    error: str | None  # text of a top-level <ERROR>: the search did not run
    phrases_not_found: tuple[str, ...]  # ErrorList/PhraseNotFound
    fields_not_found: tuple[str, ...]  # ErrorList/FieldNotFound
    warnings: tuple[str, ...]  # "QuotedPhraseNotFound: ...", "PhraseIgnored: ...", ...


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def parse_root(body: bytes, tag: str) -> etree._Element:
    """The root of an E-utilities XML reply, which must be ``tag``; no DTD, no network."""
    if not body or not body.strip():
        raise MalformedResponse("empty body")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as e:
        raise MalformedResponse(f"not well-formed XML ({e})") from e
    if root.tag != tag:
        raise MalformedResponse(f"root element is <{root.tag}>, not <{tag}>")
    return root


def parse_esearch(body: bytes) -> EsearchPage:
    """Read an esearch XML response; ``MalformedResponse`` if it is not a complete one."""
    root = parse_root(body, "eSearchResult")

    error = root.find("ERROR")
    error_text = _text(error) if error is not None else None
    if error is not None and not error_text:
        error_text = "(empty ERROR element)"

    count_text = _text(root.find("Count"))
    if count_text is None:
        if error_text is None:
            raise MalformedResponse("no <Count> and no <ERROR>")
        count = 0
    else:
        try:
            count = int(count_text)
        except ValueError as e:
            raise MalformedResponse(f"<Count> is not a number: {count_text!r}") from e

    ids = tuple(t for t in (_text(e) for e in root.iterfind("IdList/Id")) if t)
    phrases = tuple(t for t in (_text(e) for e in root.iterfind("ErrorList/PhraseNotFound")) if t)
    fields = tuple(t for t in (_text(e) for e in root.iterfind("ErrorList/FieldNotFound")) if t)
    warnings: list[str] = []
    # Document order; kinds NCBI may add later are kept too, never dropped.
    for element in root.iterfind("ErrorList/*"):
        text = _text(element)
        if text and element.tag not in ERROR_KINDS and isinstance(element.tag, str):
            warnings.append(f"{element.tag}: {text}")
    for element in root.iterfind("WarningList/*"):
        text = _text(element)
        if text and isinstance(element.tag, str):
            warnings.append(f"{element.tag}: {text}")
    return EsearchPage(
        count=count,
        ids=ids,
        query_translation=_text(root.find("QueryTranslation")),
        error=error_text,
        phrases_not_found=phrases,
        fields_not_found=fields,
        warnings=tuple(warnings),
    )
