"""Train the model users get: every (non-excluded) cell line of the screen, its setting chosen on an inner split."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from drugresponse.errors import UserError

from ..data.response_matrix import ResponseMatrix
from .checkpoint import save_checkpoint
from .predictor import NeuralPredictor
from .presets import PRESETS, candidates_for


def exclude_cell_lines(matrix: ResponseMatrix, names: set[str]) -> tuple[ResponseMatrix, list[str], list[str]]:
    """(the matrix without the named lines, the names excluded, the names not in the screen). Refuses a list none
    of whose names is in the screen: it is most likely not a list of GDSC names."""
    unknown = sorted(names - set(matrix.cell_lines))
    if names and len(unknown) == len(names):
        raise UserError(f"none of the {len(names)} cell lines to exclude is in {matrix.dataset}; expected GDSC names, "
                        f"one per line (e.g. {matrix.cell_lines[0]}).")
    excluded = sorted(names & set(matrix.cell_lines))
    if excluded:
        matrix = matrix.subset_cell_lines(np.array([i for i, c in enumerate(matrix.cell_lines) if c not in names]))
    return matrix, excluded, unknown


def train_final(matrix: ResponseMatrix, out_dir: Path, preset: str = "full", seed: int = 0,
                excluded: list[str] | None = None) -> Path:
    """Fit on all measured pairs and write the checkpoint (with loss curves) to ``out_dir``."""
    print(f"training on {len(matrix.cell_lines)} cell lines x {len(matrix.drugs)} drugs "
          f"({int(matrix.measured.sum()):,} pairs), preset {preset}, seed {seed}", file=sys.stderr)
    predictor = NeuralPredictor(config=PRESETS[preset], candidates=candidates_for(preset), show_progress=True)
    start = time.perf_counter()
    predictor.fit(matrix, matrix.measured, "lco", seed)
    seconds = round(time.perf_counter() - start, 1)
    history = predictor.history_
    for k, (best, val) in enumerate(zip(history.best_epoch, history.val_loss)):
        print(f"  member {k}: best epoch {best}, validation loss {min(val):.4f}", file=sys.stderr)
    print(f"  ridge blend weight {history.ridge_weight} (alpha {history.ridge_alpha}); driver head: "
          f"{history.driver_pairs} effects of {history.driver_events} events; trained in {seconds:.0f} s", file=sys.stderr)
    curves = {"unit": "masked MSE on drug-standardised ln IC50", "members": [
        {"member": k, "train_loss": t, "val_loss": v, "best_epoch": b}
        for k, (t, v, b) in enumerate(zip(history.train_loss, history.val_loss, history.best_epoch))]}
    files = {"loss_curve.json": (json.dumps(curves, indent=1) + "\n").encode()}
    try:
        from .loss_curve import loss_curve_png
    except ImportError:  # matplotlib is optional at train time; the JSON curve is always written
        pass
    else:
        files["loss_curve.png"] = loss_curve_png(history.train_loss[0], history.val_loss[0], "final model, member 0")
    meta = {
        "dataset": matrix.dataset, "drugs": matrix.drugs, "genes": matrix.genes,
        "driver_names": matrix.features["drivers"], "data_sha256": matrix.data_sha256,
        "seed": seed, "preset": preset, "n_cell_lines": len(matrix.cell_lines), "cell_lines": matrix.cell_lines,
        "excluded_cell_lines": excluded or [], "n_pairs": int(matrix.measured.sum()),
        "search": predictor.search_, "ridge_alpha": history.ridge_alpha,
        "best_epochs": history.best_epoch, "training_seconds": seconds,
        "driver_head": {"events": history.driver_events, "event_drug_effects": history.driver_pairs},
        "torch_threads": torch.get_num_threads(),
    }
    return save_checkpoint(predictor.model_, predictor.chosen_, meta, out_dir, files)
