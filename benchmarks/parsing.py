"""PubMed XML parsing: records/s and peak RSS, each parser in a process of its own.

Parsers:

- ``floor``: a bare ``lxml.etree.iterparse`` pass over the records that extracts nothing and
  frees each record (the same parser options as litwatch's): the practical floor;
- ``litwatch``: ``litwatch.parse.pubmed_xml.parse_pubmed_xml`` (every field litwatch keeps);
- ``pubmed_parser``: ``pubmed_parser.parse_medline_xml(path)`` with its defaults;
- ``bio_entrez``: ``Bio.Entrez.read(handle)`` (validating, holds the whole document).

Inputs: ``gzip`` (the ``.xml.gz`` as it is shipped, read through ``gzip.open``; pubmed_parser
is given the path and lets libxml2 decompress) and ``plain`` (the unpacked XML file): the
floor and litwatch run on both, the others on ``gzip``. Runs are interleaved (floor,
litwatch, the others, then again), and each ratio compares a parser with the floor of the
same round and input, so a busy neighbour slows both sides of a ratio.

Child: ``python -m benchmarks.parsing PARSER PATH`` prints one JSON line.
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

from benchmarks.common import median, run_child

PARSERS = ("floor", "litwatch", "pubmed_parser", "bio_entrez")


# --- child ---------------------------------------------------------------------------------


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _floor(path: Path) -> dict:
    from lxml import etree

    from litwatch.parse.pubmed_xml import ITERPARSE_OPTIONS

    records = 0
    with _open(path) as stream:
        context = etree.iterparse(stream, **ITERPARSE_OPTIONS)
        for _, element in context:
            records += 1
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return {"records_out": records}


def _litwatch(path: Path) -> dict:
    from litwatch.parse.pubmed_xml import parse_pubmed_xml
    from litwatch.records import DeletedCitations, Paper

    papers = deleted = malformed = 0
    with _open(path) as stream:
        for item in parse_pubmed_xml(stream):
            if isinstance(item, Paper):
                papers += 1
            elif isinstance(item, DeletedCitations):
                deleted += 1
            else:
                malformed += 1
    return {
        "records_out": papers + deleted + malformed,
        "papers": papers,
        "delete_citations": deleted,
        "malformed": malformed,
    }


def _pubmed_parser(path: Path) -> dict:
    from pubmed_parser import parse_medline_xml

    return {"records_out": sum(1 for _ in parse_medline_xml(str(path)))}


def _bio_entrez(path: Path) -> dict:
    from Bio import Entrez

    with _open(path) as stream:
        document = Entrez.read(stream)
    articles = len(document.get("PubmedArticle", []))
    books = len(document.get("PubmedBookArticle", []))
    deleted = 1 if document.get("DeleteCitation") else 0
    return {"records_out": articles + books + deleted}


def child(parser: str, path: Path) -> dict:
    work = {
        "floor": _floor,
        "litwatch": _litwatch,
        "pubmed_parser": _pubmed_parser,
        "bio_entrez": _bio_entrez,
    }[parser]
    try:
        if parser == "pubmed_parser":
            import pubmed_parser  # noqa: F401  (import time is not parse time)
        elif parser == "bio_entrez":
            from Bio import Entrez  # noqa: F401
        else:  # litwatch, and the floor, which takes its parser options
            import litwatch.parse.pubmed_xml  # noqa: F401
    except ImportError as e:
        return {"error": f"not installed: {e.name}"}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = work(path)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
    result["seconds"] = time.perf_counter() - wall
    result["cpu_seconds"] = time.process_time() - cpu
    return result


# --- section -------------------------------------------------------------------------------


def run(files: dict[str, tuple[Path, int]], runs: int, heavy_runs: int) -> dict:
    """``files``: name -> (.xml.gz path, records in it). ``heavy_runs``: runs of the slow
    parsers (pubmed_parser, Bio.Entrez) per file."""
    from benchmarks.data import unpacked

    section: dict = {"files": {}}
    for name, (gz_path, expected) in files.items():
        plain = unpacked(gz_path)
        plan = [
            ("floor", "gzip", gz_path, runs),
            ("litwatch", "gzip", gz_path, runs),
            ("pubmed_parser", "gzip", gz_path, heavy_runs),
            ("bio_entrez", "gzip", gz_path, heavy_runs),
            ("floor", "plain", plain, runs),
            ("litwatch", "plain", plain, runs),
        ]
        samples: dict[tuple[str, str], list[dict]] = {(p, i): [] for p, i, _, _ in plan}
        for round_ in range(max(runs, heavy_runs)):
            for parser, input_, path, count in plan:
                if round_ >= count:
                    continue
                if samples[(parser, input_)] and "error" in samples[(parser, input_)][-1]:
                    continue  # a failure repeats identically; once is enough
                result = run_child(["-m", "benchmarks.parsing", parser, str(path)])
                sample = dict(result.output, max_rss_mb=round(result.max_rss_mb, 1))
                sample["round"] = round_
                samples[(parser, input_)].append(sample)
                print(f"  parse {name} {parser:13s} {input_:5s} {_brief(sample)}", file=sys.stderr)
        section["files"][name] = {
            "records": expected,
            "size_mb": round(plain.stat().st_size / 1e6, 1),
            "results": _summarise(samples, expected),
        }
    return section


def _brief(sample: dict) -> str:
    if "error" in sample:
        return f"error: {sample['error']}"
    return f"{sample['seconds']:.2f} s, {sample['max_rss_mb']:.0f} MB"


def _summarise(samples: dict[tuple[str, str], list[dict]], records: int) -> list[dict]:
    rows = []
    for (parser, input_), runs in samples.items():
        floor = {s["round"]: s for s in samples[("floor", input_)] if "error" not in s}
        good = [s for s in runs if "error" not in s]
        row: dict = {"parser": parser, "input": input_, "runs": len(runs)}
        if not good:
            row["error"] = runs[0]["error"] if runs else "not run"
            rows.append(row)
            continue
        ratios = [floor[s["round"]]["seconds"] / s["seconds"] for s in good if s["round"] in floor]
        cpu_ratios = [
            floor[s["round"]]["cpu_seconds"] / s["cpu_seconds"] for s in good if s["round"] in floor
        ]
        seconds = median([s["seconds"] for s in good])
        row.update(
            seconds=round(seconds, 3),
            records_per_s=round(records / seconds),
            ratio_to_floor=round(median(ratios), 3) if ratios else None,
            ratio_to_floor_min=round(min(ratios), 3) if ratios else None,
            ratio_to_floor_max=round(max(ratios), 3) if ratios else None,
            cpu_ratio_to_floor=round(median(cpu_ratios), 3) if cpu_ratios else None,
            peak_rss_mb=round(median([s["max_rss_mb"] for s in good]), 1),
            records_out=good[0].get("records_out"),
        )
        for key in ("papers", "delete_citations", "malformed"):
            if key in good[0]:
                row[key] = good[0][key]
        rows.append(row)
    return rows


if __name__ == "__main__":
    from benchmarks.common import child_report

    parser_name, file_path = sys.argv[1], Path(sys.argv[2])
    child_report(**child(parser_name, file_path))
