"""The exported file in another runtime: onnxruntime-node gives the same numbers as Python.

Needs Node.js and `npm install --ignore-scripts` in examples/node (the README's test command does it);
skipped when either is missing.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (EXAMPLE / "node_modules" / "onnxruntime-node").is_dir(),
    reason="needs node and `npm install --ignore-scripts` in examples/node")


@pytest.mark.parametrize("name", ["model.onnx", "model_int8.onnx"])
def test_node_matches_python(exported, bundle, tmp_path, name):
    path = exported[0].with_name(name)
    profiles = {m: bundle.profiles[m][:5].copy() for m in ("expression", "mutation", "copy_number", "drivers")}
    profiles["copy_number"][0, :10] = np.nan  # missing values travel as null
    profiles["drivers"][1, :] = np.nan
    payload = {"samples": bundle.cell_lines["cell_line"][:5].to_list(),
               **{m: [[None if np.isnan(v) else float(v) for v in row] for row in p] for m, p in profiles.items()}}
    (tmp_path / "in.json").write_text(json.dumps(payload))
    subprocess.run(["node", "predict.mjs", "--model", str(path), "--input", str(tmp_path / "in.json"),
                    "--output", str(tmp_path / "out.json")], cwd=EXAMPLE, check=True, timeout=120)
    node = json.loads((tmp_path / "out.json").read_text())
    python = ort.InferenceSession(str(path)).run(None, profiles)[0]
    assert node["drugs"] == json.loads(path.with_suffix(".json").read_text())["drugs"]
    np.testing.assert_allclose(np.array(node["ln_ic50"]), python, atol=1e-4)
