"""NCBI requests per run and wall time against the rate-limit bound, over simulated days.

litwatch runs the way a user's cron job would run it (``litwatch.pipeline.run_once`` on a
config folder with ``litwatch.toml`` and ``queries/*.toml``), once per simulated day, against
the local E-utilities stand-in serving real records with NCBI's rate limit switched on (it
answers 429 to a client that goes faster than NCBI allows). The days run back to back in one
process, so the process-wide rate limiter carries over from one day to the next, as in the
daemon.

Requests are counted from the stand-in's own log. The minimum for a run is one esearch per
watch plus ceil(P / batch_size) efetch, where P is the number of PMIDs that some watch found
for the first time and that no earlier run fetched; P is worked out independently of
litwatch, by replaying each logged esearch against a second stand-in without a rate limit.

The wall-time bound is requests / rate (3/s without an API key, 10/s with one): the least
time NCBI's limit allows for that many requests.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from lxml import etree

from litwatch.config import load_settings, load_watches
from litwatch.pipeline import run_once
from litwatch.sources.pubmed import EntrezClient
from litwatch.sources.ratelimit import SHARED_MARGIN, RateLimiter
from litwatch.standin.eutils import EutilsStandin

UTC = dt.UTC
API_KEY = "0f3a9c2b7d4e6f8a1b2c3d4e5f6a7b8c9d0e"  # any key: the stand-in accepts all of them

# Ten watches a health-writing team could keep, over topics that reach PubMed every day.
WATCHES = {
    "neuropathic-pain": '"neuropathic pain"[tiab] OR neuralgia[tiab] OR neuropath*[tiab]',
    "kratom-opioids": "kratom[tw] OR mitragyn*[tiab] OR opioid*[tiab] OR opiate*[tiab]",
    "covid-19": 'covid-19[tiab] OR "sars-cov-2"[tiab] OR "coronavirus disease 2019"[tiab]',
    "diabetes": "diabetes[tiab] OR diabetic[tiab] OR insulin[tiab]",
    "cancer-immunotherapy": "(immunotherapy[tiab] OR immune checkpoint*[tiab] OR pd-1[tiab])"
    " AND (cancer[tiab] OR tumor[tiab] OR tumour[tiab] OR carcinoma[tiab])",
    "depression": "depression[tiab] OR depressive[tiab] OR antidepressant*[tiab]",
    "dementia": "alzheimer*[tiab] OR dementia[tiab] OR cognitive decline[tiab]",
    "antimicrobial-resistance": '"antimicrobial resistance"[tiab] OR "antibiotic resistance"'
    "[tiab] OR multidrug-resistant[tiab]",
    "microbiome": "microbiome[tiab] OR microbiota[tiab]",
    "liver-injury": '"liver injury"[tiab] OR hepatotoxicity[tiab] OR "drug-induced liver"[tiab]',
}
QUICK_WATCHES = ("neuropathic-pain", "kratom-opioids")


def schedule(last_day: dt.date, days: int) -> list[dt.datetime]:
    """A seeding run the day before, one run a day at 06:00 UTC, and a second run on the
    last day at 18:00 (nothing new since the morning)."""
    first = last_day - dt.timedelta(days=days)
    mornings = [
        dt.datetime.combine(first + dt.timedelta(days=i), dt.time(6), UTC) for i in range(days + 1)
    ]
    return [*mornings, dt.datetime.combine(last_day, dt.time(18), UTC)]


def make_site(root: Path, base_url: str, watches: dict[str, str], api_key: str | None) -> Path:
    (root / "queries").mkdir(parents=True, exist_ok=True)
    for name, term in watches.items():
        (root / "queries" / f"{name}.toml").write_text(
            f"title = {json.dumps(name.replace('-', ' ').capitalize())}\nterm = {json.dumps(term)}\n"
        )
    key = f'api_key = "{api_key}"\n' if api_key else ""
    config = root / "litwatch.toml"
    config.write_text(
        "[entrez]\n"
        'email = "benchmarks@litwatch.invalid"\n'
        f'base_url = "{base_url}"\n{key}'
        "[store]\n"
        'url = "sqlite:///litwatch.db"\n'
    )
    return config


def simulate(
    standin: EutilsStandin,
    oracle: EutilsStandin,
    watches: dict[str, str],
    runs: list[dt.datetime],
    *,
    api_key: str | None,
    margin: float | None = None,
) -> dict:
    """Run litwatch once per moment in ``runs``; return counts, minimum and times."""
    standin.reset()
    time.sleep(1.1)  # nothing left in NCBI's one-second window from earlier traffic
    with tempfile.TemporaryDirectory(prefix="litwatch-bench-") as folder:
        settings = load_settings(make_site(Path(folder), standin.base_url, watches, api_key))
        configured = load_watches(settings.queries_dir)
        rate = settings.entrez.rate_limit
        client = None
        if margin is not None:  # a limiter of our own instead of the process-wide one
            client = EntrezClient(settings.entrez, limiter=RateLimiter(rate, margin=margin))
        boundaries, durations = [], []
        started = time.perf_counter()
        try:
            for now in runs:
                boundaries.append(len(standin.requests))
                t0 = time.perf_counter()
                outcome = run_once(settings, configured, now, deliver=False, client=client)
                durations.append(time.perf_counter() - t0)
                if outcome.collected is None or not outcome.collected.ok:
                    raise RuntimeError(f"run at {now} failed: {outcome.collected}")
        finally:
            if client is not None:
                client.close()
        wall = time.perf_counter() - started
        log = standin.requests
        boundaries.append(len(log))
    per_run = _count(log, boundaries, runs, durations, oracle, settings.entrez.batch_size)
    requests = sum(r["requests"] for r in per_run)
    window = 1.0 + (SHARED_MARGIN if margin is None else margin)
    bound = requests / rate
    fetched = Counter(pmid for r in per_run for pmid in r.pop("fetched_ids"))
    revised = {pmid for r in per_run for pmid in r.pop("revised_ids")}

    def total(key: str) -> int:
        return sum(r[key] for r in per_run)

    collect_requests = total("esearch_crdt") + sum(
        math.ceil(r["new_pmids"] / settings.entrez.batch_size) for r in per_run
    )
    nothing_new = [r for r in per_run if r["new_pmids"] == 0 and r["esearch_mdat"] == 0]
    return {
        "watches": len(watches),
        "runs": len(runs),
        "api_key": api_key is not None,
        "rate_per_s": rate,
        "limiter_window_s": window,
        "requests": requests,
        "esearch": total("esearch"),
        "esearch_crdt": total("esearch_crdt"),
        "esearch_mdat": total("esearch_mdat"),
        "efetch": total("efetch"),
        "rejected_429": total("rejected_429"),
        "new_pmids": total("new_pmids"),
        "revised_refetched": total("revised_refetched"),
        "minimum": total("minimum"),
        "ratio_to_minimum": round(requests / total("minimum"), 3),
        "collect_requests": collect_requests,
        "minimum_with_updates": total("minimum_with_updates"),
        "ratio_to_minimum_with_updates": round(requests / total("minimum_with_updates"), 3),
        "runs_over_minimum_with_updates": sum(
            1 for r in per_run if r["requests"] > r["minimum_with_updates"]
        ),
        "runs_with_nothing_to_do": len(nothing_new),
        "nothing_to_do_runs_one_request_per_watch": all(
            r["requests"] == len(watches) for r in nothing_new
        ),
        "pmids_fetched": len(fetched),
        "pmids_fetched_twice": sum(1 for n in fetched.values() if n > 1),
        # the stand-in serves each record's latest version from day one, so a record fetched
        # on day 1 whose DateRevised is day 5 is "revised" on day 5 and rightly fetched again
        "pmids_fetched_twice_not_revised": sum(
            1 for p, n in fetched.items() if n > 1 and p not in revised
        ),
        "wall_s": round(wall, 2),
        "bound_s": round(bound, 2),
        "ratio_to_bound": round(wall / bound, 3),
        "bound_with_margin_s": round(requests * window / rate, 2),
        "ratio_to_bound_with_margin": round(wall / (requests * window / rate), 3),
        "per_run": per_run,
    }


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _count(log, boundaries, runs, durations, oracle, batch_size) -> list[dict]:
    """Per run: what litwatch asked, and the least it could have asked, worked out from the
    logged searches replayed against the oracle.

    - collect (the issue's minimum): one [crdt] esearch per watch + ceil(P / batch_size)
      efetch, P = PMIDs some watch found for the first time that no earlier run fetched;
    - updates (litwatch's daily check for revised records, added after the issue): at most
      one [mdat] esearch per watch and day, for watches that hold papers, and a refetch of
      the stored matches it finds revised; efetch batches are shared with the new PMIDs.
    """
    matched: dict[str, set[str]] = {}  # term -> PMIDs the watch found in earlier runs
    holds_papers: set[str] = set()  # terms with at least one new match in an earlier run
    fetched_on: dict[str, dt.date] = {}  # PMID -> the simulated day it was first fetched
    checked: dict[str, dt.date] = {}  # term -> day of its last [mdat] search
    out = []
    with httpx.Client(timeout=60) as http:
        for i, now in enumerate(runs):
            entries = log[boundaries[i] : boundaries[i + 1]]
            ok = [e for e in entries if e.status == 200]
            crdt = [e for e in ok if e.endpoint == "esearch" and e.params.get("datetype") != "mdat"]
            mdat = [e for e in ok if e.endpoint == "esearch" and e.params.get("datetype") == "mdat"]
            fetches = [e for e in ok if e.endpoint == "efetch"]
            new_by_term: dict[str, set[str]] = {}
            for entry in crdt:
                term = entry.params["term"]
                found = _replay(http, oracle, entry.params)
                known = matched.setdefault(term, set())
                new_by_term.setdefault(term, set())
                if i > 0:  # the seeding run: everything found is known, not new
                    new_by_term[term] |= found - known
                known |= found
            new = set().union(*new_by_term.values())
            needed = {p for p in new if p not in fetched_on}
            revised: set[str] = set()
            for entry in mdat:
                term = entry.params["term"]
                hits = _replay(http, oracle, entry.params)
                revised |= {
                    p
                    for p in hits & matched.get(term, set())
                    if fetched_on.get(p, now.date()) < now.date()
                }
            updates_due = sum(
                1 for t in holds_papers if checked.get(t) != now.date()
            )  # [mdat] searches litwatch may make this run
            for entry in mdat:
                checked[entry.params["term"]] = now.date()
            fetched_ids = [p for e in fetches for p in e.params.get("id", "").split(",") if p]
            for pmid in fetched_ids:
                fetched_on.setdefault(pmid, now.date())
            holds_papers |= {t for t, found in new_by_term.items() if found}
            out.append(
                {
                    "now": now.isoformat(),
                    "esearch": len(crdt) + len(mdat),
                    "esearch_crdt": len(crdt),
                    "esearch_mdat": len(mdat),
                    "efetch": len(fetches),
                    "rejected_429": sum(1 for e in entries if e.status == 429),
                    "requests": len(entries),
                    "new_pmids": len(needed),
                    "revised_refetched": len(revised),
                    "minimum": len(crdt) + math.ceil(len(needed) / batch_size),
                    "minimum_with_updates": len(crdt)
                    + min(len(mdat), updates_due)
                    + math.ceil(len(needed | revised) / batch_size),
                    "mdat_searches_allowed": updates_due,
                    "seconds": round(durations[i], 3),
                    "fetched_ids": fetched_ids,
                    "revised_ids": sorted(revised),
                }
            )
    return out


def _replay(http: httpx.Client, oracle: EutilsStandin, params: dict[str, str]) -> set[str]:
    form = {k: v for k, v in params.items() if k != "api_key"}
    response = http.post(oracle.base_url + "esearch.fcgi", data=form)
    response.raise_for_status()
    root = etree.fromstring(response.content)
    count = int(root.findtext("Count") or 0)
    ids = {i.text for i in root.iterfind("IdList/Id") if i.text}
    if count > len(ids):
        raise RuntimeError(f"the oracle returned {len(ids)} of {count} ids")
    return ids


def _private_limiter_file() -> None:
    """litwatch shares its rate limit with this user's other litwatch processes through a file
    in $XDG_RUNTIME_DIR (NCBI counts per key or IP, not per process). Give this benchmark a
    folder of its own, so that a test suite running beside it does not eat its budget."""
    folder = tempfile.mkdtemp(prefix="litwatch-bench-runtime-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["XDG_RUNTIME_DIR"] = folder


def run(records: Path, *, quick: bool) -> dict:
    _private_limiter_file()
    if quick:
        watches = {name: WATCHES[name] for name in QUICK_WATCHES}
        moments = schedule(dt.date(2021, 6, 7), days=4)
    else:
        watches = dict(WATCHES)
        moments = schedule(dt.date(2021, 6, 7), days=30)
    t0 = time.perf_counter()
    with (
        EutilsStandin(records=records, rate_limit=True) as standin,
        EutilsStandin(records=records, rate_limit=False) as oracle,
    ):
        load_s = time.perf_counter() - t0
        section: dict = {
            "records_served": len(standin.pmids),
            "corpus": records.name,
            "standin_load_s": round(load_s, 1),
            "days": len(moments) - 2,
            "first_run": moments[0].isoformat(),
            "last_run": moments[-1].isoformat(),
            "shared_margin_s": SHARED_MARGIN,
        }
        variants = [("no_key", None, None), ("api_key", API_KEY, None)]
        if not quick:
            variants.append(("api_key_no_margin", API_KEY, 0.0))
        for label, key, margin in variants:
            print(f"  collect: {label} ...", file=sys.stderr)
            section[label] = simulate(standin, oracle, watches, moments, api_key=key, margin=margin)
            s = section[label]
            print(
                f"  collect: {label}: {s['requests']} requests (minimum {s['minimum']}), "
                f"{s['wall_s']} s (bound {s['bound_s']} s), 429s {s['rejected_429']}",
                file=sys.stderr,
            )
    return section
