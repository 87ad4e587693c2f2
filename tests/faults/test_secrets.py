"""Secrets: the NCBI API key and the SMTP password never appear in any output, at any
verbosity, even when NCBI or the SMTP server echo them back; nor in the store, an export,
a feed or an email. Files that hold state or mail are private whatever the umask.

Real ``litwatch`` subprocesses, started with umask 000 so that nothing is private by luck.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from litwatch.standin.eutils import EutilsStandin
from tests.faults.harness import API_KEY, SMTP_PASSWORD, SMTP_USER
from tests.faults.test_bad_input import CORPUS
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.faults

WATCHES = {
    "kratom": "kratom[tw] OR mitragyn*[tiab]",
    "neuropathic": '"neuropathic pain"[tiab] OR neuralgia[tiab]',
}


def forms(secret: str) -> list[bytes]:
    """The secret as it could leak: raw, URL-encoded, base64 (SMTP AUTH PLAIN/LOGIN)."""
    texts = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"\0{SMTP_USER}\0{secret}".encode()).decode(),
    }
    return [t.encode() for t in texts]


SECRET_FORMS = [*forms(API_KEY), *forms(SMTP_PASSWORD)]


def leaks(data: bytes) -> list[str]:
    return [f.decode() for f in SECRET_FORMS if f in data]


class Site:
    def __init__(self, root: Path, ncbi: EutilsStandin, smtp: SmtpServer) -> None:
        self.root = root
        self.smtp = smtp
        (root / "queries").mkdir(parents=True)
        for name, term in WATCHES.items():
            (root / "queries" / f"{name}.toml").write_text(
                f"title = {json.dumps(name.title())}\nterm = {json.dumps(term)}\n"
            )
        config = (CORPUS / "good.toml").read_text().replace("@BASE_URL@", ncbi.base_url)
        config = config.replace(
            "[smtp]\n", f'[smtp]\nsecurity = "none"\ntimeout = 3.0\nusername = "{SMTP_USER}"\n'
        )
        (root / "litwatch.toml").write_text(config + "send_empty = true\n")
        self.outputs: list[tuple[str, str]] = []

    def env(self, smtp: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")}
        env["LITWATCH_ENTREZ_API_KEY"] = API_KEY
        env["LITWATCH_SMTP_PASSWORD"] = SMTP_PASSWORD
        env["LITWATCH_SMTP_HOST"] = self.smtp.host if smtp else ""
        env["LITWATCH_SMTP_PORT"] = str(self.smtp.port)
        return env

    def run(self, *args: str, smtp: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "litwatch.cli",
                args[0],
                "--config",
                str(self.root / "litwatch.toml"),
                *args[1:],
            ],
            capture_output=True,
            env=self.env(smtp),
            timeout=120,
            preexec_fn=lambda: os.umask(0),
        )
        self.outputs.append(
            (" ".join(args), (result.stdout + result.stderr).decode("utf-8", "replace"))
        )
        return result


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("secrets")
    with (
        EutilsStandin(today=dt.date(2021, 6, 8)) as ncbi,
        SmtpServer(users={SMTP_USER: SMTP_PASSWORD}, auth_require_tls=False) as smtp,
    ):
        site = Site(root, ncbi, smtp)
        site.run("run", "--now", "2021-05-20T08:00:00Z", "-vv")
        # NCBI echoes the key: in a 429 body, and (say) inside an error message
        ncbi.faults.push("esearch", "status", count=2, status=429, retry_after=0)
        ncbi.faults.push("esearch", "json_error", count=1, message=f"API key {API_KEY} is invalid")
        ncbi.faults.push(
            "esearch", "backend_error", count=5, message=f"Search Backend failed: key={API_KEY}"
        )
        # the SMTP server echoes the password once, then refuses the login for a day
        smtp.reply("MAIL", f"451 4.3.0 greylisted {SMTP_PASSWORD}", times=1)
        site.run("run", "--now", "2021-06-01T08:00:00Z", "-vv")
        smtp.refuse_auth = True
        site.run("run", "--now", "2021-06-02T08:00:00Z", "-vv")
        smtp.refuse_auth = False
        site.run("run", "--now", "2021-06-05T08:00:00Z", "-vv")
        site.run("run", "--now", "2021-06-07T08:00:00Z", "-vv", smtp=False)  # the outbox
        site.run("check", "--online", "-vv")
        site.run("status", "--json", "-vv")
        site.run("status", "-vv")
        for fmt in ("json", "csv", "ris"):
            site.run("export", "--format", fmt, "-o", str(root / f"export.{fmt}"), "-vv")
        site.run("preview", "daily", "--format", "html", "-vv")
        site.run("send-test", "daily", "--to", "me@example.org", "-vv")
        site.received = [m.data for m in smtp.messages] + [m.data for m in smtp.unacknowledged]
        site.auth = smtp.auth_attempts
    return site


def test_the_scenario_used_both_secrets(site: Site) -> None:
    assert any(ok for _, login, ok in site.auth), "never logged in: the password was not used"
    assert any(not ok for _, _, ok in site.auth), "the refused login did not happen"
    assert site.received, "no email reached the server"
    assert list((site.root / "outbox").glob("*.eml")), "no email in the outbox"
    logs = "\n".join(text for _, text in site.outputs)
    assert "429" in logs and "***" in logs  # NCBI's echo was there, and was redacted
    assert "refused the login" in logs


def test_no_secret_in_any_output(site: Site) -> None:
    for command, text in site.outputs:
        assert not leaks(text.encode()), (command, leaks(text.encode()))


def test_no_secret_in_any_file_or_email(site: Site) -> None:
    for path in sorted(site.root.rglob("*")):
        if path.is_file() and path.name != "litwatch.toml":
            assert not leaks(path.read_bytes()), (path, leaks(path.read_bytes()))
    for data in site.received:
        assert not leaks(data)


def test_state_and_mail_are_private_whatever_the_umask(site: Site) -> None:
    state = site.root / "state"
    private = [p for p in state.iterdir() if p.is_file()]
    assert {p.name for p in private} >= {"litwatch.db", "litwatch.db.lock"}
    private += list((site.root / "outbox").glob("*.eml"))
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path.name, oct(path.stat().st_mode))
    for folder in (state, site.root / "outbox"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, (
            folder.name,
            oct(folder.stat().st_mode),
        )
    feeds = site.root / "feeds"
    for path in (feeds, *feeds.iterdir()):  # feeds are public, but never writable by others
        assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0, path.name
