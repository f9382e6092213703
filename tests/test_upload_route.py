"""Gradio's upload route behind the gate: refused from the headers alone when the body would be too large, when
others are being received, when the hour's budget is spent or when the length is not declared; anything else passes.
The last test sends the headers of a 1 GB upload to the running app over a raw socket, with no body at all."""

import asyncio
import os
import socket
import time

import pytest
from starlette.testclient import TestClient

from drugresponse.serve import upload_route
from drugresponse.serve.upload_route import MB, UploadRouteGate, _held_to


class Downstream:
    """Gradio's side of the gate: reads the whole body and says how many bytes it got."""

    def __init__(self):
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        size, more = 0, True
        while more and scope["type"] == "http":
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def gate():
    return UploadRouteGate(Downstream(), max_bytes=2 * MB, slots=2, hourly_bytes=3 * MB)


def post(gate, body=b"x" * 1000, path="/gradio_api/upload", **kwargs):
    return TestClient(gate).post(path, content=body, **kwargs)  # no lifespan: the gate has none to pass on


def test_an_upload_within_the_limits_reaches_gradio_whole(gate):
    answer = post(gate)
    assert answer.status_code == 200 and answer.text == "1000" and gate.app.calls == 1
    assert gate.receiving == 0 and gate.admitted_bytes == upload_route.MIN_FILE_CHARGE  # a small file costs its folder


def test_other_requests_pass_within_their_own_bound(gate):
    gate.receiving = gate.slots  # uploads are busy: other requests do not wait for them
    assert post(gate, b"y" * MB, path="/gradio_api/call/predict").status_code == 200
    assert TestClient(gate).get("/gradio_api/upload").status_code == 200
    assert gate.app.calls == 2 and gate.admitted_bytes == 0
    refused = post(gate, b"y" * (MB + 1), path="/gradio_api/component_server")  # reads every file it is sent
    assert refused.status_code == 413 and "at most 1 MB is accepted here" in refused.text and gate.app.calls == 2


def test_a_body_declaring_more_than_the_byte_limit_is_refused_unread(gate):
    answer = post(gate, b"z" * (3 * MB + 1))  # the limit plus the multipart envelope, plus one
    assert answer.status_code == 413 and "at most 2 MB" in answer.text and gate.app.calls == 0


def test_an_upload_while_others_are_received_is_refused_with_a_time_to_retry(gate):
    gate.receiving = gate.slots
    answer = post(gate)
    assert answer.status_code == 429 and "receiving other uploads" in answer.text
    assert answer.headers["retry-after"] == str(upload_route.RETRY_AFTER_S) and gate.app.calls == 0
    gate.receiving = gate.slots - 1
    assert post(gate).status_code == 200


