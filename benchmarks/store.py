"""The SQLite store: upserting real records, "already stored?" checks, size on disk.

litwatch's ``Store.save_papers`` (1,000 papers a transaction, every identifier indexed, the
record kept as JSON) and ``Store.stored_pmids`` are compared with a reference measured in the
same run: the same JSON records written by bare ``sqlite3`` into one table keyed by PMID
(WAL, ``synchronous=NORMAL``, 1,000 rows a transaction), and the same look-ups in batches of
500 against it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import median
from litwatch.records import Paper
from litwatch.store.codec import paper_to_json
from litwatch.store.repository import Store

NOW = dt.datetime(2021, 6, 7, 6, 0, tzinfo=dt.UTC)


def _db_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def _litwatch(papers: list[Paper], folder: Path) -> dict:
    path = folder / "litwatch.db"
    pmids = [p.pmid for p in papers]
    with Store.open(path) as store:
        t0 = time.perf_counter()
        store.save_papers(papers, NOW)
        insert = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.save_papers(papers, NOW)  # every one stored already: the update path
        again = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = store.stored_pmids(pmids)
        check = time.perf_counter() - t0
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if len(found) != len(set(pmids)):
        raise RuntimeError(f"stored_pmids found {len(found)} of {len(set(pmids))}")
    return {"insert_s": insert, "upsert_again_s": again, "check_s": check, "bytes": _db_size(path)}


def _reference(rows: list[tuple[str, str]], folder: Path) -> dict:
    path = folder / "reference.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE papers (pmid TEXT PRIMARY KEY, record TEXT NOT NULL)")
    t0 = time.perf_counter()
    for i in range(0, len(rows), 1000):
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO papers VALUES (?, ?)", rows[i : i + 1000])
        conn.execute("COMMIT")
    insert = time.perf_counter() - t0
    pmids = [pmid for pmid, _ in rows]
    t0 = time.perf_counter()
    found = set()
    for i in range(0, len(pmids), 500):
        part = pmids[i : i + 500]
        marks = ",".join("?" * len(part))
        found.update(
            r[0] for r in conn.execute(f"SELECT pmid FROM papers WHERE pmid IN ({marks})", part)
        )
    check = time.perf_counter() - t0
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"insert_s": insert, "check_s": check, "bytes": _db_size(path)}


def run(papers: list[Paper], runs: int) -> dict:
    unique = list({p.pmid: p for p in papers}.values())
    rows = [(p.pmid, paper_to_json(p)) for p in unique]
    lw_runs, ref_runs = [], []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="litwatch-bench-store-") as folder:
            lw_runs.append(_litwatch(unique, Path(folder)))
            ref_runs.append(_reference(rows, Path(folder)))
        print(
            f"  store run {i + 1}: insert {lw_runs[-1]['insert_s']:.2f} s "
            f"(reference {ref_runs[-1]['insert_s']:.2f} s), check {lw_runs[-1]['check_s']:.3f} s",
            file=sys.stderr,
        )
    n = len(unique)
    ins = median([r["insert_s"] for r in lw_runs])
    again = median([r["upsert_again_s"] for r in lw_runs])
    check = median([r["check_s"] for r in lw_runs])
    ref_ins = median([r["insert_s"] for r in ref_runs])
    ref_check = median([r["check_s"] for r in ref_runs])
    size = median([r["bytes"] for r in lw_runs])
    ref_size = median([r["bytes"] for r in ref_runs])
    return {
        "papers": n,
        "runs": runs,
        "insert_s": round(ins, 3),
        "insert_per_s": round(n / ins),
        "upsert_again_s": round(again, 3),
        "upsert_again_per_s": round(n / again),
        "check_s": round(check, 4),
        "check_per_s": round(n / check),
        "size_mb": round(size / 1e6, 2),
        "kb_per_1000_papers": round(size / 1024 / (n / 1000), 1),
        "reference": {
            "insert_s": round(ref_ins, 3),
            "insert_per_s": round(n / ref_ins),
            "check_s": round(ref_check, 4),
            "check_per_s": round(n / ref_check),
            "kb_per_1000_papers": round(ref_size / 1024 / (n / 1000), 1),
        },
        "insert_ratio_to_reference": round(ref_ins / ins, 3),
        "check_ratio_to_reference": round(ref_check / check, 3),
        "size_ratio_to_reference": round(size / ref_size, 3),
    }
