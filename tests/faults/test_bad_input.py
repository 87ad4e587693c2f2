"""Bad input: each broken configuration, watch or template of ``bad_configs/`` gives one
line naming the file and the key (or template and line), exit code 2, and changes nothing
— in an installation whose store, outbox and feeds already hold data. Then the mistakes
only NCBI can see: a query it rejects, an API key it does not know.

Real ``litwatch`` subprocesses throughout (``run`` and ``check``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from litwatch.standin.eutils import EutilsStandin
from tests.faults.harness import API_KEY
from tests.site import run_cli

pytestmark = pytest.mark.faults

CORPUS = Path(__file__).parent / "bad_configs"
GOOD_WATCHES = {
    "kratom": "kratom[tw] OR mitragyn*[tiab] OR hydroxymitragynine[tiab]",
    "neuropathic": '"neuropathic pain"[tiab] OR neuralgia[tiab]',
}
STANDIN_TODAY = dt.date(2021, 6, 8)


@dataclass
class Case:
    path: Path
    wrong: str = ""
    expects: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    replaces: str = "litwatch.toml"

    @property
    def name(self) -> str:
        return self.path.name


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.iterdir()):
        if path.name in ("README.md", "good.toml"):
            continue
        case = Case(path)
        for line in path.read_text().splitlines():
            match = re.match(
                r"^\s*(?:#|\{#)\s*(wrong|expect|env|replaces):\s*(.*?)\s*(?:#\})?$", line
            )
            if not match:
                continue
            key, value = match.groups()
            if key == "wrong":
                case.wrong = value
            elif key == "expect":
                case.expects.append(value)
            elif key == "env":
                name, _, env_value = value.partition("=")
                case.env[name] = env_value
            else:
                case.replaces = value
        cases.append(case)
    return cases


def litwatch(
    site: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return run_cli(site / "litwatch.toml", *args, env=env, timeout=60)


def snapshot(site: Path) -> dict[str, str]:
    """Every file of the installation, by path, with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def eutils():
    with EutilsStandin(today=STANDIN_TODAY) as standin:
        yield standin


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, eutils: EutilsStandin) -> Path:
    """A good installation after a few days: a store with papers, emails in the outbox,
    feeds on disk."""
    site = tmp_path_factory.mktemp("populated")
    (site / "queries").mkdir()
    for name, term in GOOD_WATCHES.items():
        (site / "queries" / f"{name}.toml").write_text(
            f"title = {json.dumps(name.title())}\nterm = {json.dumps(term)}\n"
        )
    (site / "litwatch.toml").write_text(
        (CORPUS / "good.toml").read_text().replace("@BASE_URL@", eutils.base_url)
    )
    for now in ("2021-05-25T08:00:00Z", "2021-06-05T08:00:00Z", "2021-06-07T08:00:00Z"):
        result = litwatch(site, "run", "--now", now)
        assert result.returncode == 0, result.stderr
    assert list((site / "outbox").glob("*.eml")), "the good installation sent nothing"
    assert (site / "feeds" / "all.atom").exists()
    assert (site / "state" / "litwatch.db").stat().st_size > 0
    return site


def apply(case: Case, site: Path, base_url: str) -> None:
    text = case.path.read_text().replace("@BASE_URL@", base_url)
    if case.replaces == "litwatch.toml":
        (site / "litwatch.toml").write_text(text)
    elif case.replaces.startswith("queries/"):
        (site / case.replaces).write_text(text)
    elif case.replaces.startswith("templates/"):
        (site / "templates").mkdir(exist_ok=True)
        (site / case.replaces).write_text(text)
        with (site / "litwatch.toml").open("a") as fh:
            fh.write('[templates]\ndir = "templates"\n')
    else:
        raise AssertionError(f"{case.name}: unknown 'replaces: {case.replaces}'")


def try_case(case: Case, populated: Path, root: Path, base_url: str) -> list[str]:
    site = root / case.name
    shutil.copytree(populated, site)
    apply(case, site, base_url)
    problems = []
    for command in (["run", "--now", "2021-06-08T08:00:00Z"], ["check"]):
        before = snapshot(site)
        result = litwatch(site, *command, env=case.env)
        after = snapshot(site)
        what = f"{case.name}: litwatch {command[0]}"
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.returncode != 2:
            problems.append(
                f"{what}: exit code {result.returncode}, expected 2; stderr: {result.stderr[-500:]!r}"
            )
        if len(lines) != 1 or not lines[0].startswith("litwatch: error: "):
            problems.append(
                f"{what}: expected one 'litwatch: error:' line on stderr, got {lines[:5]!r}"
            )
        for fragment in case.expects:
            if fragment not in result.stderr:
                problems.append(f"{what}: message lacks {fragment!r}: {result.stderr.strip()!r}")
        if "Traceback" in result.stderr + result.stdout:
            problems.append(f"{what}: a traceback")
        if before != after:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            problems.append(f"{what}: changed {changed}")
    return problems


def test_the_corpus_says_what_is_wrong_and_what_to_expect() -> None:
    cases = load_cases()
    assert len(cases) >= 40
    for case in cases:
        assert case.wrong, f"{case.name}: no 'wrong:' comment"
        assert case.expects, f"{case.name}: no 'expect:' comment"


