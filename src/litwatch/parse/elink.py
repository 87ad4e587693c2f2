"""elink XML bytes (cmd=neighbor) -> ``ElinkResult``. Pure: no I/O, no network, no DTD.

The shape is NCBI's elink DTD (``eLink_101123.dtd``, shipped with Biopython)::

    eLinkResult (LinkSet*, ERROR?)
    LinkSet     (DbFrom, ((IdList?, ((ERROR?, LinkSetDb)* | ...)) | ... | ERROR), ERROR?)
    LinkSetDb   (DbTo, LinkName, (Link* | Info), ERROR?)
    Link        (Id, Score?)

An id with no links gives a LinkSet without LinkSetDb. NCBI reports failures in-band at
HTTP 200, either as ``<eLinkResult><ERROR>`` (outages: "NCBI C++ Exception: ... Read failed:
EOF", "Couldn't resolve #exLinkSrv2, the address table is empty.") or as
``<LinkSet><ERROR>`` (a request it will not serve: "Exception: llinkslib command not
supported"); both are kept apart from "no links" here. ``Bio.Entrez.read`` is not used for the
reasons given in ``litwatch.parse.esearch``. What the findings mean is decided by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from litwatch.parse.esearch import MalformedResponse, parse_root

__all__ = ["ElinkResult", "LinkSet", "LinkSetDb", "MalformedResponse", "parse_elink"]


@dataclass(frozen=True, slots=True)
class LinkSetDb:
    dbto: str | None
    linkname: str | None
    links: tuple[str, ...]  # the linked ids, in NCBI's order


@dataclass(frozen=True, slots=True)
class LinkSet:
    dbfrom: str | None
    ids: tuple[str, ...]  # the ids asked (one LinkSet per `id=` parameter)
    dbs: tuple[LinkSetDb, ...]
    error: str | None  # <ERROR> text(s) inside this LinkSet or its LinkSetDbs


@dataclass(frozen=True, slots=True)
class ElinkResult:
    linksets: tuple[LinkSet, ...]
    error: str | None  # text of a top-level <ERROR>: the request was not answered

    def links(self, linkname: str) -> tuple[str, ...]:
        """Every id linked under `linkname`, over all LinkSets, first occurrence order."""
        out: dict[str, None] = {}
        for ls in self.linksets:
            for db in ls.dbs:
                if db.linkname == linkname:
                    out.update(dict.fromkeys(db.links))
        return tuple(out)


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _errors(elements: list[etree._Element]) -> str | None:
    if not elements:
        return None
    return "; ".join(_text(e) or "(empty ERROR element)" for e in elements)


def parse_elink(body: bytes) -> ElinkResult:
    """Read an elink XML response; ``MalformedResponse`` if it is not a complete one."""
    root = parse_root(body, "eLinkResult")
    linksets = []
    for ls in root.iterfind("LinkSet"):
        dbs = tuple(
            LinkSetDb(
                dbto=_text(db.find("DbTo")),
                linkname=_text(db.find("LinkName")),
                links=tuple(t for t in (_text(i) for i in db.iterfind("Link/Id")) if t),
            )
            for db in ls.iterfind("LinkSetDb")
        )
        linksets.append(
            LinkSet(
                dbfrom=_text(ls.find("DbFrom")),
                ids=tuple(t for t in (_text(i) for i in ls.iterfind("IdList/Id")) if t),
                dbs=dbs,
                error=_errors(ls.findall("ERROR") + ls.findall("LinkSetDb/ERROR")),
            )
        )
    error = _errors(root.findall("ERROR"))
    if not linksets and error is None:
        raise MalformedResponse("no <LinkSet> and no <ERROR>")
    return ElinkResult(linksets=tuple(linksets), error=error)
