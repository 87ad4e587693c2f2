"""The Markdown tables printed at the end of a run (and pasted into README's Performance)."""

from __future__ import annotations

PARSER_NAMES = {
    "floor": "bare lxml iterparse (floor)",
    "litwatch": "litwatch parse_pubmed_xml",
    "pubmed_parser": "pubmed_parser.parse_medline_xml",
    "bio_entrez": "Bio.Entrez.read",
}


def _n(value: object, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def table(result: dict) -> str:
    m = result["machine"]
    out = [
        f"litwatch benchmarks ({result['mode']}), `{result['command']}`, {result['started']}, "
        f"{result.get('seconds', '?')} s",
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}, "
        f"lxml {m['lxml']} / libxml2 {m['libxml2']}",
    ]
    s = {k: v for k, v in result["sections"].items() if "error" not in v}
    for name, value in result["sections"].items():
        if "error" in value:
            out.append(f"\n**{name}**: failed: {value['error']}")
    if "parsing" in s:
        out += ["", "**PubMed XML parsing** (median of runs; ratio: records/s over the floor's in "
                "the same round, median [min–max])", ""]  # fmt: skip
        rows = []
        for name, f in s["parsing"]["files"].items():
            for r in f["results"]:
                label = f"{name} ({f['records']:,} records, {f['size_mb']:.0f} MB)"
                if "error" in r:
                    rows.append([label, PARSER_NAMES[r["parser"]], r["input"], "–", "–", "–", "–",
                                 f"fails: {r['error']}"])  # fmt: skip
                    continue
                spread = f"{r['ratio_to_floor']:.2f} [{r['ratio_to_floor_min']:.2f}–{r['ratio_to_floor_max']:.2f}]"
                rows.append([
                    label, PARSER_NAMES[r["parser"]], r["input"], _n(r["records_per_s"]), spread,
                    _n(r["peak_rss_mb"]), _n(r["records_out"]), f"{r['runs']} runs",
                ])  # fmt: skip
        out += _rows(["file", "parser", "input", "records/s", "x floor", "peak RSS MB",
                      "records out", "note"], rows)  # fmt: skip
    if "same_output" in s:
        out += ["", "**Same output whichever way the file arrives** (gzip stream, bytes, HTTP body "
                "streamed by httpx)", ""]  # fmt: skip
        out += _rows(
            ["file", "records compared", "records that differ"],
            [[n, _n(f["records"]), _n(f["differing_records"])] for n, f in s["same_output"]["files"].items()],
        )  # fmt: skip
    if "collect" in s:
        c = s["collect"]
        out += ["", f"**NCBI requests and wall time**: {c['days']} simulated days + a seeding run + a "
                f"second run on the last day, {c[next(k for k in ('no_key', 'api_key') if k in c)]['watches']} "
                f"watches, stand-in serving {c['corpus']} ({c['records_served']:,} records) with NCBI's "
                f"rate limit; limiter margin {c['shared_margin_s']} s", ""]  # fmt: skip
        rows = []
        for label in ("no_key", "api_key", "api_key_no_margin"):
            if label not in c:
                continue
            v = c[label]
            rows.append([
                label.replace("_", " "), _n(v["requests"]),
                f"{v['esearch_crdt']} + {v['esearch_mdat']} / {v['efetch']}",
                f"{v['minimum']} → {v['ratio_to_minimum']:.2f}",
                f"{v['minimum_with_updates']} → {v['ratio_to_minimum_with_updates']:.2f}",
                f"{v['runs_with_nothing_to_do']}, {_n(v['nothing_to_do_runs_one_request_per_watch'])}",
                f"{v['pmids_fetched_twice']} ({v['pmids_fetched_twice_not_revised']})",
                _n(v["rejected_429"]),
                f"{v['wall_s']:.1f}", f"{v['bound_s']:.1f}", f"{v['ratio_to_bound']:.2f}",
                f"{v['ratio_to_bound_with_margin']:.2f}",
            ])  # fmt: skip
        out += _rows(
            ["variant", "requests", "esearch crdt + mdat / efetch", "issue's minimum → ratio",
             "minimum with daily update check → ratio", "runs with nothing to do, 1 request/watch",
             "PMIDs fetched twice (not revised)", "429s", "wall s", "bound s", "x bound",
             "x bound incl. margin"],
            rows,
        )  # fmt: skip
    if "store" in s:
        t = s["store"]
        ref = t["reference"]
        out += ["", f"**SQLite store**: {t['papers']:,} real papers (median of {t['runs']} runs); "
                "reference: the same JSON records, bare sqlite3, one table", ""]  # fmt: skip
        out += _rows(
            ["figure", "litwatch", "reference", "litwatch / reference"],
            [
                ["upsert, new papers (records/s)", _n(t["insert_per_s"]), _n(ref["insert_per_s"]),
                 f"{t['insert_ratio_to_reference']:.2f}"],
                ["upsert, all stored already (records/s)", _n(t["upsert_again_per_s"]), "–", "–"],
                [f"{t['papers']:,} 'already stored?' checks (s)", f"{t['check_s']:.3f}",
                 f"{ref['check_s']:.3f}", f"{t['check_ratio_to_reference']:.2f} (speed)"],
                ["size on disk per 1,000 papers (KB)", _n(t["kb_per_1000_papers"], 0),
                 _n(ref["kb_per_1000_papers"], 0), f"{t['size_ratio_to_reference']:.2f}"],
            ],
        )  # fmt: skip
    if "render" in s:
        r = s["render"]
        out += ["", f"**Rendering** with the shipped templates (median of {r['runs']} runs); reference: "
                "a minimal Jinja2 loop over the same papers (titles, authors, journal)", ""]  # fmt: skip
        out += _rows(
            ["figure", "ms", "reference ms", "x reference time"],
            [
                [f"triage notes for {r['digest_papers']:,} papers ({r['triage_ms_per_paper']:.2f} ms each)",
                 f"{r['triage_ms']:.0f}", "", ""],
                [f"digest of {r['digest_papers']:,} papers, HTML ({r['digest_html_kb']:.0f} KB)",
                 f"{r['digest_html_ms']:.0f}", "", ""],
                [f"digest of {r['digest_papers']:,} papers, text ({r['digest_text_kb']:.0f} KB)",
                 f"{r['digest_text_ms']:.0f}", "", ""],
                ["digest, HTML + text", f"{r['digest_ms']:.0f}", f"{r['reference_ms']:.1f}",
                 f"{r['digest_ratio_to_reference']:.1f}"],
                [f"feed files for {r['feed_entries']} entries (Atom + RSS)", f"{r['feed_files_ms']:.0f}",
                 f"{r['feed_reference_ms']:.1f}", f"{r['feed_ratio_to_reference']:.1f}"],
            ],
        )  # fmt: skip
    return "\n".join(out)
