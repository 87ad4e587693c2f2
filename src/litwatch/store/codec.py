"""Paper <-> JSON text for the store. Written by hand: ``dataclasses.asdict`` is slower than
parsing the XML was."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from litwatch.records import (
    AbstractSection,
    Author,
    CommentCorrection,
    Journal,
    MeshHeading,
    MeshQualifier,
    Paper,
    PartialDate,
)


def paper_to_json(p: Paper) -> str:
    j = p.journal
    d = p.published
    return json.dumps(
        {
            "pmid": p.pmid,
            "v": p.pmid_version,
            "doi": p.doi,
            "pmcid": p.pmcid,
            "title": p.title,
            "title_html": p.title_html,
            "vernacular_title": p.vernacular_title,
            "abstract": [[s.text, s.label, s.category] for s in p.abstract],
            "authors": [
                [a.last_name, a.fore_name, a.initials, a.collective_name, list(a.affiliations)]
                for a in p.authors
            ],
            "journal": [j.title, j.iso_abbreviation, j.issn, j.volume, j.issue, j.pages],
            "published": [d.year, d.month, d.day, d.text],
            "electronic_date": _day(p.electronic_date),
            "history": [[status, day.isoformat()] for status, day in p.history],
            "publication_types": list(p.publication_types),
            "mesh": [
                [m.descriptor, m.major, m.ui, [[q.name, q.major] for q in m.qualifiers]]
                for m in p.mesh_headings
            ],
            "keywords": list(p.keywords),
            "languages": list(p.languages),
            "comments_corrections": [
                [c.ref_type, c.pmid, c.source] for c in p.comments_corrections
            ],
            "kind": p.kind,
            "status": p.status,
            "date_revised": _day(p.date_revised),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def paper_from_json(text: str) -> Paper:
    r: dict[str, Any] = json.loads(text)
    return Paper(
        pmid=r["pmid"],
        pmid_version=r["v"],
        doi=r["doi"],
        pmcid=r["pmcid"],
        title=r["title"],
        title_html=r["title_html"],
        vernacular_title=r["vernacular_title"],
        abstract=tuple(AbstractSection(*s) for s in r["abstract"]),
        authors=tuple(Author(a[0], a[1], a[2], a[3], tuple(a[4])) for a in r["authors"]),
        journal=Journal(*r["journal"]),
        published=PartialDate(*r["published"]),
        electronic_date=_parse_day(r["electronic_date"]),
        history=tuple((status, dt.date.fromisoformat(day)) for status, day in r["history"]),
        publication_types=tuple(r["publication_types"]),
        mesh_headings=tuple(
            MeshHeading(m[0], m[1], m[2], tuple(MeshQualifier(*q) for q in m[3])) for m in r["mesh"]
        ),
        keywords=tuple(r["keywords"]),
        languages=tuple(r["languages"]),
        comments_corrections=tuple(CommentCorrection(*c) for c in r["comments_corrections"]),
        kind=r["kind"],
        status=r["status"],
        date_revised=_parse_day(r["date_revised"]),
    )


def _day(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _parse_day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
