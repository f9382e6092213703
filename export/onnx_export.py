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
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from drugresponse.errors import UserError
from drugresponse.train.bundle import MODALITIES
from drugresponse.train.checkpoint import load_checkpoint

from .fused import FusedModel
from .graph import ExportSpec, export_graph
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


def _metadata(info: dict, metrics: dict | None) -> dict[str, str]:
    training = {k: info[k] for k in ("dataset", "n_cell_lines", "n_pairs", "seed", "preset", "config",
                                     "excluded_cell_lines", "ridge_weight", "ridge_alpha", "best_epochs", "created_at")}
    training.update({k: info[k] for k in ("training_seconds", "torch_threads") if k in info})
    return {
        "genes": json.dumps(info["genes"]),
        "drugs": json.dumps(info["drugs"]),
        "model_version": json.dumps(f"drugresponse-{info['package_version']}+{info['created_at']}"),
        "data_sha256": json.dumps(info["data_sha256"]),
        "training": json.dumps(training),
        "metrics": json.dumps(metrics or {}),
        "units": json.dumps(UNITS),
        "inputs": json.dumps({m: "float32 [batch, genes], raw bundle scale, NaN = missing" for m in MODALITIES}),
    }


def int8_path(out: Path) -> Path:
    """Where the int8 variant of ``out`` is written: ``model.onnx`` -> ``model_int8.onnx``."""
    return Path(out).with_name(Path(out).stem + "_int8.onnx")


def _check_and_stage(model, info: dict, metadata: dict, graph_path: Path, profiles: dict, spec: ExportSpec,
                     precision: str, tolerance: float) -> dict:
    """Stamp metadata on the graph, run the checker and the parity check; write the sidecar beside it."""
    proto = onnx.load(str(graph_path))
    del proto.metadata_props[:]
    metadata = {**metadata, "precision": json.dumps(precision)}
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = f"drugresponse ({precision}): raw genomic profile -> {UNITS} for {len(info['drugs'])} drugs"
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(graph_path))
    session = ort.InferenceSession(str(graph_path), providers=["CPUExecutionProvider"])
    check = parity(model, session, profiles, spec)
    if not check["max_abs_diff"] <= tolerance:
        raise UserError(f"refusing to write the {precision} model: onnxruntime differs from PyTorch by "
                        f"{check['max_abs_diff']:.2e} ln µM (tolerance {tolerance:.0e}).")
    sidecar = {k: json.loads(v) for k, v in metadata.items()}
    sidecar.update({"input_names": list(spec.input_names), "output_name": spec.output_name, "opset": spec.opset,
                    "parity": {**check, "tolerance": tolerance}})
    graph_path.with_suffix(".json").write_text(json.dumps(sidecar) + "\n")
    return check


def export_model(checkpoint: Path, out: Path, profiles: dict[str, np.ndarray], metrics: dict | None = None,
                 spec: ExportSpec = ExportSpec()) -> dict:
    """Export, check and atomically write ``out`` and its int8 variant, each with a sidecar ``.json``.

    ``profiles`` are raw profiles (the bundle's cell lines) used for the parity checks. Nothing is
    replaced unless both files pass.
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
    if profiles["expression"].shape[1] != len(info["genes"]):
        raise UserError(f"the profiles have {profiles['expression'].shape[1]} genes but the checkpoint was trained "
                        f"on {len(info['genes'])}: they come from another bundle.")
    metadata = _metadata(info, metrics)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-tmp-") as tmp:
        staged = {out: Path(tmp) / out.name, int8_path(out): Path(tmp) / int8_path(out).name}
        # float16-stored weights halve the file; training already rounded them, so parity stays exact
        export_graph(FusedModel(model).eval(), profiles, staged[out], spec)
        check = _check_and_stage(model, info, metadata, staged[out], profiles, spec,
                                 "float32 (float16-stored weights)", spec.tolerance)
        write_int8_graph(model, profiles, staged[int8_path(out)], spec)
        int8_check = _check_and_stage(model, info, metadata, staged[int8_path(out)], profiles, spec,
                                      "int8 weights (dynamic quantisation)", INT8_TOLERANCE)
        for final, path in staged.items():
            os.replace(path.with_suffix(".json"), final.with_suffix(".json"))
            os.replace(path, final)
    graph = onnx.load(str(out), load_external_data=False).graph
    return {
        "path": str(out), "bytes": out.stat().st_size, "opset": spec.opset,
        "inputs": [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in graph.input],
        "outputs": [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.output],
        "parity": check, "drugs": len(info["drugs"]), "genes": len(info["genes"]),
        "int8": {"path": str(int8_path(out)), "bytes": int8_path(out).stat().st_size, "parity": int8_check},
    }