def test_every_bad_input_exits_2_with_one_line_and_changes_nothing(
    populated: Path,
    eutils: EutilsStandin,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cases = load_cases()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: try_case(c, populated, tmp_path, eutils.base_url), cases))
    problems = [p for found in results for p in found]
    report = tmp_path_factory.getbasetemp() / "fault-report" / "bad-input.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(
        json.dumps(
            {
                "bad_inputs_tried": len(cases),
                "commands_each": ["run", "check"],
                "cases": {c.name: c.wrong for c in cases},
                "problems": problems,
            },
            indent=2,
        )
    )
    print(
        f"\nbad inputs tried: {len(cases)} (litwatch run and litwatch check each); problems: {len(problems)}"
    )
    assert not problems, "\n".join(problems)


# --- mistakes only NCBI can see ------------------------------------------------------


def test_a_query_ncbi_rejects_marks_that_watch_broken_and_the_others_run(
    tmp_path: Path, eutils: EutilsStandin
) -> None:
    """[ps] is a real PubMed field tag (so litwatch's own check lets it through) that the
    stand-in's PubMed does not know: NCBI answers FieldNotFound. A phrase that matches
    nothing (PhraseNotFound) is only a warning."""
    site = tmp_path / "site"
    (site / "queries").mkdir(parents=True)
    watches = {
        **GOOD_WATCHES,
        "broken": "mitragynine[ps] OR kratom[tw]",
        "phrase": 'kratom[tiab] OR "zzyzx quux"[tiab]',
    }
    for name, term in watches.items():
        (site / "queries" / f"{name}.toml").write_text(
            f"title = {json.dumps(name.title() + ' watch')}\nterm = {json.dumps(term)}\n"
        )
    config = (CORPUS / "good.toml").read_text().replace("@BASE_URL@", eutils.base_url)
    config = config.replace(
        'watches = ["kratom", "neuropathic"]',
        'watches = ["broken", "kratom", "neuropathic", "phrase"]',
    )
    (site / "litwatch.toml").write_text(config + "send_empty = true\n")

    first = litwatch(site, "run", "--now", "2021-06-01T08:00:00Z")
    assert first.returncode == 1, first.stdout + first.stderr
    assert re.search(r"^  broken: FAILED: .*'ps'", first.stdout, re.M), first.stdout
    for name in ("kratom", "neuropathic", "phrase"):
        assert re.search(rf"^  {name}: seeded", first.stdout, re.M), first.stdout
    assert "PhraseNotFound" in first.stdout
    assert "watch broken: FAILED" in first.stderr  # the log says it too

    second = litwatch(site, "run", "--now", "2021-06-07T08:00:00Z")
    assert second.returncode == 1
    assert "kratom: found" in second.stdout and "neuropathic: found" in second.stdout

    status = litwatch(site, "status")
    assert status.returncode == 0
    assert re.search(r"broken: .*\n\s+FAILING since 2021-06-01.*'ps'", status.stdout), status.stdout
    by_name = {
        w["watch"]: w for w in json.loads(litwatch(site, "status", "--json").stdout)["watches"]
    }
    assert by_name["broken"]["failing_since"] and "'ps'" in by_name["broken"]["last_error"]
    for name in ("kratom", "neuropathic", "phrase"):
        assert by_name[name]["failing_since"] is None
        assert by_name[name]["watermark"].startswith("2021-06-07")

    import email
    import email.policy

    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((site / "outbox").glob("*.eml"))
    ]
    assert messages, "a digest with send_empty = true was due"
    text = messages[-1].get_body(("plain",)).get_content()
    html = messages[-1].get_body(("html",)).get_content()
    assert "Could not check Broken watch" in text and "'ps'" in text
    assert "Could not check Broken watch" in html
    assert "Could not check Kratom" not in text


@pytest.mark.parametrize("verbosity", ["-q", "-vv"])
def test_a_rejected_api_key_is_reported_and_never_echoed(tmp_path: Path, verbosity: str) -> None:
    """NCBI answers HTTP 400 to a key it does not know and echoes the key in the body."""
    with EutilsStandin(
        api_keys={"0123456789abcdef0123456789abcdef0123"}, today=STANDIN_TODAY
    ) as ncbi:
        site = tmp_path / "site"
        (site / "queries").mkdir(parents=True)
        (site / "queries" / "kratom.toml").write_text(
            f'title = "Kratom"\nterm = {json.dumps(GOOD_WATCHES["kratom"])}\n'
        )
        (site / "litwatch.toml").write_text(
            (CORPUS / "good.toml")
            .read_text()
            .replace("@BASE_URL@", ncbi.base_url)
            .replace('watches = ["kratom", "neuropathic"]', 'watches = ["kratom"]')
        )
        env = {"LITWATCH_ENTREZ_API_KEY": API_KEY}
        run = litwatch(site, "run", "--now", "2021-06-01T08:00:00Z", verbosity, env=env)
        check = litwatch(site, "check", "--online", verbosity, env=env)
        assert any(r.status == 400 for r in ncbi.requests)
    for result in (run, check):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "[entrez].api_key" in result.stdout + result.stderr
        assert API_KEY not in result.stdout + result.stderr
    for path in site.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path
