"""Commands. Builds the concrete objects, prints for people, maps errors to exit codes.

Exit codes: 0 success (including "nothing new" and "another run holds the store"),
1 a watch or a delivery failed, 2 configuration or usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litwatch import __version__
from litwatch.config import (
    Settings,
    check_locations,
    check_subscriptions,
    find_config,
    load_settings,
    load_watches,
    parse_now,
)
from litwatch.errors import ConfigError, LitwatchError, StoreBusy

if TYPE_CHECKING:
    from litwatch.deliver.digests import DeliveryReport
    from litwatch.triage.matching import Article
from litwatch.records import RunReport, Subscription, Watch

log = logging.getLogger("litwatch")

EXAMPLES = {
    "run": "litwatch run                      # every watch, as of now (cron, CI)\n"
    "  litwatch run --watch kratom --now 2021-06-07T06:00:00Z",
    "check": "litwatch check                    # offline: config, watches, store\n"
    "  litwatch check --online           # also runs each query once on PubMed",
    "status": "litwatch status\n  litwatch status --json",
    "export": "litwatch export --format json > papers.json\n"
    "  litwatch export --format ris --watch kratom --since 2021-05-01 -o kratom.ris",
    "demo": "litwatch demo                     # writes ./litwatch-demo\n"
    "  litwatch demo --dir /tmp/lw-demo",
    "init": "litwatch init                     # litwatch.toml + queries/ in this folder",
    "daemon": "litwatch daemon                   # runs until SIGTERM; systemd-friendly",
    "preview": "litwatch preview weekly --format text\n"
    "  litwatch preview weekly --format html --now 2021-06-07 > next.html",
    "send-test": "litwatch send-test weekly --to me@example.org",
}


class RedactSecrets(logging.Filter):
    """Replaces secret values (API key, SMTP password) wherever they would be logged."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def configure_logging(verbosity: int) -> logging.Handler:
    level = {0: logging.INFO, 1: logging.DEBUG}.get(verbosity, logging.WARNING)
    if verbosity < 0:
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING if verbosity < 2 else logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return handler


