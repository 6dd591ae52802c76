"""A local Zipkin v2 collector: what OCI APM's span upload endpoint takes, on 127.0.0.1.

`ZipkinCollector` accepts `POST /api/v2/spans` (and APM's
`/20200101/observations/public-span?dataFormat=zipkin&dataFormatVersion=2&dataKey=…`) with a
JSON list of Zipkin v2 spans, checks each has the fields Zipkin requires (`traceId` of 16 or
32 hex digits, `id` of 16, `name`, `timestamp` and `duration` in microseconds), answers 202
and keeps them: `spans`, `posts`. `refuse_next(status)` answers the next posts with an error.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from types import TracebackType

SPANS_PATH = "/api/v2/spans"
APM_PATH = "/20200101/observations/public-span"
_TRACE_ID = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")


class ZipkinCollector:
    """A Zipkin v2 JSON span collector over real HTTP, keeping what it receives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: list[list[dict[str, Any]]] = []
        self._refusals: deque[int] = deque()
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The collector URL for OCI_TRACE_COLLECTOR_URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{SPANS_PATH}"

    @property
    def posts(self) -> list[list[dict[str, Any]]]:
        """The spans of every accepted post, in order."""
        with self._lock:
            return [list(post) for post in self._posts]

    @property
    def spans(self) -> list[dict[str, Any]]:
        """Every accepted span."""
        return [span for post in self.posts for span in post]

    def refuse_next(self, *statuses: int) -> None:
        """Answer the next posts with these error statuses, one each."""
        with self._lock:
            self._refusals.extend(statuses)

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _take(self, spans: list[dict[str, Any]]) -> int:
        with self._lock:
            if self._refusals:
                return self._refusals.popleft()
            self._posts.append(spans)
            return HTTPStatus.ACCEPTED


def span_problem(span: object) -> str | None:  # noqa: PLR0911 - one answer per rule
    """Why a Zipkin v2 collector would drop `span`, or None."""
    if not isinstance(span, dict):
        return "a span is not a JSON object"
    if not _TRACE_ID.fullmatch(str(span.get("traceId"))):
        return f"traceId {span.get('traceId')!r} is not 16 or 32 lower-case hex digits"
    if not _SPAN_ID.fullmatch(str(span.get("id"))):
        return f"id {span.get('id')!r} is not 16 lower-case hex digits"
    parent = span.get("parentId")
    if parent is not None and not _SPAN_ID.fullmatch(str(parent)):
        return f"parentId {parent!r} is not 16 lower-case hex digits"
    for key in ("timestamp", "duration"):
        if not isinstance(span.get(key), int) or span[key] < 0:
            return f"{key} is not a whole number of microseconds"
    if not span.get("name"):
        return "the span has no name"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, collector: ZipkinCollector) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.collector = collector


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silence the per-request stderr line."""
        del format, args

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if urlsplit(self.path).path not in {SPANS_PATH, APM_PATH}:
            self._answer(HTTPStatus.NOT_FOUND, f"no collector at {self.path}")
            return
        try:
            spans = json.loads(body)
        except ValueError:
            self._answer(HTTPStatus.BAD_REQUEST, "the body is not JSON")
            return
        if not isinstance(spans, list):
            self._answer(HTTPStatus.BAD_REQUEST, "the body is not a list of spans")
            return
        for span in spans:
            problem = span_problem(span)
            if problem is not None:
                self._answer(HTTPStatus.BAD_REQUEST, problem)
                return
        status = self.server.collector._take(spans)
        self._answer(HTTPStatus(status), "")

    def _answer(self, status: HTTPStatus, message: str) -> None:
        data = message.encode()
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
