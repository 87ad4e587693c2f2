"""Tests never reach the network: connections from the test process go to the loopback only
(see ``tests/conftest.py``)."""

from __future__ import annotations

import socket

import pytest


def test_a_connection_beyond_the_loopback_is_refused() -> None:
    with pytest.raises(ConnectionRefusedError, match="may not reach the network"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)  # NCBI or anyone else


def test_the_loopback_is_allowed() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass
