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


GDSC_SMILES = Path(__file__).resolve().parent / "fixtures" / "gdsc_smiles.json"


def test_rdkit_wasm_gives_pythons_bits_for_every_gdsc_structure(assets_dir, tmp_path):
    """The browser and Node compute a compound's fingerprint with @rdkit/rdkit; it must be Python's, bit for bit."""
    from drugresponse.compound_structure import fingerprints

    salts = ["CN1CCN(CC1)C(c1ccccc1)c1ccc(Cl)cc1.OC(=O)c1cc2ccccc2c(Cc2c(O)c(cc3ccccc23)C(=O)O)c1O",
             "CN(C)C(=N)N=C(N)N.Cc1ccc(cc1)S(=O)(=O)[O-]", "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", "CC(=O)O.CCO",
             "OC(=O)/C=C\\C(=O)O.CCO.O.c1ccc2ccccc2c1", "[2H]C([2H])([2H])Oc1ccccc1.Cl"]
    smiles = list(json.loads(GDSC_SMILES.read_text())["smiles"].values()) + salts
    meta = json.loads((assets_dir / "compound.json").read_text())
    (tmp_path / "smiles.json").write_text(json.dumps(smiles))
    for radius, size in {(meta["fingerprint"]["radius"], meta["fingerprint"]["size"]), (2, 2048), (3, 1024)}:
        sidecar = tmp_path / f"r{radius}_{size}"
        sidecar.mkdir()
        (sidecar / "compound.json").write_text(json.dumps({**meta, "fingerprint": {"radius": radius, "size": size}}))
        subprocess.run(["node", "compound.mjs", "--model", str(sidecar / "model.onnx"), "--fingerprints",
                        str(tmp_path / "smiles.json"), "--output", str(sidecar / "bits.json")], cwd=EXAMPLE,
                       check=True, timeout=300)
        node = json.loads((sidecar / "bits.json").read_text())
        assert not [b for b in node if isinstance(b, dict)], "a GDSC structure was refused in Node"
        python = fingerprints(smiles, radius, size)
        node_bits = np.array([[c == "1" for c in b] for b in node], dtype=np.float32)
        identical = int((node_bits == python).all(axis=1).sum())
        assert identical == len(smiles) == 414 + len(salts), \
            f"radius {radius}, {size} bits: {identical} of {len(smiles)} identical"


def test_node_scores_a_compound_for_a_sample_like_python(assets_dir, bundle, runtime, tmp_path):
    from drugresponse.compound_structure import morgan_bits, standardise
    from drugresponse.serve.compounds import anchor_columns

    smiles = "CC(=O)OC1=CC=CC=C1C(=O)O.[Na+]"
    profiles = {m: bundle.profiles[m][:2] for m in ("expression", "mutation", "copy_number", "drivers")}
    payload = {"samples": bundle.cell_lines["cell_line"][:2].to_list(),
               **{m: [[None if np.isnan(v) else float(v) for v in row] for row in p] for m, p in profiles.items()}}
    (tmp_path / "in.json").write_text(json.dumps(payload))
    subprocess.run(["node", "compound.mjs", "--model", str(assets_dir / "model.onnx"), "--smiles", smiles, "--input",
                    str(tmp_path / "in.json"), "--output", str(tmp_path / "out.json")], cwd=EXAMPLE, check=True,
                   timeout=120)
    node = json.loads((tmp_path / "out.json").read_text())
    meta = json.loads((assets_dir / "compound.json").read_text())
    compound = standardise(smiles)
    bits = morgan_bits(compound, meta["fingerprint"]["radius"], meta["fingerprint"]["size"])
    python = ort.InferenceSession(str(assets_dir / "compound.onnx")).run(
        ["ln_ic50"], {"fingerprint": bits[None, :],
                      "anchor_ln_ic50": runtime.predict(profiles)[:, anchor_columns(runtime.drugs, meta["anchors"])]})[0][0]
    assert node["smiles"] == compound.smiles
    np.testing.assert_allclose(node["ln_ic50"], python, atol=1e-4)


def test_node_refuses_a_bad_structure_with_a_message(assets_dir, tmp_path):
    (tmp_path / "in.json").write_text(json.dumps({"samples": ["x"]}))
    done = subprocess.run(["node", "compound.mjs", "--model", str(assets_dir / "model.onnx"), "--smiles", "C1CC",
                           "--input", str(tmp_path / "in.json")], cwd=EXAMPLE, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "cannot read" in done.stderr and "at " not in done.stderr.split("error:")[0]
