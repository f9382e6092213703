"""Everything besides the ONNX file that the app reads from ``assets/``.

- ``cell_lines.parquet``: annotation of every cell line with a full profile;
- ``profiles_<modality>.parquet``: their raw profiles, compact (float16 expression, int8 mutation and
  copy number) so each file stays under 10 MB;
- ``measured.parquet``: the screen's measured ln IC50 for the model's drugs;
- ``evaluation/``: cross-validation records per split, the LCO out-of-fold predictions of the model,
  the final model's loss curves, and split-conformal interval widths per drug (``conformal.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from drugresponse.train.bundle import MODALITIES, Bundle

PROFILE_TYPES = {"expression": np.float16, "mutation": np.int8, "copy_number": np.int8}
MODEL = "mlp_ensemble"
COVERAGE = 0.8


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def write_profiles(bundle: Bundle, assets: Path) -> None:
    names = bundle.cell_lines["cell_line"].to_list()
    for modality in MODALITIES:
        values = bundle.omics(modality).astype(PROFILE_TYPES[modality])
        column = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])
        table = pa.table({"cell_line": names, modality: column})
        _atomic_write(assets / f"profiles_{modality}.parquet", lambda p: pq.write_table(
            table, p, compression="zstd", compression_level=19, use_dictionary=["cell_line"],
            use_byte_stream_split=[f"{modality}.list.element"] if modality == "expression" else False))


def conformal_intervals(predictions: pl.DataFrame, coverage: float = COVERAGE, seed: int = 0) -> dict:
    """Per-drug split-conformal residual quantiles from held-out (LCO, out-of-fold) predictions.

    Cell lines are split in half at random: the quantiles come from the calibration half, and the
    coverage they reach is measured on the other half.
    """
    cells = np.array(sorted(predictions["cell_line"].unique().to_list()))
    rng = np.random.default_rng(seed)
    calibration = set(rng.choice(cells, size=len(cells) // 2, replace=False).tolist())
    table = predictions.with_columns((pl.col("measured") - pl.col("predicted")).alias("residual"),
                                     pl.col("cell_line").is_in(list(calibration)).alias("calibration"))
    lo_level, hi_level = (1 - coverage) / 2, 1 - (1 - coverage) / 2
    per_drug, covered, total = {}, 0, 0
    for (drug,), group in table.group_by("drug", maintain_order=True):
        calib = group.filter(pl.col("calibration"))["residual"].to_numpy()
        test = group.filter(~pl.col("calibration"))["residual"].to_numpy()
        n = len(calib)
        if n < 10:
            continue
        # finite-sample correction of split conformal: quantile levels widened by 1/n
        lo = float(np.quantile(calib, max(0.0, lo_level - lo_level / n)))
        hi = float(np.quantile(calib, min(1.0, hi_level + (1 - hi_level) / n)))
        per_drug[drug] = {"lower": lo, "upper": hi, "calibration_pairs": n,
                          "coverage": float(np.mean((test >= lo) & (test <= hi))) if len(test) else None}
        covered += int(np.sum((test >= lo) & (test <= hi)))
        total += len(test)
    return {"nominal": coverage, "method": "split-conformal on LCO out-of-fold residuals, per drug",
            "empirical_coverage": covered / max(total, 1), "test_pairs": total, "drugs": per_drug}


def write_evaluation(results: Path, dataset: str, checkpoint: Path, assets: Path) -> dict:
    """Copy the evaluation records, the model's LCO out-of-fold predictions and the conformal widths."""
    out = assets / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for split in ("lco", "lpo", "lto"):
        source = results / f"{dataset}_{split}.json"
        if source.is_file():
            records = json.loads(source.read_text())
            shutil.copyfile(source, out / source.name)
            summary[split] = {r["model"]: {k: r[k] for k in ("rmse", "mae", "r2", "pearson", "spearman",
                                                             "per_drug_pearson", "per_drug_spearman", "n_pairs",
                                                             "folds", "baseline")} for r in records}
    predictions_path = results / f"{dataset}_lco_predictions.parquet"
    if predictions_path.is_file():
        oof = pl.read_parquet(predictions_path).filter(pl.col("model") == MODEL).drop("model")
        _atomic_write(out / "lco_predictions.parquet", lambda p: oof.write_parquet(p, compression="zstd"))
        conformal = conformal_intervals(oof)
        _atomic_write(out / "conformal.json", lambda p: p.write_text(json.dumps(conformal, indent=1) + "\n"))
        summary["conformal_coverage"] = conformal["empirical_coverage"]
    history = results / f"{dataset}_lco_history.json"
    if history.is_file():
        shutil.copyfile(history, out / "lco_history.json")
    if (checkpoint / "loss_curve.json").is_file():
        shutil.copyfile(checkpoint / "loss_curve.json", out / "loss_curve.json")
    return summary


def write_serving_assets(bundle: Bundle, dataset: str, drugs: list[str], results: Path, checkpoint: Path,
                         assets: Path) -> dict:
    assets.mkdir(parents=True, exist_ok=True)
    write_profiles(bundle, assets)
    table = bundle.cell_lines.drop("key")
    _atomic_write(assets / "cell_lines.parquet", lambda p: table.write_parquet(p, compression="zstd"))
    measured = bundle.dataset_responses(dataset).filter(pl.col("drug").is_in(drugs)).select(
        "cell_line", "drug", "ln_ic50", "auc", "n_measurements")
    _atomic_write(assets / "measured.parquet", lambda p: measured.write_parquet(p, compression="zstd"))
    return write_evaluation(results, dataset, checkpoint, assets)
