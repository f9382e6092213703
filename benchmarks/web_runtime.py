"""The ONNX files in other runtimes: cold start and per-prediction time in a browser page (onnxruntime-web, WASM,
Debian's Chromium) and in Node.js (onnxruntime-node), for one sample's every drug (all the model's outputs).

    python benchmarks/web_runtime.py      # needs `npm ci --ignore-scripts` in examples/web and examples/node

Browser: the static site of examples/web (built from the committed assets) served on loopback; cold start is the
page's own measure (model download + session creation), per prediction the median of 20 runs of a GDSC line,
both read from the page; median over ``--repeats`` fresh page loads. Node: session creation and the median of 50
runs of one GDSC line, median over ``--repeats`` processes. Writes ``web_runtime.json`` and ``web_runtime.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def browser_times(site: Path, repeats: int) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.test_web import static_server

    server, url = static_server(site)
    cold, predict = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for _ in range(repeats):
                page = browser.new_context().new_page()  # a fresh context: nothing cached
                page.goto(url)
                page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=120_000)
                page.click("#predict-line")
                page.wait_for_function("document.getElementById('status').textContent.startsWith('done')",
                                       timeout=120_000)
                cold.append(float(page.locator("#timing").get_attribute("data-cold-start-ms")))
                predict.append(float(page.locator("#timing").get_attribute("data-predict-ms")))
                page.context.close()
            browser.close()
    finally:
        server.terminate()
    return {"cold_start_ms": statistics.median(cold), "predict_ms": statistics.median(predict)}


def node_times(model: Path, profile: dict, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        payload = {"samples": ["line"], **{m: [[None if np.isnan(v) else float(v) for v in values]]
                                           for m, values in profile.items()}}
        (Path(tmp) / "in.json").write_text(json.dumps(payload))
        runs = []
        for _ in range(repeats):
            done = subprocess.run(["node", "predict.mjs", "--model", str(model), "--input", str(Path(tmp) / "in.json"),
                                   "--output", str(Path(tmp) / "out.json"), "--repeat", "50"],
                                  cwd=ROOT / "examples" / "node", capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stderr.strip().splitlines()[-1]))
    return {"cold_start_ms": statistics.median(r["session_ms"] for r in runs),
            "predict_ms": statistics.median(r["predict_ms_median"] for r in runs)}


def main() -> None:
    from drugresponse.paths import ASSETS_DIR
    from drugresponse.serve.catalog import Catalog

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    catalog = Catalog.load(ASSETS_DIR)
    profile = {m: v[0] for m, v in catalog.profiles.items()}
    rows = []
    for model in ("model.onnx", "model_int8.onnx"):
        with tempfile.TemporaryDirectory() as tmp:
            site = Path(tmp) / "site"
            subprocess.run([sys.executable, str(ROOT / "examples" / "web" / "build_site.py"), "--model", model,
                            "--out", str(site)], check=True, capture_output=True)
            rows.append({"runtime": "browser: onnxruntime-web (WASM, 1 thread), Chromium", "model": model,
                         **browser_times(site, args.repeats)})
        rows.append({"runtime": "Node.js: onnxruntime-node (CPU)", "model": model,
                     **node_times(ASSETS_DIR / model, profile, args.repeats)})
        print(rows[-2:], file=sys.stderr)
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    meta = {"machine": describe(node=node_version, chromium=chromium), "repeats": args.repeats}
    outputs = len(json.loads((ASSETS_DIR / "model.json").read_text())["drugs"])
    lines = ["| runtime | model | cold start ms (download + session) | one prediction ms "
             f"({outputs} outputs) |", "|---|---|---|---|"]
    lines += [f"| {r['runtime']} | {r['model']} | {r['cold_start_ms']:,.0f} | {r['predict_ms']:.2f} |" for r in rows]
    m = meta["machine"]
    lines += ["", f"Median over {args.repeats} fresh page loads / processes; one GDSC line; loopback static server. "
              f"{m['cpu']}, {m['cores']} cores; {m['chromium']}; Node.js {m['node']}.", ""]
    write_outputs(args.out, "web_runtime", {**meta, "rows": rows}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
