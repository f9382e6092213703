"""Tables for the app's plots, built from the committed evaluation results (pandas, as Gradio plots want)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from .catalog import Catalog

MAX_POINTS = 3000
SPLIT_TITLES = {"lco": "LCO: unseen cell lines", "lpo": "LPO: unseen pairs", "lto": "LTO: unseen tissues"}


def _oof(catalog: Catalog) -> pl.DataFrame | None:
    return catalog.evaluation("lco_predictions.parquet")


def metrics_table(catalog: Catalog) -> pd.DataFrame:
    rows = []
    for split in ("lco", "lpo", "lto"):
        for record in catalog.evaluation(f"GDSC2_{split}.json") or []:
            rows.append({"split": SPLIT_TITLES[split], "model": record["model"],
                         "baseline": "yes" if record["baseline"] else "no",
                         **{k: round(record[k], 3) if record[k] == record[k] else None
                            for k in ("rmse", "mae", "r2", "pearson", "per_drug_pearson", "per_drug_spearman")}})
    return pd.DataFrame(rows)


def actual_vs_predicted(catalog: Catalog, drug: str | None = None) -> pd.DataFrame:
    oof = _oof(catalog)
    if oof is None:
        return pd.DataFrame({"predicted": [], "measured": []})
    if drug:
        oof = oof.filter(pl.col("drug") == drug)
    if oof.height > MAX_POINTS:
        oof = oof.sample(MAX_POINTS, seed=0)
    return oof.select("predicted", "measured", "drug", "cell_line").to_pandas()


def residuals(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(histogram of residuals, residuals vs predicted sample)."""
    oof = _oof(catalog)
    if oof is None:
        return pd.DataFrame({"residual": [], "pairs": []}), pd.DataFrame({"predicted": [], "residual": []})
    residual = (oof["measured"] - oof["predicted"]).to_numpy()
    counts, edges = np.histogram(residual, bins=np.arange(-6, 6.25, 0.25))
    histogram = pd.DataFrame({"residual": np.round((edges[:-1] + edges[1:]) / 2, 3), "pairs": counts})
    sample = oof.with_columns((pl.col("measured") - pl.col("predicted")).alias("residual"))
    if sample.height > MAX_POINTS:
        sample = sample.sample(MAX_POINTS, seed=1)
    return histogram, sample.select("predicted", "residual").to_pandas()


def loss_curves(catalog: Catalog) -> pd.DataFrame:
    curves = catalog.evaluation("loss_curve.json")
    rows = []
    for member in (curves or {}).get("members", []):
        for kind in ("train_loss", "val_loss"):
            label = f"member {member['member']} {'training' if kind == 'train_loss' else 'validation'}"
            rows += [{"epoch": e + 1, "loss": v, "curve": label} for e, v in enumerate(member[kind])]
    return pd.DataFrame(rows or {"epoch": [], "loss": [], "curve": []})


def drug_pearson(catalog: Catalog, drug: str) -> str:
    oof = _oof(catalog)
    if oof is None or not drug:
        return "No held-out predictions are available."
    part = oof.filter(pl.col("drug") == drug)
    if part.height < 10:
        return f"**{drug}**: fewer than 10 held-out cell lines; no correlation reported."
    r = float(np.corrcoef(part["measured"].to_numpy(), part["predicted"].to_numpy())[0, 1])
    return (f"**{drug}**: Pearson r = {r:.3f} between measured and predicted ln IC50 across {part.height} cell lines "
            f"the model never saw in training (LCO, out of fold).")
