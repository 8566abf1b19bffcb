"""The HTTP server's own cap on a request head, so that nothing reads a huge request line or header whole.

uvicorn's httptools parser has no limit of its own: a 100 MB header was read whole before the application saw
anything (and an ASGI middleware sees headers only once the server has parsed all of them). `samverkan serve`
therefore runs uvicorn with `LimitedHttpToolsProtocol`, which counts the bytes of each request head as they
arrive and, a little beyond the documented limits (SAMVERKAN_MAX_URL_BYTES, SAMVERKAN_MAX_HEADER_BYTES), answers
414 or 431 problem+json itself and closes the connection, without reading the rest. What passes this cap but
exceeds the documented limits is answered by the ASGI middleware (adapters/http/middleware.py) with the same
problems, so a client sees one behaviour (docs/api.md, "Limits")."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.http.problems import problem_response

# How far above the documented limits the server stops reading: room for the method and the HTTP version on the
# request line, and for the request line itself in the head, so that the middleware answers everything between.
SLACK = 1024
# After refusing, the server keeps reading (and dropping) what the client still sends for this long before it
# closes, so that the answer is not lost to a TCP reset while the client is still writing.
LINGER_S = 1.0
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
log = structlog.get_logger("samverkan.http")


@dataclass(frozen=True)
class HeadLimits:
    """Where the server stops reading a request head: the request line, and the whole head (line and headers)."""

    line: int
    head: int

    @classmethod
    def above(cls, max_url_bytes: int, max_header_bytes: int) -> HeadLimits:
        return cls(line=max_url_bytes + SLACK, head=max_url_bytes + max_header_bytes + 2 * SLACK)


@cache
def configured_limits() -> HeadLimits:
    """The limits of this process's settings (the environment `samverkan serve` was started with)."""
    from adapters.settings import Settings  # at first use, in the server's worker process

    settings = Settings()
    return HeadLimits.above(settings.max_url_bytes, settings.max_header_bytes)


def uvicorn_options() -> dict[str, Any]:
    """What `samverkan serve` passes to uvicorn.run for the head limits."""
    return {"http": f"{__name__}:LimitedHttpToolsProtocol"}


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on each request head, counted before the parser sees the bytes.

    The count restarts when the parser completes a request; a second request pipelined in the same read as the
    end of the first is counted from the next read on, so the cap holds within one read's size (at most 256 KiB).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = configured_limits()
        self._refused = False
        self._new_head()

    def _new_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0  # of the current head, before this read
        self._line_ended = False
        self._tail = b""  # the last bytes read, for a line end split across reads

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the answer is sent: what the client still sends is dropped
        if self._in_head:
            kind = self._measure(data)
            if kind is not None:
                self._refuse(kind)
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._new_head()

    def _measure(self, data: bytes) -> str | None:
        """The problem kind when this read takes the head past its cap, else None (and the count goes on)."""
        window = self._tail + data
        start = self._head_bytes - len(self._tail)  # where `window` begins within the head
        if start + len(window) <= self.limits.line:  # the usual small head: within both caps (line < head)
            self._line_ended = self._line_ended or b"\n" in window
            self._head_bytes = start + len(window)
            self._tail = window[-3:]
            return None
        if not self._line_ended:
            end = window.find(b"\n")
            self._line_ended = end >= 0
            if (start + end if end >= 0 else start + len(window)) > self.limits.line:
                return "uri-too-long"
        ends = [found + len(mark) for mark in _HEAD_ENDS if (found := window.find(mark)) >= 0]
        if (start + min(ends) if ends else start + len(window)) > self.limits.head:
            return "headers-too-large"
        self._head_bytes = start + len(window)
        self._tail = window[-3:]
        return None

    def _refuse(self, kind: str) -> None:
        """Answers `kind` as problem+json, half-closes, and closes for good after LINGER_S."""
        self._refused = True
        if kind == "uri-too-long":
            detail = f"the path and query may be at most {self.limits.line - SLACK} bytes"
        else:
            detail = f"send at most {self.limits.head - self.limits.line - SLACK} bytes of header fields"
        response = problem_response(kind, detail)
        log.info("request", route="unmatched", status=response.status_code, refused_by="server")
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an earlier request is still being answered: no answer in the middle of it
            return
        lines = [f"HTTP/1.1 {response.status_code} {HTTPStatus(response.status_code).phrase}".encode()]
        lines += [name + b": " + value for name, value in response.raw_headers]
        lines += [b"connection: close", b"", b""]
        self.transport.write(b"\r\n".join(lines) + response.body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
