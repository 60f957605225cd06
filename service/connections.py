"""Client connections: uvicorn's h11 protocol with a deadline for request headers and a bound on open connections.

uvicorn (0.54, h11) times a connection only while it is idle between requests (keep-alive), and the first byte
stops that timer: a client that sends half its headers, or trickles them, holds its socket for ever. Here a
connection that has no request being answered (it was just opened, or its last answer is sent) must deliver the
next request's headers within `header_timeout_s`, else it is closed.
A request that arrives while more than `max_open_connections` are open is answered 503 with Retry-After (the
project's JSON error body) and its connection closed; clients that never finish their headers are dropped by the
deadline, so the count falls back within `header_timeout_s`. Liveness (`LIVENESS_PATHS`) is answered all the same:
the process is alive whatever the load, and a flood of connections must not get a healthy pod restarted; overload
is what readiness reports (/readyz beyond the limit is a 503 too).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from antialiased.errors import overloaded
from service.errors import error_response
from service.routers.health import LIVENESS_PATH
from service.routers.oip import LIVENESS_PATH as OIP_LIVENESS_PATH
from service.settings import Settings

LIVENESS_PATHS = frozenset({LIVENESS_PATH, OIP_LIVENESS_PATH})


def protocol_for(settings: Settings) -> type[asyncio.Protocol]:
    """The HTTP protocol class for uvicorn's `http` setting, with the limits of `settings`."""

    class Protocol(GuardedH11Protocol):
        header_timeout_s = settings.header_timeout_s
        max_open_connections = settings.max_open_connections

    return Protocol


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a header deadline and an answer for connections beyond the limit (class attributes)."""

    header_timeout_s: float
    max_open_connections: int

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(config, server_state, app_state, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_open_connections:
            self.app = _liveness_only(self.app)  # this connection's requests; uvicorn reads `self.app` per request
        self._watch_idle()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_idle()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _idle(self) -> bool:
        """No request is being answered: the connection waits for headers (or for the rest of an answered body)."""
        return (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing()

    def _watch_idle(self) -> None:
        """Run the deadline while the connection is idle, from the moment it became so; stop it once a request's
        headers are in."""
        if self._idle():
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_late)
        else:
            self._stop_deadline()

    def _stop_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_late(self) -> None:
        self._header_deadline = None
        if self._idle():
            self.transport.close()


def _liveness_only(app: ASGIApp) -> ASGIApp:
    """`app` for liveness checks (their connection closed after the answer), 503 overloaded for anything else."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in LIVENESS_PATHS:
            await app(scope, receive, _closing(send))
            return
        error = overloaded("the service has as many client connections open as it may; retry shortly")
        response = error_response(error)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

    return guarded


def _closing(send: Send) -> Send:
    """`send` that asks the server to close the connection after the answer."""

    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    return closing
