"""The benchmark suite runs (``python -m benchmarks --quick``) and reports every section with
numbers. No timing is asserted: these machines are shared and the figures are for people."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from numbers import Number
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmarks_report_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src")])
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| litwatch parse_pubmed_xml |" in proc.stdout

    result = json.loads(out.read_text())
    assert result["mode"] == "quick"
    assert set(result["sections"]) == {"parsing", "same_output", "collect", "store", "render"}
    assert isinstance(result["machine"]["cpus"], int)

    parsing = result["sections"]["parsing"]["files"]["pubmed-slice"]["results"]
    by_parser = {(r["parser"], r["input"]): r for r in parsing}
    for key in [("floor", "gzip"), ("litwatch", "gzip"), ("floor", "plain"), ("litwatch", "plain")]:
        row = by_parser[key]
        assert "error" not in row, row
        for figure in ("records_per_s", "ratio_to_floor", "peak_rss_mb", "seconds"):
            assert isinstance(row[figure], Number) and row[figure] > 0, (key, figure, row)
        assert row["records_out"] == 341  # 340 articles and one DeleteCitation
    for other in ("pubmed_parser", "bio_entrez"):  # optional: numbers, or the reason why not
        row = by_parser[(other, "gzip")]
        assert "error" in row or row["records_per_s"] > 0, row

    same = result["sections"]["same_output"]["files"]["pubmed-slice"]
    assert same["records"] == 341
    assert same["differing_records"] == 0

    collect = result["sections"]["collect"]
    for variant in ("no_key", "api_key"):
        v = collect[variant]
        for figure in ("requests", "minimum", "ratio_to_minimum", "minimum_with_updates",
                       "wall_s", "bound_s", "ratio_to_bound"):  # fmt: skip
            assert isinstance(v[figure], Number) and v[figure] > 0, (variant, figure, v)
        assert v["esearch_crdt"] == v["watches"] * v["runs"]
        assert v["pmids_fetched_twice_not_revised"] == 0
        assert v["nothing_to_do_runs_one_request_per_watch"] is True
        assert len(v["per_run"]) == v["runs"]

    store = result["sections"]["store"]
    for figure in ("insert_per_s", "check_s", "kb_per_1000_papers", "insert_ratio_to_reference"):
        assert isinstance(store[figure], Number) and store[figure] > 0, figure

    render = result["sections"]["render"]
    for figure in (
        "digest_html_ms",
        "digest_text_ms",
        "feed_files_ms",
        "digest_ratio_to_reference",
    ):
        assert isinstance(render[figure], Number) and render[figure] > 0, figure
    assert render["feed_entries"] == 100
