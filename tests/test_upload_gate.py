"""The upload gate: uploads take turns, and once ``max_waiting`` are waiting the next is refused at once, so a flood
of uploads cannot fill the app's queue, which every endpoint shares. Gradio's cache of uploads is pruned."""

import threading
import time
from types import SimpleNamespace

import pytest

from drugresponse.errors import UserError
from drugresponse.serve import app as app_module
from drugresponse.serve.sample_tab import BUSY, UploadGate
from drugresponse.serve.uploads import APP
from drugresponse.serve.uploads.access import upload_folder


def test_uploads_beyond_the_waiting_limit_are_refused_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    upload = tmp_path / "x.csv"
    upload.write_text("sample\n")
    gate = UploadGate(SimpleNamespace(schema=None, limits=APP), max_waiting=3)
    release, started = threading.Event(), threading.Event()

    def slow_read(path, mutations, tissue):
        started.set()
        release.wait(10)
        return "scored", "report"

    gate._cached = slow_read
    results = []
    threads = [threading.Thread(target=lambda: results.append(gate(str(upload)))) for _ in range(3)]
    for t in threads:
        t.start()
    assert started.wait(5)
    while gate.waiting < 3:  # the first is being read, two wait for their turn
        time.sleep(0.01)
    clock = time.monotonic()
    with pytest.raises(UserError) as refused:
        gate(str(upload))
    assert str(refused.value) == BUSY and time.monotonic() - clock < 0.5
    release.set()
    for t in threads:
        t.join(20)
    assert results == [("scored", "report")] * 3 and gate.waiting == 0
    assert upload_folder() == tmp_path.resolve()


def test_the_app_prunes_gradios_cache_of_uploads_and_downloads(assets_dir):
    app = app_module.create(assets_dir, provider="cpu")
    assert app.delete_cache == app_module.DELETE_CACHE == (600, 3600)
    assert app.upload_file_set in app.temp_file_sets  # uploads are among the files Gradio prunes


def test_work_derived_from_an_upload_is_done_inside_its_turn_and_paced(monkeypatch, tmp_path):
    """A request that repeats a cached upload (its report, an explanation, a download) had its work done outside the
    turn: 8 clients kept 0.86 cores busy. ``then`` runs while the turn is held, and its time counts towards the rest
    the next upload waits."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    upload = tmp_path / "x.csv"
    upload.write_text("sample\n")
    gate = UploadGate(SimpleNamespace(schema=None, limits=APP))
    gate._cached = lambda path, mutations, tissue: ("scored", "report")

    def derived(scored, report):
        time.sleep(0.2)
        return gate.turn.locked(), scored, report
    clock = time.monotonic()
    assert gate(str(upload), then=derived) == (True, "scored", "report")
    assert gate.rest_until - clock >= 0.2 * 3 - 0.05  # the next starts after this one's time and twice as long again
    with pytest.raises(UserError, match="the tissue must be one name"):
        gate(str(upload), tissue=["bone"])
