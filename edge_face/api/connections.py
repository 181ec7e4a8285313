"""The WSGI server's side of privacy and load: request and response bodies stay in memory, slow clients are cut
off, and the bodies held in memory at once are bounded.

Why: waitress spools a request body over `inbuf_overflow` (512 KiB) and a response over `outbuf_overflow` (1 MiB)
to temporary files, and Werkzeug spools multipart file parts over 500 KB: photos on disk. Keeping them in memory
makes memory the limit instead, so `max_buffered_bytes` bounds the announced bodies being received or served at
once (a request that would pass it is answered 503 before its body is read, and the connection closed).
Slow clients: waitress hands a request to a worker thread only once its whole body has arrived, so a slow upload
holds a connection, never a thread; `client_timeout` bounds how long one request may take to arrive (a slowloris
that trickles a byte at a time defeats an idle timeout alone), and `max_connections` leaves room for /readyz and
real clients beside a hundred slow ones.
"""
from __future__ import annotations

import io
import math
import threading
import time
from typing import IO

from flask import Request
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.utilities import Error, RequestEntityTooLarge

from edge_face.api.errors import INVALID_ARGUMENT, INVALID_CONTENT_LENGTH, ApiError
from edge_face.api.handlers import outside_flask
from edge_face.config import Config
from edge_face.runtime import Overloaded

# Waitress buffers a whole body before the app sees it; it refuses anything this far over the app's own limit
# unread (answered 413 / 2004 in the vendor's JSON by too_large below), so only slightly-too-large bodies reach
# the app.
WAITRESS_SLACK = 1024 * 1024


class InMemoryRequest(Request):
    """Flask's request whose multipart file parts stay in memory (Werkzeug's default spools parts over 500 KB to
    a temporary file); their size is bounded by MAX_CONTENT_LENGTH."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


class BodiesOverBudget(Overloaded):
    """The announced bodies being received at once are over max_buffered_bytes: refused before this one is read,
    answered like a full model queue (api/handlers.py DOMAIN_ERRORS: 5000 / FRS.0500, 503, Retry-After)."""

    def __init__(self) -> None:
        super().__init__(0, 1, "the service is receiving too many large requests; retry in 1 s")


class VendorError(Error):
    """A refusal by waitress itself, rendered in the vendor's JSON for the path asked for (waitress's own is plain
    text): `exc` is a domain exception of DOMAIN_ERRORS or an ApiError."""

    def __init__(self, exc: Exception, path: str, code: int, reason: str) -> None:
        super().__init__(str(exc))
        self.exc, self.path, self.code, self.reason = exc, path, code, reason

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        status, headers, body = outside_flask(self.exc, self.path)
        return f"{status} {self.reason}", headers, body


def over_budget(path: str) -> VendorError:
    return VendorError(BodiesOverBudget(), path, 503, "Service Unavailable")


def too_large(path: str, limit: int) -> VendorError:
    """2004 / FRS.0013 with 413, as the app answers a body over the limit that waitress let through."""
    return VendorError(ApiError(INVALID_CONTENT_LENGTH, f"request body is over {limit} bytes", 413), path, 413,
                       "Request Entity Too Large")


def malformed(path: str, error: Error) -> VendorError:
    """1200 (for FRS paths its invalid-parameter code) with waitress's own status (400 bad request line or headers,
    431 headers too large, 501 a transfer encoding it does not take) and its reason as the detail."""
    return VendorError(ApiError(INVALID_ARGUMENT, f"malformed HTTP request: {error.body}", error.code), path,
                       error.code, error.reason)


class BodyBudget:
    """Bytes of request bodies reserved at once, across connections (the asyncore thread reserves, worker threads
    release)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self.used -= size


class _BudgetParser(HTTPRequestParser):
    """Reserves the announced body (a chunked one: the largest allowed) once the headers are in; notes when the
    request began to arrive."""

    budget: BodyBudget

    def __init__(self, adj) -> None:
        super().__init__(adj)
        self.started = time.monotonic()
        self.reserved = 0
        self._checked = False

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.headers_finished and not self._checked:
            self._checked = True
            need = self.adj.max_request_body_size if self.chunked else self.content_length
            if need and not self.error:
                if self.budget.reserve(need):
                    self.reserved = need
                else:
                    self.error = over_budget(self.path or "/")
                    self.completed = True
        if isinstance(self.error, RequestEntityTooLarge):  # far over the limit: waitress refused it unread
            self.error = too_large(self.path or "/", self.adj.max_request_body_size - WAITRESS_SLACK)
        elif self.error is not None and not isinstance(self.error, VendorError):  # bad request line or headers
            self.error = malformed(self._asked_path(), self.error)
        return consumed

    def _asked_path(self) -> str:
        """The path of the request line, also when the headers after it could not be parsed (then waitress never
        set `path`; for headers too large it parsed a stand-in "GET /"): FRS paths get FRS's JSON."""
        line = getattr(self, "first_line", b"") or b""
        raw = getattr(self, "header_plus", b"") or b""
        if raw:
            line = raw.lstrip().split(b"\r\n", 1)[0]
        parts = line.split(b" ")
        if len(parts) >= 2 and parts[1].startswith(b"/"):
            return parts[1].split(b"?", 1)[0].decode("latin-1")
        return getattr(self, "path", None) or "/"

    def close(self) -> None:
        super().close()
        if self.reserved:
            self.budget.release(self.reserved)
            self.reserved = 0


class _GuardedChannel(HTTPChannel):
    """Closes a connection whose current request has been arriving for longer than `read_timeout` seconds."""

    read_timeout: float

    def readable(self) -> bool:
        partial = self.request
        if partial is not None and not partial.completed and time.monotonic() - partial.started > self.read_timeout:
            self.will_close = True  # writable() is now true and handle_write() closes the connection
            return False
        return super().readable()

    def handle_close(self) -> None:
        if self.request is not None:  # a body cut off mid-way gives its reservation back
            self.request.close()
            self.request = None
        super().handle_close()


def server_settings(config: Config) -> dict:
    """waitress.create_server's settings for bodies in memory, connection limits and slow clients."""
    max_body = config.limits.max_body_bytes + WAITRESS_SLACK
    return {
        "max_request_body_size": max_body,
        "inbuf_overflow": max_body + 1,  # a body up to the limit never overflows into a temporary file
        "outbuf_overflow": max(config.limits.max_body_bytes, 64 * 1024 * 1024),
        "connection_limit": config.max_connections,
        "channel_timeout": math.ceil(config.client_timeout),  # idle connections (waitress takes whole seconds)
        "cleanup_interval": max(1, math.ceil(config.client_timeout / 4)),
    }


def guard(server: BaseWSGIServer | MultiSocketServer, config: Config) -> None:
    """Give every listening server of `server` the budgeted parser and the deadline channel."""
    budget = BodyBudget(config.max_buffered_bytes)
    parser = type("BudgetParser", (_BudgetParser,), {"budget": budget})
    channel = type("GuardedChannel", (_GuardedChannel,), {"parser_class": parser,
                                                          "read_timeout": config.client_timeout})
    listeners = [server] if isinstance(server, BaseWSGIServer) else \
        [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
    for listener in listeners:
        listener.channel_class = channel
        listener.body_budget = budget
