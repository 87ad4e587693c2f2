"""The collect spine end to end: the real CLI against the local E-utilities stand-in serving
real PubMed records, over simulated days (``--now``)."""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from litwatch.standin.eutils import EutilsStandin
from litwatch.store.repository import Store
from tests.site import KRATOM, KRATOM_PAIN, TEST_API_KEY, Site, make_site

# Real records of the shipped slice, with their PubMed create dates ([crdt]):
FATALITIES = "34091497"  # "Kratom-Associated Fatalities in Northern Nevada..." crdt 2021-06-06
DOG_PK = "33847897"  # "Oral Pharmacokinetics in Beagle Dogs of ... 7-Hydroxymitragynine" 2021-04-13
WITHDRAWAL = "33342583"  # "A Kratom Konundrum": kratom withdrawal, crdt 2020-12-21

DAYS = ("2021-04-12T06:00:00Z", "2021-04-14T06:00:00Z", "2021-04-20T06:00:00Z",
        "2021-06-05T06:00:00Z", "2021-06-07T06:00:00Z")  # fmt: skip


@pytest.fixture
def site(tmp_path: Path, eutils: EutilsStandin) -> Site:
    return make_site(tmp_path, eutils.base_url, {"kratom": KRATOM, "kratom-pain": KRATOM_PAIN})


def esearches(eutils: EutilsStandin, datetype: str = "crdt") -> list[dict[str, str]]:
    return [
        r.params
        for r in eutils.requests
        if r.endpoint == "esearch" and r.status == 200 and r.params.get("datetype") == datetype
    ]


