"""Plots for an evaluation run, drawn from the files ``evaluate`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .plots import evaluation_plots, loss_curve_plot


def write_plots(out_dir: Path, dataset: str, split: str) -> list[Path]:
    """Plots for the neural model and the strongest baseline, plus fold 0's loss curves."""
    stem = f"{dataset}_{split}"
    predictions = pl.read_parquet(out_dir / f"{stem}_predictions.parquet")
    records = json.loads((out_dir / f"{stem}.json").read_text())
    plot_dir = out_dir / "plots"
    paths = []
    for record in records:
        if record["model"] in ("mlp_ensemble", "ridge_per_drug"):
            paths += evaluation_plots(predictions, record["model"], f"{record['model']} ({split.upper()})",
                                      plot_dir, f"{stem}_{record['model']}")
    history_path = out_dir / f"{stem}_history.json"
    if history_path.is_file():
        fold0 = json.loads(history_path.read_text())["mlp_ensemble"][0]
        paths.append(loss_curve_plot(fold0["train_loss"][0], fold0["val_loss"][0],
                                     f"mlp_ensemble ({split.upper()}, fold 0, member 0)",
                                     plot_dir / f"{stem}_mlp_ensemble_loss.png"))
    return paths
