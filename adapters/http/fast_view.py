"""The agency view's own ASGI handler: `GET /api/v1/participants/{participant_id}/view`, the hottest read, without
FastAPI's routing and dependency solving.

It answers only the plain form of the request: a canonical (lower-case, hyphenated) UUID in the path, no query
string, a bearer token the verifier accepts and a purpose header that is absent or in the list. Everything else
(a query, an upper-case id, a missing or bad token, a bad purpose) goes on to the FastAPI route unchanged, which
answers it exactly as before: nothing is logged before that hand-over, so nothing is logged twice. The read itself
is the same call to the read door as the route's (`ReadService.view`: the role check, the gate and the disclosure
log entry, committed before it returns), and its refusals go through the application's own exception handlers,
so paths, statuses, bodies and headers are those of the route (tests/e2e/test_fast_view.py compares them).

Sits inside `RequestContext` (request id, limits, access line) and is registered in adapters/http/app.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import structlog
from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.access import Caller
from adapters.auth import Unauthenticated, User
from adapters.http.schemas import ViewPublic
from coordination import InvalidCommand

VIEW_TEMPLATE = "/api/v1/participants/{participant_id}/view"
_VIEW_PATH = re.compile(r"/api/v1/participants/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/view")
# As many threads as the thread pool FastAPI's sync routes run on (anyio's default limiter): the reads block on
# the database, and the disclosure log's group commit gathers the entries of the reads waiting together.
THREADS = 40
T = TypeVar("T")


class FastView:
    """Answers plain agency-view requests itself; passes every other request on to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
            or scope.get("root_path")
            or (match := _VIEW_PATH.fullmatch(scope["path"])) is None
        ):
            await self.app(scope, receive, send)
            return
        application = scope["app"]
        context = application.state.context
        caller = self._caller(scope, context)
        if caller is None:  # the route answers (401, 422) exactly as it always has
            await self.app(scope, receive, send)
            return
        participant_id = UUID(match.group(1))
        scope["route"] = self._view_route(application)
        scope["path_params"] = {"participant_id": participant_id}
        try:
            content = await WORKERS.run(_view, context, caller, participant_id)
        except Exception as error:
            handler = _handler(application, error)
            if handler is None:
                raise  # ServerErrorMiddleware's 500, as for the route
            response = await handler(Request(scope, receive), error)
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(content)).encode()), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": content})

    def _caller(self, scope: Scope, context: Any) -> Caller | None:
        """The caller as the route's dependencies make it (adapters/http/context.py), or None when they would
        refuse: then the route itself answers."""
        authorization = purpose = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"x-samverkan-purpose" and purpose is None:
                purpose = value.decode("latin-1")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            user: User = context.verifier.verify(token.strip())
            caller = Caller.of(user, str(scope.setdefault("state", {}).get("request_id", "-")), purpose)
        except (Unauthenticated, InvalidCommand):
            return None
        scope["state"]["user"] = user
        structlog.contextvars.bind_contextvars(user_id=user.sub, agency=user.agency.value, role=user.role.value)
        return caller

    def _view_route(self, application: Any) -> Any:
        """The FastAPI route this handler stands in for (the access line and problem answers name it)."""
        if self._route is None:
            for context in iter_route_contexts(application.routes):
                if context.path == VIEW_TEMPLATE and "GET" in (context.methods or ()):
                    self._route = context.original_route
                    break
            else:
                raise LookupError(f"no route GET {VIEW_TEMPLATE}")
        return self._route


class Workers:
    """Threads for the blocking reads, handed work through one queue and answering on the event loop: what
    `run_in_executor` does, without its two futures chained across threads per call. A thread is started when a
    read finds none idle, up to `count`; one set serves the whole process (every app and event loop in it)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._started = 0
        self._free = 0  # threads idle less reads queued: below zero, a read waits unless a thread is started
        self._lock = threading.Lock()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on a worker thread, in a copy of the caller's context (its log context goes along)."""
        with self._lock:
            self._free -= 1
            grow = self._free < 0 and self._started < self.count
            if grow:
                self._started += 1
                self._free += 1
        if grow:
            threading.Thread(target=self._work, name=f"view-{self._started}", daemon=True).start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, answer, contextvars.copy_context(), function, args))
        return await answer

    def _work(self) -> None:
        while True:
            loop, answer, context, function, args = self._queue.get()
            result, error = None, None
            try:
                result = context.run(function, *args)
            except Exception as failure:  # handed to the awaiting request, as run_in_executor does
                error = failure
            with self._lock:
                self._free += 1  # before answering: the request's next read finds this thread free
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server has stopped
                loop.call_soon_threadsafe(_settle, answer, result, error)


WORKERS = Workers(THREADS)


def _view(context: Any, caller: Caller, participant_id: UUID) -> bytes:
    """The read (logged before this returns) and its JSON, as the route makes it."""
    body = context.reads.view(caller, participant_id, None)
    return ViewPublic.model_validate(body).model_dump_json().encode()


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.cancelled():  # the client went away
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


def _handler(application: Any, error: Exception) -> Any:
    """The application's handler for this error, as Starlette's ExceptionMiddleware finds it (the catch-all
    `Exception` handler is ServerErrorMiddleware's, so it is not looked up here)."""
    handlers = application.exception_handlers
    for kind in type(error).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None
