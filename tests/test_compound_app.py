"""The New compound tab's endpoint, /predict_compound, over plain HTTP and with an uploaded sample."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from drugresponse.serve.compounds import anchor_columns
from drugresponse.train.compounds.ldo_results import structures

from .test_serve_attacks import call


@pytest.fixture(scope="module")
def smiles(bundle_path):
    return structures(bundle_path)


def test_a_known_drugs_structure_over_plain_http(running_app, smiles, matrix, assets_dir):
    event, payload = call(running_app, "predict_compound", [smiles["Lapatinib"] + ".Cl", None])
    assert event == "complete", payload[:300]
    result = json.loads(payload)[0]
    assert result["fragments_removed"] == 1 and result["units"] == "natural log of IC50 in micromolar"
    rows = result["predictions"]["data"]
    headers = result["predictions"]["headers"]
    value, low, high = (headers.index(h) for h in ("predicted ln IC50 (ln µM)", "80% interval low",
                                                    "80% interval high"))
    assert len(rows) == len({r[0] for r in rows}) >= len(matrix.cell_lines)  # every GDSC line, once
    predicted = [r[value] for r in rows]
    assert predicted == sorted(predicted) and all(r[low] < r[value] < r[high] for r in rows)
    nearest = result["nearest_known_drugs"]["data"][0]
    assert nearest[0] == "Lapatinib" and nearest[1] == pytest.approx(1.0)  # the salt did not change the bits
    assert result["nearest_known_similarity"] == pytest.approx(1.0)
    assert {r["model"] for r in result["leave_drug_out"]["records"]} >= {"two_tower", "cell_line_mean"}


def test_a_gdsc_line_is_read_by_its_measurements(running_app, smiles, matrix, assets_dir):
    from drugresponse.compound_structure import morgan_bits, standardise

    event, payload = call(running_app, "predict_compound", [smiles["Erlotinib"], None])
    result = json.loads(payload)[0]
    line = matrix.cell_lines[0]
    got = next(r for r in result["predictions"]["data"] if r[0] == line)[2]
    meta = json.loads((assets_dir / "compound.json").read_text())
    bits = morgan_bits(standardise(smiles["Erlotinib"]), meta["fingerprint"]["radius"], meta["fingerprint"]["size"])
    session = ort.InferenceSession(str(assets_dir / "compound.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(["ln_ic50"], {"fingerprint": bits[None, :], "anchor_ln_ic50": matrix.ln_ic50[:1]})[0]
    assert got == pytest.approx(float(expected[0, 0]), abs=1e-3)


@pytest.mark.parametrize("bad,words", [("C1CC", "cannot read"), ("C" * 3000, "at most"), ("", "give a SMILES"),
                                       ("[Na+].[Cl-]", "single atom")])
def test_a_bad_structure_gets_a_message_not_a_trace(running_app, bad, words):
    event, payload = call(running_app, "predict_compound", [bad, None])
    assert event == "error" and words in payload and "Traceback" not in payload


def test_an_uploaded_sample_is_scored_through_the_genomic_model(running_app, smiles, bundle, runtime, assets_dir,
                                                                tmp_path):
    from gradio_client import Client, handle_file

    from drugresponse.compound_structure import morgan_bits, standardise

    from .test_serve_uploads import wide_csv

    path = tmp_path / "two.csv"
    path.write_bytes(wide_csv(bundle, [0, 1]))
    result = Client(running_app, verbose=False).predict(smiles["Docetaxel"], handle_file(str(path)),
                                                        api_name="/predict_compound")
    rows = result["predictions"]["data"]
    assert [r[0] for r in rows] == bundle.cell_lines["cell_line"][:2].to_list()
    meta = json.loads((assets_dir / "compound.json").read_text())
    anchors = runtime.predict({m: bundle.profiles[m][:2] for m in bundle.profiles})[
        :, anchor_columns(runtime.drugs, meta["anchors"])]  # GDSC2's drugs among the model's outputs
    bits = morgan_bits(standardise(smiles["Docetaxel"]), meta["fingerprint"]["radius"], meta["fingerprint"]["size"])
    session = ort.InferenceSession(str(assets_dir / "compound.onnx"), providers=["CPUExecutionProvider"])
    predicted, scale = session.run(["ln_ic50", "scale"], {"fingerprint": bits[None, :], "anchor_ln_ic50": anchors})
    np.testing.assert_allclose([r[1] for r in rows], predicted[0], atol=1e-3)
    half = meta["intervals"]["double"]["q"] * float(scale[0])  # a new line and a new drug: the double-cold q
    np.testing.assert_allclose([r[3] - r[1] for r in rows], half, atol=2e-2)
    assert result["tissues"] is None
    assert result["nearest_known_drugs"]["data"][0][0] == "Docetaxel" and result["nearest_known_similarity"] == 1.0
