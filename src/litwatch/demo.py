"""`litwatch demo` and `litwatch init`: the whole pipeline offline, and a starter config."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil
from pathlib import Path
from typing import TextIO

from litwatch.config import load_settings, load_watches, shipped_dir
from litwatch.errors import ConfigError

DEMO_DAYS = (
    # Seeding run, then weekly runs on Mondays after the digest's 07:00 slot. The shipped
    # records are a real PubMed update file's, created up to 2021-06-07.
    "2021-04-01T08:00:00Z",
    *(
        f"2021-{d}T08:00:00Z"
        for d in (
            "04-05",
            "04-12",
            "04-19",
            "04-26",
            "05-03",
            "05-10",
            "05-17",
            "05-24",
            "05-31",
            "06-07",
        )
    ),
)

DEMO_CONFIG = """\
# Written by `litwatch demo`. [entrez].base_url pointed at the local PubMed stand-in the
# demo started; it lived only while the demo ran. For real use, run `litwatch init`.
[entrez]
email = "demo@litwatch.invalid"
base_url = "{base_url}"

[store]
url = "sqlite:///litwatch.db"

[feeds]
dir = "feeds"
base_url = "http://localhost:8000/feeds/"

[smtp]
sender = "litwatch@litwatch.invalid"
outbox_dir = "outbox"

[digests.weekly]
title = "Kratom literature (demo)"
watches = {watches}
recipients = ["editor@litwatch.invalid"]
schedule = "0 7 * * 1"
intro = "New papers for the article 'Kratom's Effects on Neuropathic Pain'."
"""

STARTER_CONFIG = """\
# litwatch configuration. Every scalar can also come from the environment as
# LITWATCH_<SECTION>_<KEY>, e.g. LITWATCH_ENTREZ_API_KEY, LITWATCH_SMTP_PASSWORD.

[entrez]
email = ""                      # required: your address, NCBI asks every client for one
# api_key = ""                  # better from LITWATCH_ENTREZ_API_KEY; 10 requests/s instead of 3

[store]
url = "sqlite:///litwatch.db"

[feeds]
dir = "feeds"
base_url = "https://example.org/feeds/"

# Without [smtp].host, digests are written to the outbox folder as .eml files.
[smtp]
# host = "smtp.example.org"
# security = "starttls"
# username = "litwatch"
sender = "litwatch@example.org"

# [digests.weekly]
# title = "Kratom literature"
# watches = ["kratom", "kratom-pain"]
# recipients = ["editor@example.org"]
# schedule = "0 7 * * 1"
# timezone = "UTC"
"""


def write_starter(folder: Path) -> list[Path]:
    """litwatch.toml and the shipped watches, never overwriting a file that exists."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    config = folder / "litwatch.toml"
    if not config.exists():
        config.write_text(STARTER_CONFIG, encoding="utf-8")
        written.append(config)
    shipped = shipped_dir("queries")
    for source in sorted(p for p in shipped.rglob("*") if p.is_file()):
        target = folder / "queries" / source.relative_to(shipped)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def run_demo(folder: Path, out: TextIO) -> int:
    from litwatch.article import load_articles_for, with_citing_watches
    from litwatch.export import render
    from litwatch.pipeline import run_once
    from litwatch.standin.eutils import EutilsStandin
    from litwatch.store.repository import Store

    folder = folder.resolve()
    if (folder / "litwatch.db").exists():
        raise ConfigError(
            "already holds a demo; remove it or pick another --dir", path=folder.resolve()
        )
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(shipped_dir("queries"), folder / "queries", dirs_exist_ok=True)
    names = [w.name for w in load_watches(folder / "queries")]
    print(f"litwatch demo in {folder.resolve()}", file=out)
    with EutilsStandin() as standin:
        config = folder / "litwatch.toml"
        config.write_text(
            DEMO_CONFIG.format(base_url=standin.base_url, watches=repr(names).replace("'", '"')),
            encoding="utf-8",
        )
        settings = load_settings(config, env={})  # the shell's LITWATCH_* must not leak in
        configured = load_watches(settings.queries_dir)
        articles = load_articles_for(configured, settings.queries_dir)
        watches = with_citing_watches(configured, articles)
        print(
            f"local E-utilities stand-in at {standin.base_url} serving real PubMed records",
            file=out,
        )
        failed = False
        for day in DEMO_DAYS:
            now = dt.datetime.fromisoformat(day)
            outcome = run_once(settings, watches, now, articles=list(articles.values()))
            failed |= not outcome.ok
            print(f"\n{now:%Y-%m-%d}:", file=out)
            for r in outcome.collected.watches if outcome.collected else ():
                what = (
                    f"FAILED: {r.error}"
                    if r.error
                    else f"seeded {r.found} known paper(s)"
                    if r.seeded
                    else f"found {r.found}, new {r.new}"
                )
                print(f"  {r.watch:<20} {what}", file=out)
            for d in outcome.delivered.results if outcome.delivered else ():
                print(
                    f"  digest {d.subscription} -> {d.recipient}: {d.papers} paper(s), {d.outcome}",
                    file=out,
                )
    with Store.open(settings.store_path) as store:
        papers = store.matched_papers()
    sections = {w.name: articles[w.article] for w in watches if w.article in articles}
    (folder / "papers.json").write_text(render(papers, "json", sections), encoding="utf-8")
    html = latest_digest_html(settings.resolve(settings.smtp.outbox_dir))
    if html:
        (folder / "digest.html").write_text(html, encoding="utf-8")
    print(f"\ncollected {len(papers)} new paper(s); files:", file=out)
    for label, path in (
        ("store", settings.store_path),
        ("export (JSON)", folder / "papers.json"),
        ("digest emails (.eml)", settings.resolve(settings.smtp.outbox_dir)),
        ("latest digest (HTML)", folder / "digest.html"),
        ("feeds (Atom, RSS)", settings.resolve(settings.feeds.dir)),
    ):
        print(f"  {label:<22} {path}", file=out)
    print(
        f"\nnext: litwatch status --config {config}\n"
        f"      litwatch export --config {config} --format ris",
        file=out,
    )
    return 1 if failed else 0


def latest_digest_html(outbox: Path) -> str | None:
    messages = sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    if not messages:
        return None
    with messages[-1].open("rb") as fh:
        message = email.message_from_binary_file(fh, policy=email.policy.default)
    part = message.get_body(("html",))
    return part.get_content() if part else None
