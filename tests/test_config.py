"""Configuration: strict TOML, environment overrides, one clear line per mistake, exit 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from litwatch.cli import main
from litwatch.config import (
    NCBI_EUTILS_URL,
    load_settings,
    load_watches,
    parse_now,
    shipped_dir,
)
from litwatch.errors import ConfigError

GOOD_CONFIG = """
[entrez]
email = "editor@example.org"

[store]
url = "sqlite:///state/litwatch.db"
"""

GOOD_WATCH = """
title = "Kratom"
term = 'kratom[tiab] OR "Mitragyna"[mh]'
schedule = "0 6 * * *"
"""


def make_config(tmp_path: Path, config: str = GOOD_CONFIG, watch: str = GOOD_WATCH) -> Path:
    (tmp_path / "queries").mkdir(exist_ok=True)
    (tmp_path / "queries" / "kratom.toml").write_text(watch)
    path = tmp_path / "litwatch.toml"
    path.write_text(config)
    return path


def run_check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check", "--config", str(path)])
    return code, capsys.readouterr().err.strip()


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    settings = load_settings(make_config(tmp_path), env={})
    assert settings.entrez.base_url == NCBI_EUTILS_URL
    assert settings.entrez.rate_limit == 3.0
    assert settings.store_path == tmp_path.resolve() / "state" / "litwatch.db"
    assert settings.queries_dir == tmp_path.resolve() / "queries"
    assert settings.smtp.host is None
    assert settings.collect.overlap_days == 3


def test_environment_overrides_every_scalar(tmp_path: Path) -> None:
    env = {
        "LITWATCH_ENTREZ_BASE_URL": "http://127.0.0.1:9/eutils/",
        "LITWATCH_ENTREZ_API_KEY": "0123456789abcdef0123456789abcdef0123",
        "LITWATCH_ENTREZ_TIMEOUT": "2.5",
        "LITWATCH_STORE_URL": "sqlite:////tmp/other.db",
        "LITWATCH_SMTP_PORT": "2525",
        "LITWATCH_COLLECT_OVERLAP_DAYS": "5",
    }
    settings = load_settings(make_config(tmp_path), env=env)
    assert settings.entrez.base_url == "http://127.0.0.1:9/eutils/"
    assert settings.entrez.rate_limit == 10.0
    assert settings.entrez.timeout == 2.5
    assert settings.store_path == Path("/tmp/other.db")
    assert settings.smtp.port == 2525
    assert settings.collect.overlap_days == 5


def test_api_key_never_in_repr(tmp_path: Path) -> None:
    key = "0123456789abcdef0123456789abcdef0123"
    settings = load_settings(make_config(tmp_path), env={"LITWATCH_ENTREZ_API_KEY": key})
    assert key not in repr(settings)
    assert key not in repr(settings.entrez)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[entrez\nemail='a@b.org'", "not valid TOML"),
        (
            '[entrez]\nemail = "a@b.org"\nemial = "x"',
            "[entrez]: unknown key 'emial' (allowed: email, base_url",
        ),
        ('[entrez]\nemail = "a@b.org"\n[smpt]\nhost = "x"', "unknown section [smpt]"),
        (
            '[entrez]\nemail = "a@b.org"\ntimeout = "fast"',
            "[entrez].timeout: expected a number, got str",
        ),
        (
            '[entrez]\nemail = "a@b.org"\nbatch_size = true',
            "[entrez].batch_size: expected an integer, got a boolean",
        ),
        ("[entrez]\n", "[entrez].email: missing"),
        ('[entrez]\nemail = "nobody"', "[entrez].email: not an email address"),
        (
            '[entrez]\nemail = "a@b.org"\napi_key = "YOUR_API_KEY"',
            "[entrez].api_key: looks like a placeholder",
        ),
        (
            '[entrez]\nemail = "a@b.org"\napi_key = "xxxxxxxxxxxxxxxx"',
            "[entrez].api_key: looks like a placeholder",
        ),
        (
            '[entrez]\nemail = "a@b.org"\nbase_url = "eutils.local"',
            "[entrez].base_url: not an http(s) URL",
        ),
        (
            '[entrez]\nemail = "a@b.org"\n[smtp]\nsecurity = "tls"',
            "[smtp].security: unknown security mode 'tls' (allowed: none, starttls, ssl)",
        ),
        ('[entrez]\nemail = "a@b.org"\n[smtp]\nport = 70000', "[smtp].port: not a port number"),
        ('[entrez]\nemail = "a@b.org"\n[store]\nurl = "mysql://x"', "[store].url: not a store URL"),
        (
            '[entrez]\nemail = "a@b.org"\n[collect]\ndatetype = "pdat"',
            "[collect].datetype: unknown date type",
        ),
    ],
)
def test_bad_config_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, expected: str
) -> None:
    path = make_config(tmp_path, config=config)
    code, err = run_check(path, capsys)
    assert code == 2
    assert expected in err
    assert str(path) in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "litwatch.db").exists()
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("watch", "expected"),
    [
        ('title = "K"\nterm = ""', "term: the PubMed query is empty"),
        ('title = "K"\nterm = "   "', "term: the PubMed query is empty"),
        ('title = "K"\nterm = "(kratom OR mitragynine"', "term: 1 unclosed '('"),
        ('title = "K"\nterm = "kratom)"', "term: a ')' closes nothing"),
        ('title = "K"\nterm = \'"kratom\'', "term: unbalanced double quote"),
        ('title = "K"\nterm = "kratom[tiabx]"', "term: unknown PubMed field tag [tiabx]"),
        ('term = "kratom"', "title: missing"),
        ('title = "K"\nterm = "kratom"\nschedule = "every day"', "schedule: not a cron expression"),
        (
            'title = "K"\nterm = "kratom"\nfirst_run = "flood"',
            "first_run: unknown mode 'flood' (allowed: seed, collect)",
        ),
        (
            'title = "K"\nterm = "kratom"\nbacklog_since = "last year"',
            "backlog_since: expected a date",
        ),
        ('title = "K"\nterm = "kratom"\nterms = "x"', "unknown key 'terms' (allowed: title, term"),
        ('title = "K"\nterm = 42', "term: expected a string"),
    ],
)
def test_bad_watch_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], watch: str, expected: str
) -> None:
    path = make_config(tmp_path, watch=watch)
    code, err = run_check(path, capsys)
    assert code == 2
    assert expected in err
    assert "kratom.toml" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "state").exists()


def test_check_passes_on_good_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--config", str(make_config(tmp_path))])
    out = capsys.readouterr().out
    assert code == 0
    assert "watch kratom: Kratom" in out
    assert not (tmp_path / "state" / "litwatch.db").exists()  # check creates nothing


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_check(tmp_path / "nope.toml", capsys)
    assert code == 2
    assert "nope.toml: config file not found" in err


def test_config_from_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_config(tmp_path)
    monkeypatch.setenv("LITWATCH_CONFIG", str(path))
    monkeypatch.chdir(tmp_path.parent)
    assert main(["check"]) == 0


def test_unknown_watch_name(tmp_path: Path) -> None:
    make_config(tmp_path)
    with pytest.raises(ConfigError, match=r"no watch named 'kratum'.*known: kratom"):
        load_watches(tmp_path / "queries", ["kratum"])


def test_every_shipped_watch_loads() -> None:
    watches = load_watches(shipped_dir("queries"))
    assert {w.name for w in watches} >= {"kratom", "kratom-pain"}
    for watch in watches:
        assert watch.first_run == "seed"
        assert "\n" not in watch.term


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-06-07", dt.datetime(2021, 6, 7, tzinfo=dt.UTC)),
        ("2021-06-07T06:00:00Z", dt.datetime(2021, 6, 7, 6, tzinfo=dt.UTC)),
        ("2021-06-07T08:00:00+02:00", dt.datetime(2021, 6, 7, 6, tzinfo=dt.UTC)),
    ],
)
def test_parse_now(text: str, expected: dt.datetime) -> None:
    assert parse_now(text) == expected


def test_bad_now_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_config(tmp_path)
    assert main(["run", "--config", str(path), "--now", "yesterday"]) == 2
    assert "--now: not an ISO 8601 moment" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("command", ["run", "check", "status", "export", "demo", "init"])
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert f"litwatch {command}" in out
