"""Sockets for the in-process uvicorn servers of the tests."""

from __future__ import annotations

import socket


def loopback_listener() -> socket.socket:
    """A TCP socket bound to an ephemeral loopback port, for ``uvicorn.Server.serve(sockets=...)``.

    Made with ``IPPROTO_TCP`` and ``TCP_NODELAY``: asyncio turns Nagle's algorithm off only on a
    connection whose socket's protocol is ``IPPROTO_TCP``, and one accepted from ``socket.socket()``
    (protocol 0) kept it on, so an answer written in two sends waited for the client's delayed
    ACK: ~40 ms a request. Linux hands the listener's TCP_NODELAY to every accepted socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
