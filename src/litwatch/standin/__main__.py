"""Run the E-utilities stand-in in the foreground: ``python -m litwatch.standin``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
from pathlib import Path

from .eutils import EutilsStandin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m litwatch.standin",
        description="A local stand-in for NCBI E-utilities serving real PubMed records.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    parser.add_argument(
        "--records",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="PubMed XML files, gzipped or not (default: the shipped slice)",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="do not answer 429 over 3 (10) requests/s"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only these API keys (repeatable; default: any key)",
    )
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, help="date reldate counts from (YYYY-MM-DD)"
    )
    args = parser.parse_args(argv)
    try:
        standin = EutilsStandin(
            args.records,
            rate_limit=not args.no_rate_limit,
            api_keys=args.api_keys,
            host=args.host,
            port=args.port,
            today=args.today,
        )
        standin.start()
    except (OSError, ValueError) as e:
        print(f"litwatch.standin: {e}", file=sys.stderr)
        return 2
    print(standin.base_url, flush=True)
    print(
        f"{len(standin.pmids)} records; control at {standin.control_url}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