def protect_secrets(handler: logging.Handler, settings: Settings) -> None:
    handler.addFilter(RedactSecrets([settings.entrez.api_key or "", settings.smtp.password or ""]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litwatch",
        description="Saved PubMed queries on a schedule: new papers, deduplicated, delivered.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  litwatch demo\n  litwatch check\n  litwatch run\n  litwatch export --format json",
    )
    parser.add_argument("--version", action="version", version=f"litwatch {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        help="litwatch.toml to use (default: $LITWATCH_CONFIG, else ./litwatch.toml)",
    )
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    common.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary,
            epilog="example:\n  " + EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    run = command("run", "Collect new papers for every watch (one-shot, for cron and CI).")
    run.add_argument(
        "--watch", action="append", metavar="NAME", help="only this watch (repeatable)"
    )
    run.add_argument(
        "--now",
        metavar="ISO8601",
        help="act as if it were this moment (default: $LITWATCH_NOW, else the clock)",
    )
    run.add_argument(
        "--no-deliver", action="store_true", help="collect only; send no digest, write no feed"
    )
    daemon = command("daemon", "Run the watches and digests on their schedules until stopped.")
    daemon.add_argument(
        "--no-catch-up", action="store_true", help="do not run everything once at start"
    )
    preview = command("preview", "Print the next digest without sending or recording anything.")
    preview.add_argument("digest", nargs="?", help="digest name (default: the first one)")
    preview.add_argument("--format", choices=("html", "text"), default="text")
    preview.add_argument("--now", metavar="ISO8601", help="as if it were this moment")
    send_test = command("send-test", "Send a sample digest to check the SMTP settings.")
    send_test.add_argument("digest", help="digest name")
    send_test.add_argument(
        "--to", metavar="ADDRESS", action="append", help="instead of its recipients"
    )
    check = command("check", "Validate configuration, watches and store without changing anything.")
    check.add_argument(
        "--online", action="store_true", help="also run each query once on E-utilities"
    )
    status = command("status", "Show the last runs, each watch's state and its errors.")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--runs", type=int, default=5, metavar="N", help="how many runs (default 5)"
    )
    export = command("export", "Write the collected papers as JSON, CSV or RIS.")
    export.add_argument("--format", choices=("json", "csv", "ris"), default="json")
    export.add_argument(
        "--watch", action="append", metavar="NAME", help="only this watch (repeatable)"
    )
    export.add_argument("--since", metavar="DATE", help="only papers first seen on or after DATE")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    demo = command("demo", "Run the whole pipeline offline against a local PubMed stand-in.")
    demo.add_argument(
        "--dir", default="litwatch-demo", help="folder to create (default ./litwatch-demo)"
    )
    init = command("init", "Write a starter litwatch.toml and the shipped watches into a folder.")
    init.add_argument("dir", nargs="?", default=".", help="folder (default: here)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = configure_logging(-1 if args.quiet else args.verbose)
    try:
        return COMMANDS[args.command](args, handler)
    except StoreBusy as exc:
        print(f"litwatch: {exc}; nothing to do", file=sys.stderr)
        return 0
    except LitwatchError as exc:
        print(f"litwatch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("litwatch: interrupted", file=sys.stderr)
        return 130
    finally:
        logging.getLogger().removeHandler(handler)


def load(args: argparse.Namespace, handler: logging.Handler) -> Settings:
    settings = load_settings(find_config(args.config))
    protect_secrets(handler, settings)
    return settings


def resolve_now(text: str | None) -> dt.datetime:
    text = text or os.environ.get("LITWATCH_NOW")
    return parse_now(text) if text else dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Setup:
    settings: Settings
    watches: list[Watch]  # the configured watches and, per article, its citing-papers watch
    articles: dict[str, Article]


def load_all(args: argparse.Namespace, handler: logging.Handler) -> Setup:
    from litwatch.article import load_articles_for, with_citing_watches

    settings = load(args, handler)
    watches = load_watches(settings.queries_dir)
    check_subscriptions(settings, watches)
    check_locations(settings)
    articles = load_articles_for(watches, settings.queries_dir)
    return Setup(settings, with_citing_watches(watches, articles), articles)


def cmd_run(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.pipeline import run_once

    setup = load_all(args, handler)
    settings = setup.settings
    targets = enabled(load_watches(settings.queries_dir, args.watch)) if args.watch else None
    now = resolve_now(args.now)
    outcome = run_once(
        settings,
        setup.watches,
        now,
        collect_from=targets,
        deliver=not args.no_deliver,
        articles=articles_of(setup, targets),
    )
    if outcome.collected:
        print_report(outcome.collected)
    if outcome.delivered:
        print_delivery(outcome.delivered)
    return 0 if outcome.ok else 1


def enabled(watches: list[Watch]) -> list[Watch]:
    return [w for w in watches if w.enabled]


def articles_of(setup: Setup, targets: Sequence[Watch] | None) -> list[Article]:
    """The articles whose references this run checks: those of the watches it collects."""
    chosen = setup.watches if targets is None else targets
    names = {w.article for w in chosen if w.article and w.enabled}
    return [a for name, a in setup.articles.items() if name in names]


def print_delivery(report: DeliveryReport) -> None:
    for r in report.results:
        again = " (re-sent after an unknown outcome)" if r.resent else ""
        print(
            f"  digest {r.subscription} -> {r.recipient}: {r.outcome}, {r.papers} paper(s){again}"
        )
        if r.outcome != "sent" and r.detail:
            print(f"    {r.detail}")
    for error in report.errors:
        print(f"  delivery FAILED: {error}")
    if report.feeds:
        print(f"  feeds: {len(report.feeds)} file(s) in {report.feeds[0].parent}")


def cmd_daemon(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.pipeline import run_once
    from litwatch.schedule import run_daemon

    setup = load_all(args, handler)

    def job(targets: Sequence[Watch]) -> None:
        try:
            outcome = run_once(
                setup.settings,
                setup.watches,
                dt.datetime.now(dt.UTC),
                collect_from=targets,
                articles=articles_of(setup, targets),
            )
        except StoreBusy as exc:
            log.warning("%s; skipped this time", exc)
        except LitwatchError as exc:
            log.error("run failed: %s", exc)
        else:
            if not outcome.ok:
                log.error("run finished with failures (see above)")

    run_daemon(setup.watches, setup.settings.digests, job, catch_up=not args.no_catch_up)
    return 0


def find_digest(settings: Settings, name: str | None) -> Subscription:
    if not settings.digests:
        raise ConfigError("no digests configured", path=settings.path, key="[digests]")
    if name is None:
        return settings.digests[0]
    for sub in settings.digests:
        if sub.name == name:
            return sub
    known = ", ".join(s.name for s in settings.digests)
    raise ConfigError(f"no digest named {name!r}", path=settings.path, hint=f"known: {known}")


def cmd_preview(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.digest import explain, preview_digest
    from litwatch.render import make_environment, render_digest
    from litwatch.store.repository import Store

    setup = load_all(args, handler)
    settings = setup.settings
    sub = find_digest(settings, args.digest)
    now = resolve_now(args.now)
    env = make_environment(
        settings.resolve(settings.templates.dir) if settings.templates.dir else None
    )
    if not settings.store_path.exists():
        raise ConfigError("no store yet: run `litwatch run` first", path=settings.store_path)
    with Store.open(settings.store_path) as store:
        digest = preview_digest(store, settings, sub, setup.watches, now, setup.articles)
    sys.stdout.write(render_digest(env, digest, now, args.format))
    if args.format == "text":
        sys.stdout.write(explain(digest))
    return 0


def cmd_send_test(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.deliver.digests import send_sample

    setup = load_all(args, handler)
    sub = find_digest(setup.settings, args.digest)
    results = send_sample(
        setup.settings,
        setup.watches,
        sub,
        dt.datetime.now(dt.UTC),
        recipients=args.to,
        articles=setup.articles,
    )
    for r in results:
        print(f"{r.recipient}: {r.outcome.name.lower()} {r.detail}".rstrip())
    return 0 if all(r.outcome.name == "ACCEPTED" for r in results) else 1


def print_report(report: RunReport) -> None:
    print(f"run {report.run_id} as of {report.now.isoformat(timespec='seconds')}")
    for r in report.watches:
        if r.error:
            print(f"  {r.watch}: FAILED: {r.error}")
        elif r.seeded:
            print(f"  {r.watch}: seeded {r.found} known paper(s); new papers from the next run on")
        else:
            print(f"  {r.watch}: found {r.found}, new {r.new}, pending {r.pending}")
        for warning in r.warnings:
            print(f"    warning: {warning}")


def cmd_check(args: argparse.Namespace, handler: logging.Handler) -> int:
    setup = load_all(args, handler)
    settings, watches = setup.settings, setup.watches
    from litwatch.render import check_templates, make_environment

    check_templates(
        make_environment(
            settings.resolve(settings.templates.dir) if settings.templates.dir else None
        )
    )
    print(f"config: {settings.path or '(defaults and environment)'}")
    print(f"store: {settings.store_path}")
    check_store_location(settings.store_path)
    for w in watches:
        state = "" if w.enabled else " (disabled)"
        print(f"watch {w.name}: {w.title}{state}\n  term: {w.term}\n  schedule: {w.schedule}")
    if not args.online:
        print("ok (offline checks; add --online to run each query once)")
        return 0
    return check_online(settings, watches)


def check_store_location(path: Path) -> None:
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise ConfigError("folder is not writable", path=folder, key="[store].url")
    if path.exists():
        from litwatch.store.repository import Store

        Store.open(path).close()


def check_online(settings: Settings, watches: list[Watch]) -> int:
    from litwatch.sources.pubmed import EntrezClient

    failed = 0
    today = dt.datetime.now(dt.UTC).date()
    with EntrezClient(settings.entrez) as client:
        for w in watches:
            try:
                result = client.count(w.term, watch=w.name)
            except LitwatchError as exc:
                failed += 1
                print(f"watch {w.name}: FAILED: {exc}")
                continue
            print(f"watch {w.name}: {result.count} paper(s) in PubMed up to {today}")
            print(f"  PubMed reads it as: {result.query_translation}")
            for warning in result.warnings:
                print(f"  warning: {warning}")
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.store.repository import Store

    settings = load(args, handler)
    if not settings.store_path.exists():
        print(f"no store yet at {settings.store_path}: run `litwatch run` first")
        return 0
    with Store.open(settings.store_path) as store:
        runs = store.recent_runs(args.runs)
        states = store.watch_states()
        counts = store.match_counts()
    watches = [
        {
            "watch": s.name,
            "watermark": s.watermark and s.watermark.isoformat(),
            "seeded_at": s.seeded_at and s.seeded_at.isoformat(),
            "papers": counts.get(s.name, (0, 0))[0],
            "seeded": counts.get(s.name, (0, 0))[1],
            "failing_since": s.failing_since and s.failing_since.isoformat(),
            "last_error": s.last_error,
        }
        for s in states
    ]
    if args.json:
        print(json.dumps({"watches": watches, "runs": runs}, indent=2))
        return 0
    print("watches:")
    for w in watches:
        line = f"  {w['watch']}: {w['papers']} new paper(s), {w['seeded']} seeded; checked up to {w['watermark']}"
        print(line)
        if w["failing_since"]:
            print(f"    FAILING since {w['failing_since']}: {w['last_error']}")
    print("runs:")
    for run in runs:
        print(f"  #{run['id']} as of {run['now']}: {run['status']}")
        for rw in run["watches"]:
            what = (
                f"FAILED: {rw['error']}"
                if rw["error"]
                else (
                    f"seeded {rw['found']}"
                    if rw["seeded"]
                    else f"found {rw['found']}, new {rw['new']}"
                )
            )
            print(f"    {rw['watch']}: {what}")
    return 0


def cmd_export(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.export import render
    from litwatch.store.repository import Store

    setup = load_all(args, handler)
    settings = setup.settings
    since = None
    if args.since:
        since = parse_now(args.since)
    if args.watch:
        known = {w.name for w in setup.watches}
        for name in args.watch:
            if name not in known:
                raise ConfigError(
                    f"no watch named {name!r}",
                    path=settings.queries_dir,
                    hint=f"known: {', '.join(sorted(known))}",
                )
    if not settings.store_path.exists():
        raise ConfigError("no store yet: run `litwatch run` first", path=settings.store_path)
    sections = {
        w.name: setup.articles[w.article].sections
        for w in setup.watches
        if w.article in setup.articles
    }
    with Store.open(settings.store_path) as store:
        text = render(list(store.matched_papers(args.watch, since)), args.format, sections)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.demo import run_demo

    if not args.verbose:  # the demo prints its own summary; its stand-in's warnings are noise
        logging.getLogger().setLevel(logging.ERROR)
    return run_demo(Path(args.dir), out=sys.stdout)


def cmd_init(args: argparse.Namespace, handler: logging.Handler) -> int:
    from litwatch.demo import write_starter

    folder = Path(args.dir)
    written = write_starter(folder)
    print("\n".join(f"wrote {p}" for p in written))
    print(
        textwrap.dedent(f"""
        next: set [entrez].email in {folder / "litwatch.toml"}, then
          litwatch check --config {folder / "litwatch.toml"}
          litwatch run --config {folder / "litwatch.toml"}""")
    )
    return 0


COMMANDS = {
    "run": cmd_run,
    "daemon": cmd_daemon,
    "preview": cmd_preview,
    "send-test": cmd_send_test,
    "check": cmd_check,
    "status": cmd_status,
    "export": cmd_export,
    "demo": cmd_demo,
    "init": cmd_init,
}

if __name__ == "__main__":
    sys.exit(main())
