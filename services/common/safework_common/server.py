"""uvicorn's HTTP protocols with one change: the 400 the server answers by itself, to bytes that
are not HTTP (a DEL or another control byte in a header, a malformed request line), is in the
error envelope like every other error, instead of uvicorn's plain text. The parser refuses such
a request before any application code runs, so the app cannot answer it; the protocol's own
``send_400_response`` is the one place to.

Run a service with ``uvicorn --http safework_common.server:HttpToolsProtocol`` (``safework up``,
the Dockerfile and docker-compose.yml do); ``H11Protocol`` is the same for ``h11``."""

from __future__ import annotations

import re

from uvicorn.protocols.http import h11_impl, httptools_impl

from safework_common.errors import ErrorBody, ErrorDetail, ErrorEnvelope

# Bytes RFC 9110 allows nowhere in a field value (HTAB aside): C0 controls and DEL.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")


def offending_header(data: bytes) -> str | None:
    """The name of the first header in ``data`` (the start of a request) whose value holds a
    byte HTTP does not allow, when the name itself is a plain token."""
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.removesuffix(b"\r").partition(b":")
        if colon and _TOKEN.fullmatch(name) and _CONTROL.search(value):
            return name.decode("ascii")
    return None


def bad_request_body(data: bytes) -> bytes:
    name = offending_header(data)
    if name is None:
        body = ErrorBody(code="malformed_request", message="The request is not valid HTTP/1.1.")
    else:
        message = "A request header holds a byte HTTP does not allow (a control character such as DEL)."
        detail = ErrorDetail(
            field=f"header.{name}",
            code="invalid_header",
            message="Header values may hold visible ASCII characters, spaces and tabs only.",
        )
        body = ErrorBody(code="invalid_header", message=message, details=[detail])
    return ErrorEnvelope(error=body).model_dump_json().encode()


def _answer(data: bytes, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = bad_request_body(data)
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode("ascii"),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HttpToolsProtocol(httptools_impl.HttpToolsProtocol):
    _received = b""

    def data_received(self, data: bytes) -> None:
        self._received = data  # the chunk the parser may refuse: kept to name the bad header
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_answer(self._received, self.server_state.default_headers))
        self.transport.close()


class H11Protocol(h11_impl.H11Protocol):
    _received = b""

    def data_received(self, data: bytes) -> None:
        self._received = data
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_answer(self._received, self.server_state.default_headers))
        self.transport.close()
