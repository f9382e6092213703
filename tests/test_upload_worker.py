"""The upload worker: a worker that dies, runs out of memory or overruns is answered with a message and replaced, and
the next upload is read as usual."""

import os
import signal
import time
from dataclasses import replace

import pytest

from drugresponse.errors import UserError
from drugresponse.serve.upload_worker import UploadReader
from drugresponse.serve.uploads import APP

from .test_serve_uploads import wide_csv


def allocate(size: int) -> int:
    """Runs in the worker (imported there by name): ``size`` bytes at once."""
    return len(bytearray(size))


def dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.fixture(scope="module")
def upload(bundle, tmp_path_factory):
    path = tmp_path_factory.mktemp("uploads") / "one.csv"
    path.write_bytes(wide_csv(bundle, [0], modalities=("expression",)))
    return path, [bundle.cell_lines["cell_line"][0]]


@pytest.fixture(scope="module")
def reader(schema):
    reader = UploadReader(schema, replace(APP, worker_memory_mb=256))
    yield reader
    reader.close()


def test_a_worker_killed_between_uploads_is_replaced_before_the_next(reader, upload):
    path, samples = upload
    assert reader.read(path).samples == samples
    pid = reader.call(os.getpid)
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    deadline = time.monotonic() + 10
    while not dead(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.read(path).samples == samples
    assert reader.call(os.getpid) != pid


def test_a_worker_that_dies_while_reading_is_a_message_and_the_next_upload_is_read(reader, upload):
    path, samples = upload
    with pytest.raises(UserError, match="the reader stopped while reading this file"):
        reader.call(os._exit, 1)  # a file that crashes the native reader
    assert reader.read(path).samples == samples


def test_running_out_of_memory_in_the_worker_is_a_message(reader, upload):
    path, samples = upload
    assert reader.call(allocate, 64 * 2**20) == 64 * 2**20  # within the 256 MB this reader's worker may add
    with pytest.raises(UserError, match=r"needs more memory than an upload may use \(256 MB\)"):
        reader.call(allocate, 2**30)
    assert reader.read(path).samples == samples


def test_a_read_past_the_time_limit_is_stopped_and_the_next_upload_is_read(schema, upload):
    path, samples = upload
    reader = UploadReader(schema, replace(APP, read_timeout_s=5))
    try:
        reader.pool.submit(int).result()  # started: the limit is on reading, not on starting the worker
        started = time.monotonic()
        with pytest.raises(UserError, match="took longer than 5 s"):
            reader.call(time.sleep, 120)
        assert time.monotonic() - started < 30
        reader.pool.submit(int).result()
        assert reader.read(path).samples == samples
    finally:
        reader.close()


APP_PROCESS = """
import os, sys, time
from drugresponse.serve.runtime import load_runtime
from drugresponse.serve.upload_worker import UploadReader
from drugresponse.serve.uploads import ProfileSchema
runtime = load_runtime(sys.argv[1], "cpu")
reader = UploadReader(ProfileSchema.beside(runtime, sys.argv[1]))
print(reader.call(os.getpid), flush=True)
time.sleep(600)
"""


def test_the_worker_ends_when_the_app_is_stopped_by_a_signal(assets_dir):
    import subprocess
    import sys

    app = subprocess.Popen([sys.executable, "-c", APP_PROCESS, str(assets_dir / "model.onnx")],
                           stdout=subprocess.PIPE, text=True)
    try:
        worker = int(app.stdout.readline())
        assert not dead(worker)
        app.terminate()  # SIGTERM, as a Space or a service manager stops the app: no pool shutdown runs
        app.wait(30)
        deadline = time.monotonic() + 15
        while not dead(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert dead(worker)
    finally:
        app.kill()
