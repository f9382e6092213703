"""The evaluation plots the seed study showed, drawn from out-of-fold predictions, as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from . import metrics  # noqa: E402


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


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
    _save(fig, out_dir / f"{stem}_actual_vs_predicted.png")
    paths.append(out_dir / f"{stem}_actual_vs_predicted.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(residual, bins=80, color="steelblue")
    ax.set(xlabel="residual, measured - predicted (ln µM)", ylabel="pairs", title=f"{title}: residuals")
    _save(fig, out_dir / f"{stem}_residual_histogram.png")
    paths.append(out_dir / f"{stem}_residual_histogram.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hexbin(p, residual, gridsize=60, bins="log", cmap="magma", mincnt=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="predicted ln IC50 (µM)", ylabel="residual (ln µM)", title=f"{title}: residuals vs predicted")
    _save(fig, out_dir / f"{stem}_residuals_vs_predicted.png")
    paths.append(out_dir / f"{stem}_residuals_vs_predicted.png")

    drug_codes = rows["drug"].cast(pl.Categorical).to_physical().to_numpy()
    per_drug = [d["pearson"] for d in metrics.per_drug(drug_codes, y, p).values() if not np.isnan(d["pearson"])]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(per_drug, bins=30, color="seagreen")
    ax.axvline(np.mean(per_drug), color="black", ls="--", lw=1, label=f"mean {np.mean(per_drug):.3f}")
    ax.set(xlabel="Pearson r across held-out cell lines", ylabel="drugs", title=f"{title}: per-drug Pearson")
    ax.legend()
    _save(fig, out_dir / f"{stem}_per_drug_pearson.png")
    paths.append(out_dir / f"{stem}_per_drug_pearson.png")
    return paths


def loss_curve_plot(train_loss: list[float], val_loss: list[float], title: str, path: Path,
                    val_label: str = "validation (held-out cell lines)",
                    ylabel: str = "masked MSE (drug-standardised)") -> Path:
    """Training and validation loss per epoch."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="training")
    ax.plot(epochs, val_loss, label=val_label)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend()
    _save(fig, path)
    return path