def test_the_hours_budget_refuses_until_the_oldest_upload_leaves_the_window(gate, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(upload_route.time, "monotonic", lambda: clock[0])
    assert post(gate, b"a" * (2 * MB)).status_code == 200
    clock[0] += 600
    assert post(gate, b"b" * (MB // 2)).status_code == 200  # 2.5 MB of 3 MB admitted
    clock[0] += 600
    refused = post(gate, b"c" * MB)
    assert refused.status_code == 429 and "share of uploads for this hour" in refused.text
    # 1 MB fits once the first upload (2 MB, admitted 1,200 s ago) leaves the hour
    assert int(refused.headers["retry-after"]) == 3600 - 1200 + 1 and gate.app.calls == 2
    assert post(gate, b"d" * (MB // 2)).status_code == 200  # what still fits is admitted
    clock[0] += 2401
    assert post(gate, b"c" * MB).status_code == 200 and gate.admitted_bytes == 2 * MB


def test_a_body_without_a_declared_length_or_sent_in_chunks_is_refused(gate):
    answer = post(gate, iter([b"chunk"] * 3))  # a generator body goes chunked, with no Content-Length
    assert answer.status_code == 411 and "not in chunks" in answer.text and gate.app.calls == 0
    # h11 frames a body by its chunks whatever Content-Length says beside them: a declared length would bound nothing
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload",
             "headers": [(b"content-length", b"1"), (b"transfer-encoding", b"chunked")]}
    sent = []

    async def send(message):
        sent.append(message)
    asyncio.run(gate(scope, messages(b"x" * 100), send))
    assert sent[0]["status"] == 411 and gate.app.calls == 0


def messages(*bodies, then=None):
    """A client's side of ASGI: ``bodies`` as request messages, then ``then`` (a disconnect, or nothing ever)."""
    queue = [{"type": "http.request", "body": b, "more_body": True} for b in bodies]

    async def receive():
        if queue:
            return queue.pop(0)
        if then is None:
            await asyncio.sleep(3600)  # a client that stops sending and keeps the connection
        return then
    return receive


def test_a_body_is_cut_off_past_what_it_declared_or_its_deadline(monkeypatch):
    counted = _held_to(messages(b"x" * 10, b"y" * 10), declared=15)
    assert asyncio.run(counted())["type"] == "http.request"
    assert asyncio.run(counted())["type"] == "http.disconnect" and counted.received == 20
    assert counted.cut_off[0] == 413
    monkeypatch.setattr(upload_route, "GRACE_S", 0.2)  # then at least 50 KB/s on average
    trickle = _held_to(messages(b"x"), declared=100)
    started = time.perf_counter()
    assert asyncio.run(trickle())["type"] == "http.request"
    assert asyncio.run(trickle())["type"] == "http.disconnect" and time.perf_counter() - started < 5
    assert trickle.cut_off[0] == 408 and "slower than 50 KB/s" in trickle.cut_off[1]


class Stopped(Downstream):
    """Gradio's upload route: a body that stops half-way raises (Starlette's ClientDisconnect), no answer sent."""

    async def __call__(self, scope, receive, send):
        while (await receive())["type"] != "http.disconnect":
            pass
        raise RuntimeError("client disconnected")


def test_a_cut_off_body_is_answered_why_and_old_partial_files_are_removed(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    old, fresh = tmp_path / "tmpold", tmp_path / "tmpfresh"
    for path in (old, fresh):
        path.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * 3600,) * 2)  # a body that stopped two hours ago
    monkeypatch.setattr(upload_route, "GRACE_S", 0.2)
    gate = UploadRouteGate(Stopped(), max_bytes=2 * MB)
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload", "headers": [(b"content-length", b"1000")]}
    sent = []

    async def send(message):
        sent.append(message)
    asyncio.run(gate(scope, messages(b"x" * 10), send))  # ten bytes, then nothing
    assert sent[0]["status"] == 408 and b"slower than" in sent[1]["body"]
    assert gate.receiving == 0 and gate.admitted_bytes == upload_route.MIN_FILE_CHARGE  # the partial file it left
    assert not old.exists() and fresh.exists()


def test_an_upload_is_charged_what_arrived_so_hanging_up_costs_nothing(gate):
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload",
             "headers": [(b"content-length", str(2 * MB).encode())]}
    sent = []

    async def send(message):
        sent.append(message)
    asyncio.run(gate(scope, messages(b"x" * 1000, then={"type": "http.disconnect"}), send))
    assert gate.app.calls == 1 and gate.admitted_bytes == upload_route.MIN_FILE_CHARGE and gate.receiving == 0
    for _ in range(10):  # ten times the hour's budget declared and never sent: still admitted
        asyncio.run(gate(scope, messages(then={"type": "http.disconnect"}), send))
    assert gate.app.calls == 11 and gate.admitted_bytes == upload_route.MIN_FILE_CHARGE


def _multipart(parts: int, boundary: bytes = b"XyZ") -> bytes:
    body = b"".join(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="f%d.csv"\r\n\r\n'
                    % i + b"r-%d\r\n" % i for i in range(parts))
    return body + b"--" + boundary + b"--\r\n"


def test_an_upload_body_of_many_tiny_files_is_cut_off_and_each_file_is_charged_its_folder(gate):
    """Gradio's parser takes up to 1,000 files in one body and writes each to a folder of its own: a 2 MB body of
    tiny parts cost 64 times its size on disk. At most MAX_PARTS files pass, each charged at least MIN_FILE_CHARGE;
    a delimiter split between two messages of the body is counted too."""
    kind = {"content-type": "multipart/form-data; boundary=XyZ"}
    many = post(gate, _multipart(upload_route.MAX_PARTS + 1), headers=kind)
    assert many.status_code == 413 and f"at most {upload_route.MAX_PARTS} files" in many.text
    charged = gate.admitted_bytes
    assert charged >= (upload_route.MAX_PARTS + 1) * upload_route.MIN_FILE_CHARGE
    two = post(gate, _multipart(2), headers=kind)
    assert two.status_code == 200 and gate.admitted_bytes - charged == 2 * upload_route.MIN_FILE_CHARGE
    body = _multipart(upload_route.MAX_PARTS + 1)
    cut = [body[i:i + 7] for i in range(0, len(body), 7)]  # every delimiter straddles two messages somewhere
    counted = _held_to(messages(*cut, then={"type": "http.disconnect"}), declared=len(body), boundary=b"XyZ")
    while (message := asyncio.run(counted()))["type"] == "http.request" and message.get("more_body"):
        pass
    assert counted.cut_off is not None and counted.cut_off[0] == 413


def test_the_hours_budget_follows_the_byte_limit():
    assert UploadRouteGate(Downstream(), max_bytes=25 * MB).hourly_bytes == 2_000 * MB
    assert UploadRouteGate(Downstream(), max_bytes=100 * MB).hourly_bytes == 8_000 * MB


def test_the_running_app_refuses_a_gigabyte_upload_from_its_headers(running_app):
    host, port = running_app.removeprefix("http://").rstrip("/").split(":")
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
                           b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")
        answer = b""
        while chunk := connection.recv(4096):  # the answer says "Connection: close": read until the server closes
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413") and "at most 25 MB" in answer
    assert time.perf_counter() - started < 5  # answered without waiting for a body that never comes


@pytest.mark.parametrize("content_type, extra", [
    ("multipart/form-data; boundary=FAKE; boundary=XyZ", []),  # the route's parser keeps the last
    ("multipart/form-data; boundary = XyZ", []),  # spaces around '=', which the route's parser accepts
    ("multipart/form-data; boundary=XyZ", [(b"content-type", b"multipart/form-data; boundary=FAKE")]),
])
def test_the_parts_are_counted_with_the_boundary_the_route_reads(gate, content_type, extra):
    """A header written to be read one way by the gate and another by Gradio's parser let 10 files through (a
    reviewer's bypass): the gate reads the boundary as Starlette does, and a second Content-Type is refused."""
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload",
             "headers": [(b"content-length", str(len(_multipart(10))).encode()),
                         (b"content-type", content_type.encode()), *extra]}
    sent = []

    async def send(message):
        sent.append(message)
    asyncio.run(gate(scope, messages(_multipart(10), then={"type": "http.disconnect"}), send))
    assert sent[0]["status"] == (400 if extra else 413) and gate.app.calls == (0 if extra else 1)
