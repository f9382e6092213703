"""Everything besides the ONNX file that the app reads from ``assets/``.

- ``cell_lines.parquet``: annotation of every cell line with a full profile;
- ``profiles_<modality>.parquet``: their raw profiles, compact (float16 expression and driver events, int8
  mutation and copy number) so each file stays under 10 MB;
- ``measured.parquet``: the screen's measured ln IC50 for the model's drugs;
- ``evaluation/``: cross-validation records per split, the LCO out-of-fold predictions of the model (measured
  pairs, and every drug for each held-out line: what the app shows for a GDSC line), the final model's loss
  curves, and split-conformal interval half-widths per drug with their measured coverage (``conformal.json``).
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

PROFILE_TYPES = {"expression": np.float16, "mutation": np.int8, "copy_number": np.int8, "drivers": np.float16}
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


def conformal_quantile(residuals: np.ndarray, coverage: float = COVERAGE) -> float:
    """Split-conformal half-width: the ceil((n + 1) * coverage)-th smallest |residual| (inf if n is too small).

    With exchangeable calibration and test residuals, |residual| <= this for a new pair with probability at
    least ``coverage``.
    """
    scores = np.sort(np.abs(residuals))
    k = int(np.ceil((len(scores) + 1) * coverage))
    return float(scores[k - 1]) if k <= len(scores) else float("inf")


def conformal_intervals(predictions: pl.DataFrame, tissues: dict[str, str], coverage: float = COVERAGE,
                        seed: int = 0) -> dict:
    """Per-drug split-conformal half-widths from held-out (LCO out-of-fold) residuals, and their coverage.

    The shipped half-width of a drug uses all its held-out residuals. Its coverage is measured by
    cross-calibration: cell lines are split in half at random, each half's half-widths are computed and
    tested on the other half; coverage is reported overall, per drug and per tissue.
    """
    cells = np.array(sorted(predictions["cell_line"].unique().to_list()))
    rng = np.random.default_rng(seed)
    half_a = set(rng.choice(cells, size=len(cells) // 2, replace=False).tolist())
    table = predictions.with_columns((pl.col("measured") - pl.col("predicted")).alias("residual"),
                                     pl.col("cell_line").is_in(list(half_a)).alias("half_a"),
                                     pl.col("cell_line").replace_strict(tissues, default="unknown").alias("tissue"))
    per_drug, tested = {}, []
    for (drug,), group in table.group_by("drug", maintain_order=True):
        residual, in_a = group["residual"].to_numpy(), group["half_a"].to_numpy()
        half_width = conformal_quantile(residual, coverage)
        if not np.isfinite(half_width):
            continue
        covered = np.zeros(len(residual), dtype=bool)
        for calibrate in (in_a, ~in_a):
            width = conformal_quantile(residual[calibrate], coverage)
            covered[~calibrate] = np.abs(residual[~calibrate]) <= width
        per_drug[drug] = {"half_width": half_width, "calibration_pairs": len(residual),
                          "coverage": float(covered.mean())}
        tested.append(group.select("drug", "tissue").with_columns(pl.Series("covered", covered)))
    tested = pl.concat(tested)
    per_tissue = tested.group_by("tissue").agg(pl.col("covered").mean().alias("coverage"),
                                               pl.len().alias("pairs")).sort("tissue")
    return {"nominal": coverage, "method": "split-conformal, |residual| quantile ceil((n+1)(1-alpha))/n per drug, "
                                           "from LCO out-of-fold residuals",
            "coverage_method": "cross-calibration: half-widths from one random half of the cell lines, tested on "
                               "the other half, both ways",
            "empirical_coverage": float(tested["covered"].mean()), "test_pairs": tested.height,
            "per_tissue": {t: {"coverage": c, "pairs": n} for t, c, n in per_tissue.iter_rows()},
            "drugs": per_drug}


def write_evaluation(results: Path, dataset: str, checkpoint: Path, assets: Path, tissues: dict[str, str]) -> dict:
    """Copy the evaluation records, the model's LCO out-of-fold predictions and the conformal widths."""
    out = assets / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for split in ("lco", "lpo", "lto"):
        source = results / f"{dataset}_{split}.json"
        if source.is_file():
            records = json.loads(source.read_text())
            shutil.copyfile(source, out / source.name)
            summary[split] = {r["model"]: {k: r.get(k) for k in ("rmse", "mae", "r2", "pearson", "spearman",
                                                                 "per_drug_pearson", "per_drug_spearman", "n_pairs",
                                                                 "folds", "baseline", "ablation")} for r in records}
    predictions_path = results / f"{dataset}_lco_predictions.parquet"
    if predictions_path.is_file():
        oof = pl.read_parquet(predictions_path).filter(pl.col("model") == MODEL).drop("model")
        _atomic_write(out / "lco_predictions.parquet", lambda p: oof.write_parquet(p, compression="zstd"))
        conformal = conformal_intervals(oof, tissues)
        _atomic_write(out / "conformal.json", lambda p: p.write_text(json.dumps(conformal, indent=1) + "\n"))
        summary["conformal_coverage"] = conformal["empirical_coverage"]
    for source, target in ((f"{dataset}_lco_{MODEL}_heldout_all_drugs.parquet", "lco_heldout_all_drugs.parquet"),
                           (f"{dataset}_lco_{MODEL}_contributions.parquet", "lco_contributions.parquet"),
                           ("biomarkers.json", "biomarkers.json")):
        if (results / source).is_file():
            shutil.copyfile(results / source, out / target)
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
    targets = bundle.drugs.filter(pl.col("drug").is_in(drugs)).select("drug", "target")
    _atomic_write(assets / "drugs.parquet", lambda p: targets.write_parquet(p, compression="zstd"))
    measured = bundle.dataset_responses(dataset).filter(pl.col("drug").is_in(drugs)).select(
        "cell_line", "drug", "ln_ic50", "auc", "n_measurements")
    _atomic_write(assets / "measured.parquet", lambda p: measured.write_parquet(p, compression="zstd"))
    tissues = dict(zip(table["cell_line"], table["tissue"]))
    return write_evaluation(results, dataset, checkpoint, assets, tissues)
