"""The browser page (examples/web): onnxruntime-web in Debian's Chromium gives Python's numbers, no server computing.

Needs Debian's chromium and `npm ci --ignore-scripts` in examples/web (the README's test command runs it).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from drugresponse.export.quantize import INT8_TOLERANCE

from .test_serve_app import free_port
from .test_serve_browser import CHROMIUM

WEB = Path(__file__).resolve().parent.parent / "examples" / "web"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not (WEB / "node_modules" / "onnxruntime-web").is_dir(),
                       reason="needs `npm ci --ignore-scripts` in examples/web"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


def serve_site(assets_dir, model, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, str(WEB / "build_site.py"), "--assets", str(assets_dir), "--model", model,
                    "--out", str(site)], check=True, timeout=300)
    return static_server(site)


def static_server(site: Path) -> tuple[subprocess.Popen, str]:
    """``python -m http.server`` on a free loopback port, returned once it accepts connections (also used by
    benchmarks/web_runtime.py)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # the server process takes a moment to listen; a page opened before then is refused
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the static server on port {port} did not start") from None
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}/"


def python_prediction(path, profiles):
    feed = {m: np.asarray(v, dtype=np.float32)[None, :] for m, v in profiles.items()}
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0][0]


IMATINIB_MESYLATE = "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5.CS(=O)(=O)O"


def check_compound(page, assets_dir, line_prediction, row):
    """A SMILES on the page: RDKit (WASM) reads it and the structure model scores it for the GDSC line shown, by its
    measured responses as the app does, with Python's number."""
    from drugresponse.compound_structure import morgan_bits, standardise
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.compounds import gdsc_line_anchors
    from drugresponse.serve.runtime import load_runtime

    page.fill("#smiles", IMATINIB_MESYLATE)
    page.click("#predict-compound")
    page.wait_for_function("window.lastCompound !== undefined", timeout=60_000)
    got = page.evaluate("window.lastCompound")
    meta = json.loads((assets_dir / "compound.json").read_text())
    compound = standardise(IMATINIB_MESYLATE)
    bits = morgan_bits(compound, meta["fingerprint"]["radius"], meta["fingerprint"]["size"])
    anchors, predicted = gdsc_line_anchors(Catalog.load(assets_dir), load_runtime(assets_dir / "model.onnx", "cpu"),
                                           meta["anchors"])
    anchors = anchors[row:row + 1]
    expected = ort.InferenceSession(str(assets_dir / "compound.onnx")).run(
        ["ln_ic50"], {"fingerprint": bits[None, :], "anchor_ln_ic50": anchors})[0][0, 0]
    assert got["smiles"] == compound.smiles and got["sample"] == line_prediction["sample"]
    assert got["setting"] == ("double" if predicted[row] else "single")
    assert got["ln_ic50"] == pytest.approx(float(expected), abs=1e-4)
    assert got["interval_low"] < got["ln_ic50"] < got["interval_high"]
    assert page.locator("#structure").get_attribute("src").startswith("data:image/svg+xml")
    page.fill("#smiles", "C1CC")
    page.click("#predict-compound")
    page.wait_for_function("document.getElementById('compound-result').textContent.startsWith('error')",
                           timeout=30_000)


@pytest.mark.parametrize("model,tolerance", [("model.onnx", 1e-4), ("model_int8.onnx", INT8_TOLERANCE)])
def test_page_predicts_a_gdsc_line_and_a_pasted_profile_like_python(browser, assets_dir, tmp_path, model, tolerance):
    from drugresponse.serve.catalog import Catalog

    catalog = Catalog.load(assets_dir)
    server, url = serve_site(assets_dir, model, tmp_path)
    try:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=60_000)
        row = 3
        page.select_option("#line", str(row))
        page.click("#predict-line")
        page.wait_for_function("document.getElementById('status').textContent === 'done'", timeout=60_000)
        got = page.evaluate("window.lastPrediction")
        profile = {m: catalog.profiles[m][row] for m in catalog.profiles}
        expected = python_prediction(assets_dir / model, profile)
        assert got["sample"] == catalog.cell_lines["cell_line"][row]
        np.testing.assert_allclose(np.array(got["ln_ic50"]), expected, atol=tolerance)
        timing = page.locator("#timing")
        assert float(timing.get_attribute("data-cold-start-ms")) > 0 and float(timing.get_attribute("data-predict-ms")) > 0
        check_compound(page, assets_dir, got, row)

        # a pasted panel: the expression genes the model reads, plus one driver event; everything else unknown
        meta = json.loads((assets_dir / model).with_suffix(".json").read_text())
        genes = meta["features_read"]["expression"]
        columns = [meta["genes"].index(g) for g in genes]
        values = np.round(catalog.profiles["expression"][row, columns].astype(np.float64), 6)
        csv = "sample," + ",".join(f"expression:{g}" for g in genes) + ",driver:BRAF_mut\n"
        csv += "pasted," + ",".join(f"{v:.6f}" for v in values) + ",1\n"
        page.fill("#csv", csv)
        page.click("#predict-csv")
        page.wait_for_function("window.lastPrediction && window.lastPrediction.sample === 'pasted'", timeout=60_000)
        pasted = {m: np.full(len(meta["drivers"] if m == "drivers" else meta["genes"]), np.nan) for m in profile}
        pasted["expression"][columns] = values
        pasted["drivers"][meta["drivers"].index("BRAF_mut")] = 1.0
        np.testing.assert_allclose(np.array(page.evaluate("window.lastPrediction")["ln_ic50"]),
                                   python_prediction(assets_dir / model, pasted), atol=tolerance)
        page.fill("#csv", "sample,expression:" + genes[0] + "\ntoo_few,1.0\n")  # a refusal, as in the app
        page.click("#predict-csv")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('error')", timeout=60_000)
        assert "at least 50%" in page.locator("#status").text_content()
        page.screenshot(path=str(tmp_path / "page.png"))
        artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / "page.png", artifacts / f"web_{model.replace('.onnx', '')}.png")
    finally:
        server.terminate()
        server.wait(timeout=30)
