"""Request ids, structured access logs (ids only) and the request limits (target, headers, body), as plain ASGI
middleware. `samverkan serve` also stops reading a request head a little beyond the limits (adapters/http/server.py);
this middleware answers what passes the server but exceeds them."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import problem_response

MAX_BODY_BYTES = 1_048_576
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A caller's request id is echoed and logged: one that could hold a personnummer (ten digits or more, with or
# without a separator) is replaced by a new one.
_NUMBER_LIKE = re.compile(r"\d{6}[-+]?\d{4}")
log = structlog.get_logger("samverkan.http")


def _is_uuid(value: object) -> bool:
    if isinstance(value, uuid.UUID):  # a path parameter the route (or adapters/http/fast_view.py) parsed
        return True
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


def header_bytes(headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """(the largest header field, all of them together), each counted as `name: value` and its line end."""
    sizes = [len(name) + len(value) + 4 for name, value in headers]
    return max(sizes, default=0), sum(sizes)


def _refusal(kind: str, detail: str, request_id: str) -> Any:
    """A limit's problem answer; the connection is closed after it (what the client still sends is not read)."""
    response = problem_response(kind, detail)
    response.headers["x-request-id"] = request_id
    response.headers["connection"] = "close"
    return response


class RequestContext:
    """Gives each request an id (the caller's X-Request-ID when it is safe, else a new UUID), binds it to the
    log context, refuses too long targets (414), too large headers (431) and bodies (413), and writes one access
    line: method, route, status, duration."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_url_bytes: int = MAX_URL_BYTES,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) and not _NUMBER_LIKE.search(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        limit = self.max_body_bytes
        received = {"bytes": 0, "refused": False}

        async def receive_capped(message_source: Receive = receive) -> Message:
            # Bodies sent without Content-Length (chunked) are counted as they arrive.
            message = await message_source()
            if message["type"] == "http.request":
                received["bytes"] += len(message.get("body", b""))
                if received["bytes"] > limit and not received["refused"]:
                    received["refused"] = True
                    too_large = _refusal("payload-too-large", f"send at most {limit} bytes", request_id)
                    status["code"] = 413
                    await too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_with_id(message: Message) -> None:
            if received["refused"]:
                return  # the 413 has been sent; the app's own answer is dropped
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            refusal = self._refusal(scope, request_id)
            if refusal is not None:
                status["code"] = refusal.status_code
                await refusal(scope, receive, send)
                return
            await self.app(scope, receive_capped, send_with_id)
        finally:
            if log.is_enabled_for(logging.INFO):
                self._access_line(scope, status["code"], started)

    @staticmethod
    def _access_line(scope: Scope, status: int, started: float) -> None:
        """The request's one access line (info); never a path as typed, only the route and a participant UUID."""
        route = scope.get("route")
        participant = (scope.get("path_params") or {}).get("participant_id")
        log.info(
            "request",
            method=scope.get("method"),
            route=getattr(route, "path", None) or "unmatched",
            # Only an id: a personnummer typed into the path must not reach the log.
            participant_id=participant if _is_uuid(participant) else None,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _refusal(self, scope: Scope, request_id: str) -> Any:
        """414 for a request target (path and query) over the limit, 431 for a header field or all of them
        together over theirs, 413 for a body declared larger than its limit (before any of it is read); None when
        the request is within them all."""
        target = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string") or b"")
        if target > self.max_url_bytes:
            return _refusal("uri-too-long", f"the path and query may be at most {self.max_url_bytes} bytes", request_id)
        largest, together = header_bytes(list(scope.get("headers") or []))
        if largest > self.max_header_bytes or together > self.max_header_bytes:
            detail = f"send at most {self.max_header_bytes} bytes of header fields, each and all together"
            return _refusal("headers-too-large", detail, request_id)
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        # A body without Content-Length (chunked) is counted as it arrives (`receive_capped`).
        if length.isdigit() and (len(length) > 18 or int(length) > self.max_body_bytes):  # noqa: PLR2004 - no giant int()
            return _refusal("payload-too-large", f"send at most {self.max_body_bytes} bytes", request_id)
        return None
