"""Stored papers -> JSON, CSV or RIS text. Pure: values in, text out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from litwatch.records import Paper, TriageNote
from litwatch.store.repository import StoredPaper, iso
from litwatch.triage.matching import Article
from litwatch.triage.note import triage_note

FORMATS = ("json", "csv", "ris")
CSV_COLUMNS = (
    "pmid",
    "doi",
    "pmcid",
    "title",
    "authors",
    "journal",
    "published",
    "create_date",
    "publication_types",
    "evidence",
    "sections",
    "watches",
    "first_seen",
    "url",
)


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


def paper_summary(item: StoredPaper, note: TriageNote | None = None) -> dict[str, Any]:
    p = item.paper
    note = note or triage_note(p)
    created = p.history_date("entrez")  # PubStatus "entrez" is PubMed's create date, [crdt]
    entry = p.history_date("pubmed")  # and "pubmed" its entry date, [edat]
    return {
        "pmid": p.pmid,
        "pmids": list(item.pmids),
        "doi": p.doi,
        "pmcid": p.pmcid,
        "title": p.title,
        "title_html": p.title_html,
        "authors": [a.display_name for a in p.authors],
        "journal": p.journal.title,
        "journal_abbreviation": p.journal.iso_abbreviation,
        "volume": p.journal.volume,
        "issue": p.journal.issue,
        "pages": p.journal.pages,
        "published": p.published.iso(),
        "published_text": p.published.text,
        "electronic_date": p.electronic_date.isoformat() if p.electronic_date else None,
        "create_date": created.isoformat() if created else None,
        "entry_date": entry.isoformat() if entry else None,
        "publication_types": list(p.publication_types),
        "mesh_terms": [m.descriptor for m in p.mesh_headings],
        "keywords": list(p.keywords),
        "languages": list(p.languages),
        "watches": list(item.watches),
        "evidence": {"label": note.evidence, "subject": note.subject, "why": note.evidence_why},
        "sections": list(note.sections),
        "matched_terms": list(note.matched_terms),
        "updates": [
            {"kind": kind, "detail": detail, "detected_at": iso(when)}
            for kind, detail, when in item.updates
        ],
        "first_seen": iso(item.first_seen),
        "updated": iso(item.updated),
        "url": pubmed_url(p.pmid),
    }


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        row = dict(row)
        row["authors"] = "; ".join(row["authors"])
        row["publication_types"] = "; ".join(row["publication_types"])
        row["evidence"] = row["evidence"]["label"]
        row["sections"] = "; ".join(row["sections"])
        row["watches"] = " ".join(row["watches"])
        writer.writerow(row[c] if row[c] is not None else "" for c in CSV_COLUMNS)
    return out.getvalue()


def ris_record(p: Paper) -> list[tuple[str, str]]:
    kind = "BOOK" if p.kind == "book" else "JOUR"
    lines: list[tuple[str, str]] = [("TY", kind), ("TI", p.title)]
    for a in p.authors:
        if a.collective_name:
            lines.append(("AU", a.collective_name))
        elif a.last_name:
            lines.append(("AU", f"{a.last_name}, {a.fore_name}" if a.fore_name else a.last_name))
    j = p.journal
    if p.published.year:
        lines.append(("PY", str(p.published.year)))
        lines.append(
            (
                "DA",
                "/".join(
                    f"{x:02d}" if x else ""
                    for x in (p.published.year, p.published.month, p.published.day)
                ).rstrip("/"),
            )
        )
    for tag, value in (
        ("T2", j.title),
        ("JO", j.title),
        ("J2", j.iso_abbreviation),
        ("SN", j.issn),
        ("VL", j.volume),
        ("IS", j.issue),
    ):
        if value:
            lines.append((tag, value))
    if j.pages:
        start, _, end = j.pages.partition("-")
        lines.append(("SP", start))
        if end:
            lines.append(("EP", end))
    if p.abstract:
        lines.append(("AB", p.abstract_text))
    for keyword in (*p.keywords, *(m.descriptor for m in p.mesh_headings)):
        lines.append(("KW", keyword))
    if p.languages:
        lines.append(("LA", p.languages[0]))
    if p.doi:
        lines.append(("DO", p.doi))
    lines.append(("AN", p.pmid))
    lines.append(("DB", "PubMed"))
    lines.append(("UR", pubmed_url(p.pmid)))
    if p.pmcid:
        lines.append(("L1", f"https://www.ncbi.nlm.nih.gov/pmc/articles/{p.pmcid}/"))
    lines.append(("ER", ""))
    return lines


def to_ris(items: Iterable[StoredPaper]) -> str:
    out = []
    for item in items:
        for tag, value in ris_record(item.paper):
            out.append(f"{tag}  - {' '.join(value.split())}")
        out.append("")
    return "\r\n".join(out)


def render(
    items: Iterable[StoredPaper],
    fmt: str,
    sections: Mapping[str, Article] | None = None,
    now: dt.datetime | None = None,
) -> str:
    """``sections``: each watch's article, for the ``sections`` and ``matched_terms``
    fields; ``now`` for the rank's recency."""
    items = list(items)
    if fmt == "ris":
        return to_ris(items)
    notes = {
        id(item): triage_note(
            item.paper,
            next((sections[w] for w in item.watches if sections and w in sections), None),
            now,
        )
        for item in items
    }
    rows = [paper_summary(item, notes[id(item)]) for item in items]
    return to_json(rows) if fmt == "json" else to_csv(rows)
