"""Save and load a trained model: ``weights.pt`` (tensors only) + ``checkpoint.json`` (everything else).

The JSON carries what rebuilds the module (config, selected genes, drug list, ridge blend) and the
provenance the ONNX metadata repeats (dataset, data checksum, cell lines used, seed). Weights are
read back with ``torch.load(weights_only=True)``: a checkpoint cannot run code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from drugresponse import __version__
from drugresponse.atomic_files import atomic_folder
from drugresponse.errors import UserError

from ..data.bundle import OMICS
from .config import ModelConfig
from .modules import DriverEffects, DrugResponseModel, MultiTaskNet
from .preprocessing import FittedScaling, Preprocessor, ReferenceMoments

FORMAT = "drugresponse-checkpoint"
FORMAT_VERSION = 2


def save_checkpoint(model: DrugResponseModel, config: ModelConfig, meta: dict, out_dir: Path,
                    files: dict[str, bytes] | None = None) -> Path:
    """Write the checkpoint folder (plus any extra ``files``) whole or not at all."""
    out_dir = Path(out_dir)
    pre = model.preprocessor
    info = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config.to_dict(),
        "selected_genes": {m: getattr(pre, f"{m}_genes").tolist() for m in OMICS},
        "n_members": len(model.members), "has_ridge": model.ridge is not None,
        "ridge_weight": model.ridge_weight, "n_expression_features": model.n_expression_features,
        "driver_events": [] if model.drivers is None else model.drivers.events.tolist(),
        "reads": model.reads(),
        **meta,
    }
    with atomic_folder(out_dir) as staging:
        torch.save(model.state_dict(), staging / "weights.pt")
        (staging / "checkpoint.json").write_text(json.dumps(info, indent=2) + "\n")
        for name, payload in (files or {}).items():
            (staging / name).write_bytes(payload)
    return out_dir


def load_checkpoint(path: Path) -> tuple[DrugResponseModel, dict]:
    """Rebuild the model from a checkpoint folder; refuse a missing, foreign or other-version one."""
    path = Path(path)
    info_path, weights_path = path / "checkpoint.json", path / "weights.pt"
    if not info_path.is_file() or not weights_path.is_file():
        raise UserError(f"no checkpoint at {path} (expected checkpoint.json and weights.pt). "
                        f"Train one with `drugresponse train --out {path}`.")
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{info_path} is not valid JSON ({exc}); the checkpoint is damaged.") from exc
    if info.get("format") != FORMAT or info.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} is not a drugresponse checkpoint of format version {FORMAT_VERSION} "
                        f"(found {info.get('format')!r} version {info.get('format_version')!r}); retrain it "
                        f"with this version's `drugresponse train`.")
    config = ModelConfig.from_dict(info["config"])
    try:
        state = torch.load(weights_path, weights_only=True)
    except Exception as exc:
        raise UserError(f"cannot read {weights_path}: {exc}. The checkpoint is damaged; retrain it.") from exc
    genes = {m: np.asarray(info["selected_genes"][m], dtype=np.int64) for m in OMICS}
    n_features = sum(len(g) for g in genes.values())
    n_drugs, n_genes, n_events = len(info["drugs"]), len(info["genes"]), len(info["driver_events"])
    scaling = FittedScaling(genes, {m: np.zeros(len(genes[m]), np.float32) for m in OMICS},
                            {m: np.ones(len(genes[m]), np.float32) for m in OMICS},
                            ReferenceMoments(np.zeros(n_genes, np.float32), np.ones(n_genes, np.float32)))
    members = [MultiTaskNet(n_features, n_drugs, config.hidden, config.dropout, config.input_dropout)
               for _ in range(info["n_members"])]
    ridge = torch.nn.Linear(info["n_expression_features"], n_drugs) if info["has_ridge"] else None
    drivers = DriverEffects(torch.zeros(n_events, dtype=torch.long), torch.zeros(n_events),
                            torch.zeros(n_events, n_drugs)) if n_events else None
    model = DrugResponseModel(Preprocessor(scaling), members, torch.zeros(n_drugs), torch.ones(n_drugs), ridge,
                              info["ridge_weight"], info["n_expression_features"], drivers)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"{weights_path} does not match {info_path}: {exc}. The checkpoint is damaged.") from exc
    model.eval()
    return model, info
