"""Gradio's routes that take request bodies, gated from the headers and held to what the headers declared.

Gradio receives an upload in the server process: it parses the multipart body, writes it to its cache and hashes
it, all before the app's own gate (``sample_tab.UploadGate``) sees the file, and it keeps every upload, refused or
not, in its cache for an hour. Other routes parse bodies too (``component_server`` reads every file of a multipart
body into memory). This ASGI middleware answers every POST from its headers first:

- a body sent in chunks (``Transfer-Encoding``) instead of with a declared length: 411. The HTTP server frames such
  a body by its chunks, not by any ``Content-Length`` beside it, so a declared length would bound nothing;
- a body that declares no length: 411 (browsers and HTTP clients declare it, for a file and for JSON);
- a POST other than an upload declaring more than ``OTHER_BODY_BYTES``: 413 (the API's JSON is a few KB);
- an upload declaring more bytes than an upload may hold: 413;
- an upload while ``slots`` others are being received (as many as the app lets wait for their turn, so that no body
  is received only to be refused as busy): 429, with ``Retry-After``;
- an upload that would take the bytes received in the last hour past ``hourly_bytes``: 429, with ``Retry-After``.

An upload body may hold at most ``MAX_PARTS`` files (Gradio's parser takes up to 1,000, each written to a folder of its
own, so a 2 MB body of tiny parts cost 64 times its size on disk and thousands of inodes), and each file is charged to
the hour's budget at least ``MIN_FILE_CHARGE``, what a small file and its folder occupy: the budget bounds files and
folders, not only bytes.

Then, while a body is read, the bytes that actually arrive are counted: a body that sends more than it declared, or
that falls behind ``MIN_BYTES_PER_S`` after a grace of ``GRACE_S`` (a client trickling bytes to hold a slot), is cut
off and answered 413 or 408. An upload is charged to the hour's budget with what it declared while it is received
and with what arrived once it is done, so that a client that sends headers and hangs up costs nothing. Gradio leaves
the partial file of a body that stopped half-way in its upload folder and never deletes it: such files older than
``PARTIAL_AGE_S`` (no live body is that old) are removed, at most every ``PRUNE_EVERY_S``. The budget bounds
the disk: without it, distinct 24 MB files sent nonstop would fill Gradio's cache for an hour before the first was
pruned. It is ``HOURLY_UPLOADS`` uploads at the byte limit, so it follows ``--max-upload-mb``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from python_multipart.multipart import parse_options_header
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse

from .sample_tab import MAX_WAITING
from .uploads.access import upload_folder

MB = 1_000_000
RECEIVING = MAX_WAITING  # upload bodies received at once: as many as the app lets wait for their turn
ENVELOPE = MB  # multipart headers and boundaries around the file, beyond the file's own byte limit
OTHER_BODY_BYTES = MB  # any other POST: the API's JSON (a file is named by its path, never sent inline)
HOURLY_UPLOADS = 80  # uploads at the byte limit per hour: 2,000 MB at the public 25 MB
WINDOW_S = 3600.0  # as long as Gradio's cache keeps an upload
GRACE_S = 30.0  # then a body must have averaged MIN_BYTES_PER_S since it started: a 25 MB upload may take ~9 min
MIN_BYTES_PER_S = 50_000  # a slow mobile link; a client trickling a byte now and then to hold a slot is far below
PARTIAL_AGE_S, PRUNE_EVERY_S = 3600.0, 600.0
RETRY_AFTER_S = 5
MAX_PARTS = 4  # files in one upload body: the app's fields send one each
MIN_FILE_CHARGE = 64 * 1024  # bytes of the hour's budget each uploaded file costs at least (a folder and a file's blocks)
BUSY = (f"the app is receiving other uploads right now; try again in {RETRY_AFTER_S} seconds (for many samples, use "
        "`drugresponse predict` on your own machine).")
HOURLY = ("the app has received its share of uploads for this hour ({mb:,.0f} MB, which its disk keeps for an hour); "
          "try again in {minutes} minute(s), or run the app on your own machine (`make app`).")


class UploadRouteGate:
    """ASGI middleware in front of every POST; uploads (``…/upload``) are also counted and paced."""

    def __init__(self, app, max_bytes: int | None, slots: int = RECEIVING, hourly_bytes: int | None = None):
        self.app, self.max_bytes, self.slots = app, max_bytes, slots
        self.hourly_bytes = hourly_bytes if hourly_bytes is not None else HOURLY_UPLOADS * (max_bytes or 25 * MB)
        # one event loop runs every request: no lock is needed between a check and its count
        self.receiving, self.admitted, self.admitted_bytes = 0, deque(), 0  # admitted: [monotonic time, bytes]
        self.pruned_at = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", ()))
        if sum(name == b"content-type" for name, _ in scope.get("headers", ())) > 1:
            return await _answer(scope, receive, send, 400, "a request may declare one Content-Type.")
        if b"transfer-encoding" in headers:
            return await _answer(scope, receive, send, 411, "a request body must be sent with its length "
                                 "(Content-Length), not in chunks.")
        declared = _content_length(headers)
        if declared is None:
            return await _answer(scope, receive, send, 411, "a request body must declare its length (Content-Length).")
        if not scope["path"].endswith("/upload"):
            if declared > OTHER_BODY_BYTES:
                return await _answer(scope, receive, send, 413, f"the request body is {declared / MB:.1f} MB; at most "
                                     f"{OTHER_BODY_BYTES / MB:.0f} MB is accepted here (files go through the upload).")
            return await self.app(scope, _held_to(receive, declared), send)
        if self.max_bytes is not None and declared > self.max_bytes + ENVELOPE:
            return await _answer(scope, receive, send, 413, f"the upload is {declared / MB:.1f} MB; at most "
                                 f"{self.max_bytes / MB:.0f} MB is accepted.")
        if self.receiving >= self.slots:
            return await _answer(scope, receive, send, 429, BUSY, {"Retry-After": str(RETRY_AFTER_S)})
        wait = self._wait_for_budget(declared)
        if wait > 0:
            return await _answer(scope, receive, send, 429, HOURLY.format(
                mb=self.hourly_bytes / MB, minutes=max(1, round(wait / 60))), {"Retry-After": str(int(wait) + 1)})
        entry = [time.monotonic(), declared]  # charged what it declared until it is done
        self.admitted.append(entry)
        self.admitted_bytes += declared
        self.receiving += 1
        counted, started = _held_to(receive, declared, _boundary(headers)), []

        async def tracked(message):
            started.append(message["type"] == "http.response.start")
            await send(message)
        try:
            try:
                await self.app(scope, counted, tracked)
            except Exception:
                if counted.cut_off is None or any(started):
                    raise
            if counted.cut_off is not None and not any(started):
                # the route saw the body stop (and raised, or gave up without answering): answer why
                await _answer(scope, receive, send, *counted.cut_off)
        finally:
            self.receiving -= 1
            charged = max(counted.received, counted.parts * MIN_FILE_CHARGE)  # then what arrived, files at least
            self.admitted_bytes += charged - entry[1]
            entry[1] = charged
            self._prune_partial_files()

    def _prune_partial_files(self) -> None:
        """Delete the partial files of bodies that stopped half-way: Gradio writes a body to ``tmp*`` in its upload
        folder and removes it only when the multipart parse fails, not when the body stops."""
        now = time.time()
        if now - self.pruned_at < PRUNE_EVERY_S:
            return
        self.pruned_at = now
        for path in upload_folder().glob("tmp*"):
            try:
                if path.is_file() and now - path.stat().st_mtime > PARTIAL_AGE_S:
                    path.unlink()
            except OSError:  # gone meanwhile, or not ours to delete
                pass

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
        return WINDOW_S  # larger than the whole budget: refused for the hour


class _held_to:
    """``receive`` for the route: counts the body's bytes and reports a disconnect once more than ``declared`` have
    arrived, the body falls behind ``MIN_BYTES_PER_S`` after ``GRACE_S``, or a multipart body (``boundary``) starts
    more than ``MAX_PARTS`` parts; ``cut_off`` says which (status, text)."""

    def __init__(self, receive, declared: int, boundary: bytes | None = None):
        self.receive, self.declared, self.received = receive, declared, 0
        self.started, self.cut_off = time.monotonic(), None
        self.marker = b"--" + boundary if boundary else None
        self.delimiters, self.tail = 0, b""  # the closing delimiter counts too: parts = delimiters - 1

    @property
    def parts(self) -> int:
        return max(self.delimiters - 1, 1 if self.received else 0)

    async def __call__(self):
        # the next bytes must arrive before the average rate since the start falls below the minimum
        due = self.started + GRACE_S + self.received / MIN_BYTES_PER_S
        try:
            message = await asyncio.wait_for(self.receive(), max(0.0, due - time.monotonic()))
        except asyncio.TimeoutError:
            self.cut_off = (408, f"the upload arrived slower than {MIN_BYTES_PER_S / 1000:.0f} KB/s and was stopped; "
                                 "try again on a faster connection.")
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            body = message.get("body", b"")
            self.received += len(body)
            if self.received > self.declared:
                self.cut_off = (413, "the request body was longer than its Content-Length.")
                return {"type": "http.disconnect"}
            if self.marker:  # a delimiter cut between two messages is found in the tail kept from the last one
                seen = self.tail + body
                self.delimiters += seen.count(self.marker)
                self.tail = seen[-(len(self.marker) - 1):]
                if self.delimiters > MAX_PARTS + 1:
                    self.cut_off = (413, f"an upload may hold at most {MAX_PARTS} files; send each file on its own.")
                    return {"type": "http.disconnect"}
        return message


def middleware(max_bytes: int | None, slots: int = RECEIVING, hourly_bytes: int | None = None) -> Middleware:
    """The gate as Gradio's ``launch(app_kwargs={"middleware": [...]})`` takes it."""
    return Middleware(UploadRouteGate, max_bytes=max_bytes, slots=slots, hourly_bytes=hourly_bytes)


def _boundary(headers: dict) -> bytes | None:
    """A multipart body's boundary, read from its Content-Type by the parser Starlette itself uses (so that a header
    written to be read one way by the gate and another by the route, ``boundary=A; boundary=B`` or spaces around
    ``=``, counts the parts the route will see); None for any other body."""
    kind, options = parse_options_header(headers.get(b"content-type", b""))
    return options.get(b"boundary") or None if kind.lower().startswith(b"multipart/") else None


def _content_length(headers: dict) -> int | None:
    try:
        return int(headers[b"content-length"])
    except (KeyError, ValueError):
        return None


async def _answer(scope, receive, send, status: int, text: str, headers: dict | None = None) -> None:
    # "Connection: close": the body is never read, so the connection cannot carry another request
    await PlainTextResponse(text, status_code=status, headers={**(headers or {}), "Connection": "close"})(
        scope, receive, send)
