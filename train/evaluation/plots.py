"""The evaluation plots the seed study showed, drawn from out-of-fold predictions, as PNG files: actual vs
predicted, residuals, per-drug Pearson, and the loss curves of fold 0 (``write_plots`` draws them for a run)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from ..model.loss_curve import loss_curve_plot, save_figure
from . import metrics


def evaluation_plots(predictions: pl.DataFrame, model: str, title: str, out_dir: Path, stem: str) -> list[Path]:
    """Actual vs predicted, residual histogram, residuals vs predicted and per-drug Pearson for one model."""
    rows = predictions.filter(pl.col("model") == model)
    y, p = rows["measured"].to_numpy(), rows["predicted"].to_numpy()
    residual = y - p
    paths = []

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.hexbin(p, y, gridsize=60, bins="log", cmap="viridis", mincnt=1)
    low, high = np.percentile(np.r_[y, p], [0.5, 99.5])
    ax.plot([low, high], [low, high], color="crimson", lw=1)
    ax.set(xlabel="predicted ln IC50 (µM)", ylabel="measured ln IC50 (µM)", title=f"{title}: actual vs predicted")
    save_figure(fig, out_dir / f"{stem}_actual_vs_predicted.png")
    paths.append(out_dir / f"{stem}_actual_vs_predicted.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(residual, bins=80, color="steelblue")
    ax.set(xlabel="residual, measured - predicted (ln µM)", ylabel="pairs", title=f"{title}: residuals")
    save_figure(fig, out_dir / f"{stem}_residual_histogram.png")
    paths.append(out_dir / f"{stem}_residual_histogram.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hexbin(p, residual, gridsize=60, bins="log", cmap="magma", mincnt=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="predicted ln IC50 (µM)", ylabel="residual (ln µM)", title=f"{title}: residuals vs predicted")
    save_figure(fig, out_dir / f"{stem}_residuals_vs_predicted.png")
    paths.append(out_dir / f"{stem}_residuals_vs_predicted.png")

    drug_codes = rows["drug"].cast(pl.Categorical).to_physical().to_numpy()
    per_drug = [d["pearson"] for d in metrics.per_drug(drug_codes, y, p).values() if not np.isnan(d["pearson"])]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(per_drug, bins=30, color="seagreen")
    ax.axvline(np.mean(per_drug), color="black", ls="--", lw=1, label=f"mean {np.mean(per_drug):.3f}")
    ax.set(xlabel="Pearson r across held-out cell lines", ylabel="drugs", title=f"{title}: per-drug Pearson")
    ax.legend()
    save_figure(fig, out_dir / f"{stem}_per_drug_pearson.png")
    paths.append(out_dir / f"{stem}_per_drug_pearson.png")
    return paths


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
