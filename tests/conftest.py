"""Shared fixtures."""

from __future__ import annotations

import datetime as dt
import gc
import socket
from collections.abc import Iterator

import pytest

from litwatch.standin.eutils import EutilsStandin

_LOOPBACK = ("127.", "::1", "localhost")


def pytest_sessionstart(session: pytest.Session) -> None:
    """No test reaches the network: a connection from this process to anything but the
    loopback fails at once (a parser that went for a DTD at NCBI would fail here). The
    litwatch processes tests start get the local servers' addresses in their config."""
    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, _loopback_only(getattr(socket.socket, name)))


def _loopback_only(connect):
    def guarded(sock: socket.socket, address, *args):
        host = address[0] if isinstance(address, tuple) else None  # a str: a Unix socket
        if host is not None and not str(host).startswith(_LOOPBACK):
            raise ConnectionRefusedError(f"tests may not reach the network: {address!r}")
        return connect(sock, address, *args)

    return guarded


def pytest_collection_finish(session: pytest.Session) -> None:
    """The stand-ins serve from threads of this process, and NCBI's rate limit is counted
    when a request reaches them. A full collection of the objects the collected suite holds
    stops those threads for ~50 ms (measured); requests that arrive meanwhile are counted
    together, beyond the client's 0.1 s margin, as no real server's pause would make them.
    Frozen, those objects are no longer scanned."""
    gc.freeze()


# The shipped slice comes from a PubMed update file of 2021-06-07; "today" for the stand-in's
# reldate and "last N days" is the day after.
STANDIN_TODAY = dt.date(2021, 6, 8)


@pytest.fixture
def eutils() -> Iterator[EutilsStandin]:
    """A started E-utilities stand-in on the shipped slice of real PubMed records.

    NCBI's rate limit is on (3 requests/s, 10 with an API key). `eutils.base_url` ends with
    a slash; `eutils.faults`, `eutils.requests`, `eutils.count(...)` for the rest. Starting
    one is cheap: the parsed records are cached per process.
    """
    with EutilsStandin(today=STANDIN_TODAY) as standin:
        yield standin
