import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from drugresponse.errors import UserError
from drugresponse.export.onnx_export import export_model
from drugresponse.export.quantize import INT8_TOLERANCE
from drugresponse.train.bundle import MODALITIES
from drugresponse.train.checkpoint import load_checkpoint


def _run(path, profiles):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {m: np.asarray(profiles[m], dtype=np.float32) for m in MODALITIES})[0]


def test_export_writes_the_model_and_its_int8_variant_with_the_declared_interface(exported):
    path, report = exported
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.json", "model.onnx",
                                                             "model_int8.json", "model_int8.onnx"]
    for file in (path, path.with_name("model_int8.onnx")):
        proto = onnx.load(str(file))
        onnx.checker.check_model(proto, full_check=True)
        assert [i.name for i in proto.graph.input] == list(MODALITIES)
        assert [o.name for o in proto.graph.output] == ["ln_ic50"]
    assert report["parity"]["max_abs_diff"] <= 1e-4
    # weights ship as float16 (rounded at training time, so parity above is unaffected)
    proto = onnx.load(str(path))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer)
    # the whole ensemble and the ridge blend are two matrix products, whatever the number of members
    assert [n.op_type for n in proto.graph.node].count("MatMul") == 2
    int8 = onnx.load(str(path.with_name("model_int8.onnx")))
    assert sum(t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2 for t in int8.graph.initializer) == 2
    assert report["int8"]["parity"]["max_abs_diff"] <= INT8_TOLERANCE


def test_int8_variant_stays_close_to_pytorch_on_every_cell_line(exported, checkpoint, bundle):
    path, report = exported
    model, _ = load_checkpoint(checkpoint)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(bundle.profiles[m]) for m in MODALITIES)).numpy()
    int8 = path.with_name("model_int8.onnx")
    got = _run(int8, bundle.profiles)
    assert np.abs(got - expected).max() <= INT8_TOLERANCE
    assert np.sqrt(np.mean((got - expected) ** 2)) == pytest.approx(report["int8"]["parity"]["rms_diff"], rel=1e-3)
    # batch 1 gives the batch's answer (activations are quantised per call, so allow the quantisation step)
    np.testing.assert_allclose(_run(int8, {m: bundle.profiles[m][3:4] for m in MODALITIES}), got[3:4],
                               atol=INT8_TOLERANCE)
    holed = {m: bundle.profiles[m][:4].copy() for m in MODALITIES}
    holed["copy_number"][:, ::2] = np.nan
    assert np.isfinite(_run(int8, holed)).all()
    sidecar = json.loads(int8.with_suffix(".json").read_text())
    assert sidecar["precision"].startswith("int8") and sidecar["parity"]["tolerance"] == INT8_TOLERANCE


def test_metadata_and_sidecar_agree(exported, checkpoint, bundle):
    path, _ = exported
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    for key in ("genes", "drugs", "model_version", "data_sha256", "training", "metrics", "units"):
        assert key in meta
    assert meta["genes"] == bundle.genes
    assert meta["data_sha256"] == bundle.manifest["content_sha256"]
    assert meta["units"] == "natural log of IC50 in micromolar"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert {k: sidecar[k] for k in meta} == meta


def test_onnx_matches_pytorch_on_every_cell_line_and_batch_size(exported, checkpoint, bundle):
    path, _ = exported
    model, info = load_checkpoint(checkpoint)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(bundle.profiles[m]) for m in MODALITIES)).numpy()
    assert expected.shape == (bundle.cell_lines.height, len(info["drugs"]))
    np.testing.assert_allclose(_run(path, bundle.profiles), expected, atol=1e-4)
    one = {m: bundle.profiles[m][3:4] for m in MODALITIES}
    np.testing.assert_allclose(_run(path, one), expected[3:4], atol=1e-4)


def test_missing_values_are_imputed_inside_the_graph(exported, bundle):
    path, _ = exported
    profiles = {m: bundle.profiles[m][:4].copy() for m in MODALITIES}
    profiles["mutation"][:] = np.nan
    profiles["copy_number"][:, ::2] = np.nan
    out = _run(path, profiles)
    assert np.isfinite(out).all()


def test_expression_scale_is_normalised_per_sample(exported, bundle):
    path, _ = exported
    profiles = {m: bundle.profiles[m][:4] for m in MODALITIES}
    shifted = dict(profiles, expression=profiles["expression"] * 2.5 + 7.0)
    np.testing.assert_allclose(_run(path, shifted), _run(path, profiles), atol=1e-4)


def test_missing_checkpoint_is_a_clear_error(tmp_path, bundle):
    with pytest.raises(UserError, match="no checkpoint"):
        export_model(tmp_path / "nope", tmp_path / "m.onnx", bundle.profiles)


def test_checkpoint_of_another_format_version_is_refused(tmp_path, checkpoint, bundle):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(checkpoint, copy)
    info = json.loads((copy / "checkpoint.json").read_text())
    info["format_version"] = 99
    (copy / "checkpoint.json").write_text(json.dumps(info))
    with pytest.raises(UserError, match="format version"):
        export_model(copy, tmp_path / "m.onnx", bundle.profiles)
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m_int8.onnx").exists()


def test_unwritable_output_leaves_nothing(tmp_path, checkpoint, bundle):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="cannot write"):
        export_model(checkpoint, blocker / "model.onnx", bundle.profiles)
