"""Turn a checkpoint into one self-contained ONNX file (and its int8 variant), checked before writing.

The export is a declared spec followed by a numerical check (the optimum-onnx habit): inputs are
the raw profiles, one float32 tensor per modality with a dynamic batch axis, NaN marking a missing
value; the output is ``ln_ic50`` [batch, drugs]. The graph is ``FusedModel`` (see fused.py): the
trained function rearranged into two matrix products. Files are written under temporary names and
renamed only after ``onnx.checker`` (full check) and the parity check against PyTorch pass: within
``ExportSpec.tolerance`` for the float32 model, within ``INT8_TOLERANCE`` for the int8 one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from drugresponse.atomic_files import staged_files, write_json_atomic
from drugresponse.errors import UserError
from drugresponse.train.data.bundle import MODALITIES, OMICS
from drugresponse.train.model.checkpoint import load_checkpoint

from .explain import COMPLETENESS_TOLERANCE, ExplainModel, checkpoint_feature_names
from .fused import FusedModel
from .graph import EXPLAIN_SPEC, ExportSpec, export_graph
from .quantize import INT8_TOLERANCE, write_int8_graph

UNITS = "natural log of IC50 in micromolar"


def _torch_predict(model, profiles: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(*(torch.from_numpy(np.ascontiguousarray(profiles[m], dtype=np.float32))
                       for m in MODALITIES)).numpy()


def parity(model, session: ort.InferenceSession, profiles: dict[str, np.ndarray], spec: ExportSpec) -> dict:
    """Largest |onnxruntime - torch| over all given profiles, at several batch sizes and with NaNs."""
    feed = {m: np.ascontiguousarray(profiles[m], dtype=np.float32) for m in MODALITIES}
    n = len(feed["expression"])
    full = session.run(None, feed)[0] - _torch_predict(model, feed)
    worst = float(np.max(np.abs(full)))
    for batch in spec.check_batches:
        part = {m: v[: min(batch, n)] for m, v in feed.items()}
        worst = max(worst, float(np.max(np.abs(session.run(None, part)[0] - _torch_predict(model, part)))))
    rng = np.random.default_rng(0)
    holed = {m: np.where(rng.random(v[:8].shape) < 0.1, np.nan, v[:8]).astype(np.float32) for m, v in feed.items()}
    nan_diff = float(np.max(np.abs(session.run(None, holed)[0] - _torch_predict(model, holed))))
    return {"cell_lines": n, "max_abs_diff": max(worst, nan_diff), "max_abs_diff_with_missing": nan_diff,
            "rms_diff": float(np.sqrt(np.mean(full.astype(np.float64) ** 2)))}


INPUT_DESCRIPTIONS = {
    "expression": "float32 [batch, genes]: expression on any per-sample log scale (normalised inside), NaN = missing",
    "mutation": "float32 [batch, genes]: 0/1, NaN = missing",
    "copy_number": "float32 [batch, genes]: -1 loss / 0 neutral / 1 gain, NaN = missing",
    "drivers": "float32 [batch, drivers]: GDSC cancer functional events, 0/1, NaN = unknown (never read as absent)",
}


def _metadata(info: dict, metrics: dict | None) -> dict[str, str]:
    training = {k: info[k] for k in ("dataset", "n_cell_lines", "n_pairs", "seed", "preset", "config",
                                     "excluded_cell_lines", "ridge_weight", "ridge_alpha", "best_epochs", "created_at")}
    training.update({k: info[k] for k in ("training_seconds", "torch_threads", "driver_head", "search") if k in info})
    return {
        "genes": json.dumps(info["genes"]),
        "drivers": json.dumps(info["driver_names"]),
        "reads": json.dumps(info["reads"]),
        "trained_on": json.dumps(info["cell_lines"]),
        "features_read": json.dumps({**{m: [info["genes"][i] for i in info["selected_genes"][m]] for m in OMICS},
                                     "drivers": [info["driver_names"][i] for i in info["driver_events"]]}),
        "drugs": json.dumps(info["drugs"]),
        "model_version": json.dumps(f"drugresponse-{info['package_version']}+{info['created_at']}"),
        "data_sha256": json.dumps(info["data_sha256"]),
        "training": json.dumps(training),
        "metrics": json.dumps(metrics or {}),
        "units": json.dumps(UNITS),
        "inputs": json.dumps(INPUT_DESCRIPTIONS),
    }


def int8_path(out: Path) -> Path:
    """Where the int8 variant of ``out`` is written: ``model.onnx`` -> ``model_int8.onnx``."""
    return Path(out).with_name(Path(out).stem + "_int8.onnx")


def explain_path(out: Path) -> Path:
    """Where the explanation graph of ``out`` is written: ``model.onnx`` -> ``model_explain.onnx``."""
    return Path(out).with_name(Path(out).stem + "_explain.onnx")


def _stamp(graph_path: Path, metadata: dict, doc: str) -> ort.InferenceSession:
    """Write the metadata into the graph, run the full checker, and open it with onnxruntime.

    The exporter's per-node debug records (module class paths, source stack traces with this checkout's absolute
    paths) are dropped: they say nothing about the model, and they would make the file depend on where and how the
    code that traced it was laid out."""
    proto = onnx.load(str(graph_path))
    del proto.metadata_props[:]
    for node in proto.graph.node:
        del node.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = doc
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(graph_path))
    return ort.InferenceSession(str(graph_path), providers=["CPUExecutionProvider"])


def _write_sidecar(graph_path: Path, metadata: dict, spec: ExportSpec, check: dict) -> None:
    sidecar = {k: json.loads(v) for k, v in metadata.items()}
    sidecar.update({"input_names": list(spec.input_names), "output_names": list(spec.output_names),
                    "opset": spec.opset, "parity": check})
    write_json_atomic(graph_path.with_suffix(".json"), sidecar, indent=None)


def _check_and_stage(model, info: dict, metadata: dict, graph_path: Path, profiles: dict, spec: ExportSpec,
                     precision: str, tolerance: float) -> dict:
    """Stamp metadata on the graph, run the checker and the parity check; write the sidecar beside it."""
    metadata = {**metadata, "precision": json.dumps(precision)}
    session = _stamp(graph_path, metadata,
                     f"drugresponse ({precision}): raw genomic profile -> {UNITS} for {len(info['drugs'])} drugs")
    check = parity(model, session, profiles, spec)
    if not check["max_abs_diff"] <= tolerance:
        raise UserError(f"refusing to write the {precision} model: onnxruntime differs from PyTorch by "
                        f"{check['max_abs_diff']:.2e} ln µM (tolerance {tolerance:.0e}).")
    _write_sidecar(graph_path, metadata, spec, {**check, "tolerance": tolerance})
    return check


def explain_parity(model, explainer: ExplainModel, session: ort.InferenceSession, profiles: dict) -> dict:
    """onnxruntime vs the torch explanation module; predictions vs the model; completeness of the sums."""
    n, n_drugs = len(profiles["expression"]), model.drug_mean.shape[0]
    drugs = np.arange(n) % n_drugs  # every line with a different drug, cycling through all drugs
    feed = {m: np.ascontiguousarray(profiles[m], dtype=np.float32) for m in MODALITIES}
    feed["drug"] = drugs.astype(np.int64)
    contributions, prediction, baseline, _ = session.run(None, feed)
    with torch.no_grad():
        expected = explainer(*(torch.from_numpy(feed[m]) for m in MODALITIES), torch.from_numpy(feed["drug"]))[:3]
        full = _torch_predict(model, feed)[np.arange(n), drugs]
    gap = np.abs(contributions.sum(axis=1) - (prediction - baseline))
    return {"cases": n, "max_abs_diff": float(max(np.abs(contributions - expected[0].numpy()).max(),
                                                  np.abs(prediction - expected[1].numpy()).max())),
            "prediction_vs_model": float(np.abs(prediction - full).max()),
            "completeness_max_gap": float(gap.max()), "completeness_mean_gap": float(gap.mean())}


def _explain_and_stage(model, info: dict, metadata: dict, graph_path: Path, profiles: dict) -> dict:
    explainer = ExplainModel(FusedModel(model).eval()).eval()
    example = {**profiles, "drug": np.arange(len(profiles["expression"])) % len(info["drugs"])}
    export_graph(explainer, example, graph_path, EXPLAIN_SPEC)
    names = checkpoint_feature_names(info)
    metadata = {**metadata, "precision": json.dumps("float32 (float16-stored weights)"),
                "contribution_features": json.dumps(names),
                "explanation": json.dumps({
                    "method": f"integrated gradients ({explainer.steps} midpoint steps) for the MLP "
                              "ensemble; exact linear decomposition for the ridge layer and the driver head",
                    "baseline": "the average training cell line: every standardised feature at its training mean, "
                                "every driver event at its training frequency",
                    "units": "ln µM contribution to the chosen drug's predicted ln IC50; negative = toward "
                             "sensitive", "completeness_tolerance": COMPLETENESS_TOLERANCE})}
    session = _stamp(graph_path, metadata, "drugresponse explanation: (raw profile, drug index) -> per-feature "
                                           "contributions to ln IC50, prediction, baseline prediction")
    check = explain_parity(model, explainer, session, profiles)
    if not (check["max_abs_diff"] <= 1e-4 and check["prediction_vs_model"] <= 1e-4
            and check["completeness_max_gap"] <= COMPLETENESS_TOLERANCE):
        raise UserError(f"refusing to write the explanation graph: {check} (tolerances 1e-4 ln µM against "
                        f"PyTorch, {COMPLETENESS_TOLERANCE} for completeness).")
    _write_sidecar(graph_path, metadata, EXPLAIN_SPEC, check)
    return check


def export_model(checkpoint: Path, out: Path, profiles: dict[str, np.ndarray], metrics: dict | None = None,
                 spec: ExportSpec = ExportSpec()) -> dict:
    """Export, check and atomically write ``out``, its int8 variant and its explanation graph, each with a
    sidecar ``.json``.

    ``profiles`` are raw profiles (the bundle's cell lines) used for the parity checks. Nothing is
    replaced unless every file passes.
    """
    model, info = load_checkpoint(checkpoint)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out.parent, prefix=".write-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise UserError(f"cannot write to {out.parent}: {exc.strerror}. Choose another --out.") from exc
    if len(profiles["expression"]) < 2:
        raise UserError("the parity check needs at least 2 cell-line profiles.")
    if profiles["expression"].shape[1] != len(info["genes"]) or profiles["drivers"].shape[1] != len(info["driver_names"]):
        raise UserError(f"the profiles have {profiles['expression'].shape[1]} genes and {profiles['drivers'].shape[1]} "
                        f"driver events but the checkpoint was trained on {len(info['genes'])} and "
                        f"{len(info['driver_names'])}: they come from another bundle.")
    metadata = _metadata(info, metrics)
    targets = (out, int8_path(out), explain_path(out))
    with staged_files(out.parent, [n for t in targets for n in (t.name, t.with_suffix(".json").name)]) as tmp:
        staged = {path: tmp / path.name for path in targets}
        # float16-stored weights halve the file; training already rounded them, so parity stays exact
        export_graph(FusedModel(model).eval(), profiles, staged[out], spec)
        check = _check_and_stage(model, info, metadata, staged[out], profiles, spec,
                                 "float32 (float16-stored weights)", spec.tolerance)
        write_int8_graph(model, profiles, staged[int8_path(out)], spec)
        int8_check = _check_and_stage(model, info, metadata, staged[int8_path(out)], profiles, spec,
                                      "int8 weights (dynamic quantisation)", INT8_TOLERANCE)
        explain_check = _explain_and_stage(model, info, metadata, staged[explain_path(out)], profiles)
    graph = onnx.load(str(out), load_external_data=False).graph
    return {
        "path": str(out), "bytes": out.stat().st_size, "opset": spec.opset,
        "inputs": [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in graph.input],
        "outputs": [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.output],
        "parity": check, "drugs": len(info["drugs"]), "genes": len(info["genes"]),
        "int8": {"path": str(int8_path(out)), "bytes": int8_path(out).stat().st_size, "parity": int8_check},
        "explain": {"path": str(explain_path(out)), "bytes": explain_path(out).stat().st_size,
                    "parity": explain_check},
    }
