"""A lean HTTP/1.1 load generator for the latency benchmarks.

The server and the load generator share this machine's two cores, so every
microsecond the generator spends per request is taken from the server and shows up
as server latency. httpx costs about a millisecond of CPU per request; this client
sends pre-encoded requests on kept-alive connections and parses responses with
httptools (the parser uvicorn itself uses), for a few tens of microseconds.

Each ``Client`` carries one request at a time on a kept-alive connection, like one
client of the service, and reconnects when the server has closed it (uvicorn closes a
connection idle for 5 s): the reconnection counts in that request's latency.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httptools


def encode_request(
    method: str, path: str, *, host: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Response:
    status: int
    body: bytes


@dataclass
class _Pending:
    future: asyncio.Future[Response]
    chunks: list[bytes] = field(default_factory=list)


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._pending: _Pending | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    async def send(self, request: bytes) -> Response:
        """Send one encoded request and wait for its whole response."""
        if self._pending is not None:
            raise RuntimeError("one request at a time on a connection")
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the connection is closed")
        self._pending = _Pending(asyncio.get_running_loop().create_future())
        self._transport.write(request)
        return await self._pending.future

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing() or self._closed.done()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._pending is not None and not self._pending.future.done():
            self._pending.future.set_exception(exc or ConnectionError("connection closed"))
        if not self._closed.done():
            self._closed.set_result(None)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        if self._pending is not None:
            self._pending.chunks.append(body)

    def on_message_complete(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.future.done():
            status = self._parser.get_status_code()
            pending.future.set_result(Response(status, b"".join(pending.chunks)))


class Client:
    """One client: a connection, reopened when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._connection: Connection | None = None

    async def connect(self) -> None:
        self._connection = await Connection.open(self._host, self._port)

    async def send(self, request: bytes) -> Response:
        if self._connection is None or self._connection.closed:
            await self.connect()
        try:
            return await self._connection.send(request)  # type: ignore[union-attr]
        except ConnectionError:
            # Closed by the server as the request left: once more on a new connection.
            await self.connect()
            return await self._connection.send(request)  # type: ignore[union-attr]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
