"""Request ids, structured access logs (ids only) and a cap on request bodies, as plain ASGI middleware."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import problem_response

MAX_BODY_BYTES = 1_048_576
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A caller's request id is echoed and logged: one that could hold a personnummer (ten digits or more, with or
# without a separator) is replaced by a new one.
_NUMBER_LIKE = re.compile(r"\d{6}[-+]?\d{4}")
log = structlog.get_logger("samverkan.http")


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


class RequestContext:
    """Gives each request an id (the caller's X-Request-ID when it is safe, else a new UUID), binds it to the
    log context, refuses oversized bodies, and writes one access line: method, route, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            response = problem_response("payload-too-large", f"send at most {MAX_BODY_BYTES} bytes")
            response.headers["x-request-id"] = request_id
            await response(scope, receive, send)
            return

        received = {"bytes": 0, "refused": False}

        async def receive_capped(message_source: Receive = receive) -> Message:
            # Bodies sent without Content-Length (chunked) are counted as they arrive.
            message = await message_source()
            if message["type"] == "http.request":
                received["bytes"] += len(message.get("body", b""))
                if received["bytes"] > MAX_BODY_BYTES and not received["refused"]:
                    received["refused"] = True
                    too_large = problem_response("payload-too-large", f"send at most {MAX_BODY_BYTES} bytes")
                    too_large.headers["x-request-id"] = request_id
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
            await self.app(scope, receive_capped, send_with_id)
        finally:
            route = scope.get("route")
            participant = (scope.get("path_params") or {}).get("participant_id")
            log.info(
                "request",
                method=scope.get("method"),
                route=getattr(route, "path", None) or "unmatched",
                # Only an id: a personnummer typed into the path must not reach the log.
                participant_id=participant if _is_uuid(participant) else None,
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
