"""A litwatch installation in a temporary folder, pointed at local servers, driven through
the real CLI (in-process, or as a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from litwatch.cli import main

TEST_API_KEY = "0f3a9c2b7d4e6f8a1b2c3d4e5f6a7b8c9d0e"  # 10 requests/s at the stand-in

KRATOM = "kratom[tw] OR mitragyn*[tiab] OR hydroxymitragynine[tiab]"
KRATOM_PAIN = (
    "(kratom[tw] OR mitragyn*[tiab]) AND (pain[tiab] OR analgesi*[tiab]"
    ' OR "opioid receptor"[tiab] OR "opioid receptors"[tiab] OR nocicept*[tiab])'
)
NEUROPATHIC = '"neuropathic pain"[tiab] OR neuralgia[tiab]'


@dataclass
class Site:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "litwatch.toml"

    @property
    def store(self) -> Path:
        return self.root / "litwatch.db"

    def cli(self, *args: str) -> int:
        return main([args[0], "--config", str(self.config), *args[1:]])

    def run(self, now: str, *args: str) -> int:
        return self.cli("run", "--now", now, *args)

    def export(self, capsys, *args: str) -> list[dict]:
        capsys.readouterr()
        assert self.cli("export", "--format", "json", *args) == 0
        return json.loads(capsys.readouterr().out)

    def subprocess(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
        return run_cli(self.config, *args, env=env, timeout=timeout)


def run_cli(
    config: Path, command: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``litwatch COMMAND --config CONFIG ARGS`` in a new process, with no LITWATCH_* from
    this environment but ``env``'s."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LITWATCH_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "litwatch.cli", command, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def make_site(
    root: Path,
    base_url: str,
    watches: dict[str, str] | None = None,
    *,
    extra: str = "",
    api_key: str | None = TEST_API_KEY,
    watch_extra: str = "",
) -> Site:
    root.mkdir(parents=True, exist_ok=True)
    queries = root / "queries"
    queries.mkdir(exist_ok=True)
    for name, term in (watches or {"kratom": KRATOM}).items():
        (queries / f"{name}.toml").write_text(
            f"title = {json.dumps(name.title())}\nterm = {json.dumps(term)}\n{watch_extra}"
        )
    key_line = f'api_key = "{api_key}"\n' if api_key else ""
    (root / "litwatch.toml").write_text(
        "[entrez]\n"
        'email = "tests@litwatch.invalid"\n'
        f'base_url = "{base_url}"\n'
        f"{key_line}"
        "timeout = 3.0\n"
        "backoff = 0.01\n"
        "max_retries = 4\n"
        "[store]\n"
        'url = "sqlite:///litwatch.db"\n'
        f"{extra}"
    )
    return Site(root)
