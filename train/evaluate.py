"""Cross-validated evaluation: every model and baseline on the same saved, seeded folds.

Writes to ``out_dir`` (``benchmarks/results`` by default):
``<dataset>_<split>.json`` (one record per model, pooled and per fold), ``<dataset>_<split>.md``
(the table the README shows), ``<dataset>_<split>_predictions.parquet`` (out-of-fold predictions),
``<dataset>_<split>_history.json`` (the neural model's loss curves and choices per fold),
``folds/<dataset>_<split>_seed<seed>.parquet`` and plots under ``plots/``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from drugresponse.errors import UserError

from . import metrics
from .baselines import DrugMean, DrugMeanPlusCellEffect, TissueDrugMean
from .matrix import ResponseMatrix
from .model import ModelConfig
from .neural import NeuralPredictor
from .presets import PRESETS, candidates_for
from .ridge import RidgePerDrug
from .splits import load_folds, make_folds, save_folds
from drugresponse.train_names import MODEL_NAMES as CLI_MODEL_NAMES

BASELINES = {
    "drug_mean": DrugMean,
    "tissue_drug_mean": TissueDrugMean,
    "drug_mean_plus_cell_effect": DrugMeanPlusCellEffect,
    "ridge_per_drug": RidgePerDrug,
}
MODEL_NAMES = CLI_MODEL_NAMES  # the neural model plus BASELINES, in the order tables show them


@dataclass(frozen=True)
class EvaluationConfig:
    dataset: str = "GDSC2"
    split: str = "lco"
    n_folds: int = 5
    seed: int = 0
    preset: str = "full"
    models: tuple[str, ...] = MODEL_NAMES


def make_predictor(name: str, preset: str):
    if name in BASELINES:
        return BASELINES[name]()
    if name == "mlp_ensemble":
        return NeuralPredictor(config=PRESETS[preset], candidates=candidates_for(preset))
    raise UserError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}.")


def _folds(matrix: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> np.ndarray:
    path = out_dir / "folds" / f"{config.dataset}_{config.split}_seed{config.seed}.parquet"
    if path.is_file():
        folds = load_folds(matrix, path)
        if int(folds.max()) + 1 == config.n_folds:
            return folds
    folds = make_folds(matrix, config.split, config.n_folds, config.seed)
    save_folds(matrix, folds, path)
    return folds


def _write_json(path: Path, payload) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    tmp.replace(path)


def markdown_table(records: list[dict]) -> str:
    head = ("| model | baseline | RMSE | MAE | R² | Pearson | Spearman | per-drug Pearson | per-drug Spearman | pairs |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    fmt = lambda v: "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"  # noqa: E731
    rows = [f"| {r['model']} | {'yes' if r['baseline'] else 'no'} | {fmt(r['rmse'])} | {fmt(r['mae'])} | {fmt(r['r2'])} "
            f"| {fmt(r['pearson'])} | {fmt(r['spearman'])} | {fmt(r['per_drug_pearson'])} | "
            f"{fmt(r['per_drug_spearman'])} | {r['n_pairs']:,} |" for r in records]
    return head + "\n".join(rows) + "\n"


def evaluate(matrix: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> list[dict]:
    """Run every requested model on the saved folds; write and return one record per model."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folds = _folds(matrix, config, out_dir)
    rows_all, cols_all = np.nonzero(folds >= 0)
    records, predictions, histories = [], [], {}
    for name in config.models:
        start = time.perf_counter()
        oof = np.full(matrix.ln_ic50.shape, np.nan, dtype=np.float32)
        per_fold, fold_histories = [], []
        for fold in tqdm(range(config.n_folds), desc=f"{config.split} {name}", unit="fold", file=sys.stderr):
            test = folds == fold
            predictor = make_predictor(name, config.preset).fit(matrix, (folds >= 0) & ~test, config.split,
                                                               config.seed * 100 + fold)
            rows = np.nonzero(test.any(axis=1))[0]
            oof[rows] = np.where(test[rows], predictor.predict(matrix, rows), oof[rows])
            r, c = np.nonzero(test)
            per_fold.append({"fold": fold, **metrics.summary(c, matrix.ln_ic50[r, c], oof[r, c])})
            if getattr(predictor, "history_", None) is not None:
                fold_histories.append({"fold": fold, "chosen": predictor.chosen_.__dict__,
                                       "search": predictor.search_, **predictor.history_.to_dict()})
        measured, predicted = matrix.ln_ic50[rows_all, cols_all], oof[rows_all, cols_all]
        record = {"dataset": config.dataset, "split": config.split, "model": name,
                  "baseline": bool(BASELINES.get(name) is not None), "folds": config.n_folds,
                  **metrics.summary(cols_all, measured, predicted),
                  "seconds": round(time.perf_counter() - start, 1), "seed": config.seed,
                  "data_sha256": matrix.data_sha256, "per_fold": per_fold}
        records.append(record)
        print(f"{name}: RMSE {record['rmse']:.3f}, per-drug Pearson {record['per_drug_pearson']:.3f} "
              f"({record['seconds']:.0f} s)", file=sys.stderr)
        predictions.append(pl.DataFrame({
            "model": name, "cell_line": np.array(matrix.cell_lines)[rows_all], "drug": np.array(matrix.drugs)[cols_all],
            "fold": folds[rows_all, cols_all], "measured": measured, "predicted": predicted}))
        if fold_histories:
            histories[name] = fold_histories
    stem = f"{config.dataset}_{config.split}"
    _write_json(out_dir / f"{stem}.json", records)
    (out_dir / f"{stem}.md").write_text(
        f"**{config.dataset}, {config.split.upper()}, {config.n_folds} folds, seed {config.seed}**\n\n"
        + markdown_table(records))
    table = pl.concat(predictions).with_columns(pl.col("measured", "predicted").cast(pl.Float32),
                                                pl.col("fold").cast(pl.Int8))
    table.write_parquet(out_dir / f"{stem}_predictions.parquet", compression="zstd", compression_level=19)
    if histories:
        _write_json(out_dir / f"{stem}_history.json", histories)
    return records
