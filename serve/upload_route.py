"""Gradio's upload route, gated before a byte of the body is read.

Gradio receives an upload in the server process: it parses the multipart body, writes it to its cache and hashes
it, all before the app's own gate (``sample_tab.UploadGate``) sees the file. Sixteen clients sending bodies of 24 MB
nonstop therefore cost the server's event loop, and every other visitor's request, however the app then answers
them. This ASGI middleware answers at once, from the request's headers alone:

- a body that does not declare its length: 411 (browsers and HTTP clients declare it for a file);
- a body that declares more bytes than an upload may hold: 413;
- an upload while ``slots`` others are still being received (as many as the app lets wait for their turn, so that
  no body is received only to be refused as busy): 429, with ``Retry-After``;
- an upload beyond ``hourly_bytes`` of bodies admitted in the last hour: 429, with ``Retry-After``.

So the server receives at most ``slots`` upload bodies at a time, whatever the number of clients, and its disk holds
at most about ``hourly_bytes`` of them: Gradio keeps every upload, refused or not, in its cache, which the app prunes
of files older than an hour (``app.DELETE_CACHE``); without the budget, distinct 24 MB files sent nonstop would fill
the disk within minutes. The body cannot outgrow what it declared: the HTTP server frames it by that length. The
page's own uploads are one file at a time; a visitor who meets a busy server is told when to try again.
"""

from __future__ import annotations

import time
from collections import deque

from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse

from .sample_tab import MAX_WAITING

MB = 1_000_000
RECEIVING = MAX_WAITING  # upload bodies received at once: as many as the app lets wait for their turn
ENVELOPE = MB  # multipart headers and boundaries around the file, beyond the file's own byte limit
HOURLY_BYTES = 2_000 * MB  # about 80 uploads at the byte limit; the disk holds at most this much of them
WINDOW_S = 3600.0  # as long as Gradio's cache keeps an upload
RETRY_AFTER_S = 5
BUSY = (f"the app is receiving other uploads right now; try again in {RETRY_AFTER_S} seconds (for many samples, use "
        "`drugresponse predict` on your own machine).")
HOURLY = ("the app has received its share of uploads for this hour ({mb:,.0f} MB, which its disk keeps for an hour); "
          "try again in {minutes} minute(s), or run the app on your own machine (`make app`).")


class UploadRouteGate:
    """ASGI middleware in front of Gradio's ``POST …/upload``; every other request passes through untouched."""

    def __init__(self, app, max_bytes: int | None, slots: int = RECEIVING, hourly_bytes: int = HOURLY_BYTES):
        self.app, self.max_bytes, self.slots, self.hourly_bytes = app, max_bytes, slots, hourly_bytes
        # one event loop runs every request: no lock is needed between a check and its count
        self.receiving, self.admitted, self.admitted_bytes = 0, deque(), 0  # admitted: (monotonic time, bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/upload"):
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is None:
            return await _answer(scope, receive, send, 411, "an upload must declare its length (Content-Length).")
        if self.max_bytes is not None and declared > self.max_bytes + ENVELOPE:
            return await _answer(scope, receive, send, 413, f"the upload is {declared / MB:.1f} MB; at most "
                                 f"{self.max_bytes / MB:.0f} MB is accepted.")
        if self.receiving >= self.slots:
            return await _answer(scope, receive, send, 429, BUSY, {"Retry-After": str(RETRY_AFTER_S)})
        wait = self._wait_for_budget(declared)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return await _answer(scope, receive, send, 429, HOURLY.format(
                mb=self.hourly_bytes / MB, minutes=minutes), {"Retry-After": str(int(wait) + 1)})
        self.admitted.append((time.monotonic(), declared))
        self.admitted_bytes += declared
        self.receiving += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.receiving -= 1


    def _wait_for_budget(self, declared: int) -> float:
        """Seconds until ``declared`` more bytes fit in the last hour's budget (0: they fit now)."""
        now = time.monotonic()
        while self.admitted and self.admitted[0][0] <= now - WINDOW_S:
            self.admitted_bytes -= self.admitted.popleft()[1]
        if self.admitted_bytes + declared <= self.hourly_bytes:
            return 0.0
        freed = self.admitted_bytes + declared - self.hourly_bytes  # bytes that must leave the window first
        for admitted_at, size in self.admitted:
            freed -= size
            if freed <= 0:
                return admitted_at + WINDOW_S - now
        return WINDOW_S  # larger than the whole budget: never, within the byte limit it cannot happen


def middleware(max_bytes: int | None, slots: int = RECEIVING, hourly_bytes: int = HOURLY_BYTES) -> Middleware:
    """The gate as Gradio's ``launch(app_kwargs={"middleware": [...]})`` takes it."""
    return Middleware(UploadRouteGate, max_bytes=max_bytes, slots=slots, hourly_bytes=hourly_bytes)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(scope, receive, send, status: int, text: str, headers: dict | None = None) -> None:
    # "Connection: close": the body is never read, so the connection cannot carry another request
    await PlainTextResponse(text, status_code=status, headers={**(headers or {}), "Connection": "close"})(
        scope, receive, send)
