import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from drugresponse.errors import UserError
from drugresponse.export.onnx_export import export_model
from drugresponse.export.quantize import INT8_TOLERANCE
from drugresponse.train.data.bundle import MODALITIES
from drugresponse.train.model.checkpoint import load_checkpoint


def _run(path, profiles):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {m: np.asarray(profiles[m], dtype=np.float32) for m in MODALITIES})[0]


def test_export_writes_the_model_and_its_int8_variant_with_the_declared_interface(exported):
    path, report = exported
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.json", "model.onnx", "model_explain.json",
                                                             "model_explain.onnx", "model_int8.json", "model_int8.onnx"]
    for file in (path, path.with_name("model_int8.onnx")):
        proto = onnx.load(str(file))
        onnx.checker.check_model(proto, full_check=True)
        assert [i.name for i in proto.graph.input] == list(MODALITIES)
        assert [o.name for o in proto.graph.output] == ["ln_ic50"]
    assert report["parity"]["max_abs_diff"] <= 1e-4
    # weights ship as float16 (rounded at training time, so parity above is unaffected)
    proto = onnx.load(str(path))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer)
    # the whole ensemble and the ridge blend are two matrix products, whatever the number of members; the third gives
    # each sample's reference moments (per-sample normalisation); the driver head gathers each drug's own few events
    assert [n.op_type for n in proto.graph.node].count("MatMul") == 3
    int8 = onnx.load(str(path.with_name("model_int8.onnx")))
    quantised = [t.name for t in int8.graph.initializer if t.data_type == onnx.TensorProto.UINT8 and len(t.dims) == 2]
    # the two products; the driver head's few per-drug effects stay float32
    assert len(quantised) == 2 and not any("reference" in name for name in quantised)
    assert report["int8"]["parity"]["max_abs_diff"] <= INT8_TOLERANCE


def test_unknown_driver_events_give_exactly_the_model_without_its_driver_head(exported, checkpoint, bundle):
    """What the README tells a user with a tumour type GDSC lacks: leave the driver columns out."""
    path, _ = exported
    model, _ = load_checkpoint(checkpoint)
    assert model.drivers is not None
    unknown = dict(bundle.profiles, drivers=np.full_like(bundle.profiles["drivers"], np.nan))
    with torch.no_grad():
        without_head = model.expression_part(*(torch.from_numpy(bundle.profiles[m]) for m in MODALITIES[:3])).numpy()
        with_head = model(*(torch.from_numpy(bundle.profiles[m]) for m in MODALITIES)).numpy()
    got = _run(path, unknown)
    np.testing.assert_allclose(got, without_head, atol=1e-4)
    assert np.abs(with_head - without_head).max() > 0.05  # the head does act on known events


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
    for key in ("genes", "drivers", "reads", "features_read", "trained_on", "drugs", "model_version", "data_sha256",
                "training", "metrics", "units"):
        assert key in meta
    assert meta["genes"] == bundle.genes and meta["drivers"] == bundle.driver_names
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


def test_every_input_the_metadata_says_is_read_changes_the_output(exported, bundle):
    path, _ = exported
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    profiles = {m: bundle.profiles[m][:8] for m in MODALITIES}
    base = _run(path, profiles)
    for modality in MODALITIES:
        unknown = dict(profiles, **{modality: np.full_like(profiles[modality], np.nan)})
        changed = np.abs(_run(path, unknown) - base).max() > 1e-4
        assert changed == meta["reads"][modality], modality


def test_unknown_driver_events_are_never_read_as_absent(exported, bundle, checkpoint):
    path, _ = exported
    _, info = load_checkpoint(checkpoint)
    profiles = {m: bundle.profiles[m][:8].copy() for m in MODALITIES}
    unknown = _run(path, dict(profiles, drivers=np.full_like(profiles["drivers"], np.nan)))
    absent = _run(path, dict(profiles, drivers=np.zeros_like(profiles["drivers"])))
    assert np.abs(unknown - absent).max() > 1e-3
    # a panel: one known event moves the prediction away from "all unknown"
    event = info["driver_events"][0]
    panel = np.full_like(profiles["drivers"], np.nan)
    panel[:, event] = 1.0
    assert np.abs(_run(path, dict(profiles, drivers=panel)) - unknown).max() > 1e-4


def _autograd_integrated_gradients(model, profiles, drug, steps):
    """The reference: integrated gradients of the training module by autograd, same baseline and steps."""
    x = model.preprocessor(*(torch.from_numpy(profiles[m]) for m in MODALITIES[:3])).detach()
    grads = []
    for alpha in (torch.arange(steps, dtype=torch.float32) + 0.5) / steps:
        point = (alpha * x).requires_grad_(True)
        out = (model.standardised(point)[:, drug] * model.drug_sd[drug]).sum()
        grads.append(torch.autograd.grad(out, point)[0])
    features = (torch.stack(grads).mean(dim=0) * x).numpy()
    events = model.drivers.centred(torch.from_numpy(profiles["drivers"])) * model.drivers.weights[:, drug]
    return np.concatenate([features, events.numpy()], axis=1)


def test_explanation_graph_matches_autograd_and_is_complete(exported, checkpoint, bundle):
    from drugresponse.export.explain import COMPLETENESS_TOLERANCE
    from drugresponse.train.model.attributions import STEPS

    path, _ = exported
    model, info = load_checkpoint(checkpoint)
    session = ort.InferenceSession(str(path.with_name("model_explain.onnx")), providers=["CPUExecutionProvider"])
    profiles = {m: bundle.profiles[m][:6].copy() for m in MODALITIES}
    profiles["expression"][1, ::5] = np.nan
    with torch.no_grad():
        predicted = model(*(torch.from_numpy(profiles[m]) for m in MODALITIES)).numpy()
    for drug in (0, len(info["drugs"]) - 1):
        feed = {**profiles, "drug": np.full(6, drug, dtype=np.int64)}
        contributions, prediction, baseline, values = session.run(None, feed)
        np.testing.assert_allclose(contributions, _autograd_integrated_gradients(model, profiles, drug, STEPS),
                                   atol=1e-4)
        np.testing.assert_allclose(prediction, predicted[:, drug], atol=1e-4)
        assert np.abs(contributions.sum(axis=1) - (prediction - baseline)).max() <= COMPLETENESS_TOLERANCE
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(path.with_name("model_explain.onnx"))).metadata_props}
    assert len(meta["contribution_features"]) == contributions.shape[1]
    assert meta["contribution_features"][0].startswith("expression:")
    assert "integrated gradients" in meta["explanation"]["method"]


def test_held_out_contributions_match_the_explanation_graph(exported, checkpoint, bundle):
    """The evaluation's all-drugs contributions (train/attributions.py) equal the graph's, drug by drug."""
    from drugresponse.train.model.attributions import contributions

    path, _ = exported
    model, _ = load_checkpoint(checkpoint)
    session = ort.InferenceSession(str(path.with_name("model_explain.onnx")), providers=["CPUExecutionProvider"])
    profiles = {m: bundle.profiles[m][:3] for m in MODALITIES}
    every_drug = contributions(model, profiles)
    for drug in (1, 4):
        graph = session.run(None, {**profiles, "drug": np.full(3, drug, dtype=np.int64)})[0]
        np.testing.assert_allclose(every_drug[:, drug], graph, atol=1e-4)