def test_seed_then_new_papers_over_simulated_days(
    site: Site, eutils: EutilsStandin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert site.run("2021-04-01T06:00:00Z") == 0
    assert "seeded" in capsys.readouterr().out
    assert site.export(capsys) == []  # the seeding run stores known papers, nothing new

    for day in DAYS:
        assert site.run(day) == 0, day
    papers = {p["pmid"]: p for p in site.export(capsys)}
    assert set(papers) == {DOG_PK, FATALITIES}

    dogs = papers[DOG_PK]
    assert dogs["watches"] == ["kratom", "kratom-pain"]  # one paper, both watches
    assert dogs["first_seen"] == "2021-04-14T06:00:00+00:00"
    assert (
        dogs["title"]
        == "Oral Pharmacokinetics in Beagle Dogs of the Mitragynine Metabolite, 7-Hydroxymitragynine."
    )
    assert dogs["doi"] == "10.1007/s13318-021-00684-2"
    assert dogs["pmcid"] == "PMC8179724"
    assert dogs["published"] == "2021-05"
    assert dogs["create_date"] == "2021-04-13"
    fatal = papers[FATALITIES]
    assert fatal["watches"] == ["kratom"]
    assert fatal["first_seen"] == "2021-06-07T06:00:00+00:00"
    assert fatal["journal"] == "The American journal of forensic medicine and pathology"
    assert fatal["doi"] == "10.1097/paf.0000000000000695"  # DOIs are kept in lower case
    assert fatal["published"] == "2021-06-05"
    assert fatal["pmcid"] is None


def test_windows_start_at_the_watermark_minus_the_overlap(
    site: Site, eutils: EutilsStandin
) -> None:
    site.run("2021-04-01T06:00:00Z")
    site.run("2021-04-14T06:00:00Z")
    site.run("2021-04-20T06:00:00Z", "--watch", "kratom")
    windows = [
        (p["term"][:6], p["mindate"], p["maxdate"], p["datetype"]) for p in esearches(eutils)
    ]
    assert windows[-1][1:] == ("2021/04/11", "2021/04/20", "crdt")  # 04-14 minus 3 days
    assert windows[0][1:] == ("2021/03/29", "2021/04/01", "crdt")  # first run: the overlap


def test_second_run_same_day_costs_one_esearch_per_watch_and_no_efetch(
    site: Site, eutils: EutilsStandin
) -> None:
    site.run("2021-06-01T06:00:00Z")
    assert site.run("2021-06-07T06:00:00Z") == 0
    assert eutils.count("efetch") == 1
    eutils.reset()
    assert site.run("2021-06-07T09:00:00Z") == 0
    assert eutils.count("esearch") == 2
    assert eutils.count("efetch") == 0


def test_a_stored_pmid_is_never_fetched_again(site: Site, eutils: EutilsStandin, capsys) -> None:
    site.run("2021-04-01T06:00:00Z", "--watch", "kratom")
    site.run("2021-04-14T06:00:00Z", "--watch", "kratom")  # stores the dog study
    fetched = [r.ids for r in eutils.requests if r.endpoint == "efetch"]
    assert fetched == [1]
    # kratom-pain starts later and collects its backlog: the dog study is new to it...
    (site.root / "queries" / "kratom-pain.toml").write_text(
        f'title = "Kratom pain"\nterm = {json.dumps(KRATOM_PAIN)}\n'
        'first_run = "collect"\nbacklog_since = 2021-01-01\n'
    )
    eutils.reset()
    assert site.run("2021-04-15T06:00:00Z", "--watch", "kratom-pain") == 0
    assert eutils.count("efetch") == 0  # ...but its record is already in the store
    papers = site.export(capsys)
    assert [p["watches"] for p in papers] == [["kratom", "kratom-pain"]]


def test_backlog_since_seeds_older_papers_as_known(
    tmp_path: Path, eutils: EutilsStandin, capsys
) -> None:
    site = make_site(tmp_path, eutils.base_url, watch_extra="backlog_since = 2020-06-01\n")
    assert site.run("2021-06-01T06:00:00Z") == 0
    out = capsys.readouterr().out
    assert "kratom: seeded 2 known paper(s)" in out  # the withdrawal case and the dog study
    assert eutils.count("efetch") == 0  # seeding stores PMIDs, it does not download records
    site.run("2021-06-07T06:00:00Z")
    assert [p["pmid"] for p in site.export(capsys)] == [FATALITIES]


def test_first_run_collect_treats_the_backlog_as_new(
    tmp_path: Path, eutils: EutilsStandin, capsys
) -> None:
    site = make_site(
        tmp_path,
        eutils.base_url,
        watch_extra='first_run = "collect"\nbacklog_since = 2020-06-01\n',
    )
    assert site.run("2021-06-07T06:00:00Z") == 0
    assert {p["pmid"] for p in site.export(capsys)} == {WITHDRAWAL, DOG_PK, FATALITIES}


def test_changing_a_query_seeds_it_again(site: Site, eutils: EutilsStandin, capsys) -> None:
    site.run("2021-04-01T06:00:00Z", "--watch", "kratom")
    (site.root / "queries" / "kratom.toml").write_text(
        'title = "Kratom"\nterm = "kratom[tiab] OR mitragynine[tiab]"\nbacklog_since = 2021-01-01\n'
    )
    assert site.run("2021-05-01T06:00:00Z", "--watch", "kratom") == 0
    assert "seeded 1 known paper(s)" in capsys.readouterr().out
    assert site.export(capsys) == []


@pytest.mark.parametrize(
    ("endpoint", "kind", "opts"),
    [
        ("esearch", "status", {"status": 429}),
        ("esearch", "status", {"status": 503}),
        ("esearch", "status", {"status": 502}),
        ("esearch", "backend_error", {}),
        ("esearch", "json_error", {}),
        ("esearch", "empty", {}),
        ("esearch", "truncate", {}),
        ("esearch", "reset", {}),
        ("efetch", "status", {"status": 500}),
        ("efetch", "backend_error", {}),
        ("efetch", "truncate", {}),
        ("efetch", "reset", {}),
        ("efetch", "empty", {}),
        ("efetch", "unknown_dtd", {}),
        ("efetch", "new_element", {}),
    ],
)
def test_transient_faults_are_retried_and_nothing_is_lost(
    site: Site, eutils: EutilsStandin, capsys, endpoint: str, kind: str, opts: dict
) -> None:
    site.run("2021-06-01T06:00:00Z")
    eutils.faults.push(endpoint, kind, count=2, **opts)
    assert site.run("2021-06-07T06:00:00Z") == 0
    assert [p["pmid"] for p in site.export(capsys)] == [FATALITIES]
    assert any(r.fault == kind for r in eutils.requests)


def test_a_failing_source_fails_the_watch_loudly_and_the_next_run_catches_up(
    site: Site, eutils: EutilsStandin, capsys
) -> None:
    site.run("2021-06-01T06:00:00Z")
    capsys.readouterr()
    eutils.faults.push("esearch", "status", count=20, status=503)
    assert site.run("2021-06-07T06:00:00Z") == 1
    out = capsys.readouterr().out
    assert "kratom: FAILED" in out and "503" in out
    assert site.export(capsys) == []
    capsys.readouterr()
    assert site.cli("status") == 0
    assert "FAILING since 2021-06-07" in capsys.readouterr().out

    eutils.faults.clear()
    assert site.run("2021-06-08T06:00:00Z") == 0  # the window still starts at 06-01 - 3 days
    assert [p["pmid"] for p in site.export(capsys)] == [FATALITIES]


def test_records_efetch_does_not_return_yet_stay_pending(
    site: Site, eutils: EutilsStandin, capsys
) -> None:
    site.run("2021-06-01T06:00:00Z")
    eutils.faults.push("efetch", "drop_records", pmids=[int(FATALITIES)])
    capsys.readouterr()
    assert site.run("2021-06-07T06:00:00Z") == 0
    assert "not available from PubMed yet" in capsys.readouterr().out
    assert site.export(capsys) == []
    assert site.run("2021-06-20T06:00:00Z") == 0  # outside any later window: fetched from pending
    assert [p["pmid"] for p in site.export(capsys)] == [FATALITIES]


def test_a_query_ncbi_rejects_fails_that_watch_only(
    tmp_path: Path, eutils: EutilsStandin, capsys
) -> None:
    site = make_site(tmp_path, eutils.base_url, {"kratom": KRATOM, "broken": "kratom[ps]"})
    capsys.readouterr()
    assert site.run("2021-06-01T06:00:00Z") == 1
    out = capsys.readouterr().out
    assert "broken: FAILED" in out and "'ps'" in out
    assert "kratom: seeded" in out


def test_query_warnings_reach_the_user_with_the_watch_name(
    tmp_path: Path, eutils: EutilsStandin, capsys, caplog
) -> None:
    site = make_site(tmp_path, eutils.base_url, {"kratom": 'kratom[tiab] OR "zzyzx quux"[tiab]'})
    capsys.readouterr()
    with caplog.at_level(logging.INFO):
        assert site.run("2021-06-01T06:00:00Z") == 0
    out = capsys.readouterr().out
    assert 'warning: QuotedPhraseNotFound: "zzyzx quux"' in out or "PhraseNotFound" in out
    assert any(
        "watch kratom:" in r.getMessage() and "query:" in r.getMessage() for r in caplog.records
    )
    with Store.open(site.store) as store:
        run = store.recent_runs(1)[0]["watches"][0]
    assert run["query_translation"] and "[Title/Abstract]" in run["query_translation"]
    assert run["warnings"]


def test_export_formats(site: Site, eutils: EutilsStandin, capsys) -> None:
    site.run("2021-04-01T06:00:00Z")
    site.run("2021-04-14T06:00:00Z")
    site.run("2021-06-07T06:00:00Z")
    capsys.readouterr()
    assert site.cli("export", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["pmid"] for r in rows} == {DOG_PK, FATALITIES}
    assert site.cli("export", "--format", "ris", "--watch", "kratom-pain") == 0
    ris = capsys.readouterr().out
    assert ris.count("TY  - JOUR") == 1 and ris.count("ER  - ") == 1
    assert f"AN  - {DOG_PK}" in ris and "DO  - 10.1007/s13318-021-00684-2" in ris
    assert site.cli("export", "--since", "2021-06-01") == 0
    assert [p["pmid"] for p in json.loads(capsys.readouterr().out)] == [FATALITIES]


def test_the_api_key_never_leaves_the_process(
    site: Site, eutils: EutilsStandin, capsys, caplog
) -> None:
    with caplog.at_level(logging.DEBUG):
        site.run("2021-06-01T06:00:00Z", "-vv")
        eutils.faults.push("esearch", "status", count=20, status=500)
        site.run("2021-06-07T06:00:00Z", "-vv")
        site.cli("status", "--json")
        site.cli("export", "--format", "json")
    captured = capsys.readouterr()
    assert TEST_API_KEY not in captured.out + captured.err
    assert TEST_API_KEY not in caplog.text
    for path in site.root.iterdir():
        if path.is_file():
            assert TEST_API_KEY.encode() not in path.read_bytes() or path.name == "litwatch.toml"


def test_rejected_api_key_is_not_echoed(tmp_path: Path, capsys) -> None:
    with EutilsStandin(api_keys={"the-only-good-key-0123456789"}) as eutils:
        site = make_site(tmp_path, eutils.base_url)
        assert site.run("2021-06-01T06:00:00Z") == 1
    captured = capsys.readouterr()
    assert "api_key" in captured.out
    assert TEST_API_KEY not in captured.out + captured.err


def test_store_and_state_files_are_private(site: Site, eutils: EutilsStandin) -> None:
    site.run("2021-06-01T06:00:00Z")
    assert site.store.stat().st_mode & 0o077 == 0


def test_a_second_run_while_one_holds_the_store_says_so_and_exits_0(
    site: Site, eutils: EutilsStandin, capsys
) -> None:
    site.run("2021-06-01T06:00:00Z")
    capsys.readouterr()
    with Store.open(site.store) as store, store.exclusive():
        assert site.run("2021-06-07T06:00:00Z") == 0
    assert "another litwatch run is using this store" in capsys.readouterr().err
    with sqlite3.connect(site.store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_status_shows_runs_and_counts(site: Site, eutils: EutilsStandin, capsys) -> None:
    site.run("2021-04-01T06:00:00Z")
    site.run("2021-06-07T06:00:00Z")
    capsys.readouterr()
    assert site.cli("status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    by_name = {w["watch"]: w for w in status["watches"]}
    assert by_name["kratom"]["papers"] == 2
    assert by_name["kratom-pain"]["papers"] == 1
    assert status["runs"][0]["now"] == "2021-06-07T06:00:00+00:00"
    assert status["runs"][0]["status"] == "ok"
