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
from drugresponse.train_names import MODEL_NAMES as CLI_MODEL_NAMES

from . import metrics
from .baselines import DrugMean, DrugMeanPlusCellEffect, TissueDrugMean
from .matrix import ResponseMatrix
from .neural import NeuralPredictor
from .presets import PRESETS, candidates_for
from .ridge import RidgePerDrug
from .splits import load_folds, make_folds, save_folds

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
    only_folds: tuple[int, ...] | None = None  # run a subset of the folds (a part, merged by combine_parts)

    @property
    def stem(self) -> str:
        part = "" if self.only_folds is None else "_part" + "-".join(map(str, self.only_folds))
        return f"{self.dataset}_{self.split}{part}"


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
    run_folds = config.only_folds if config.only_folds is not None else tuple(range(config.n_folds))
    rows_all, cols_all = np.nonzero(np.isin(folds, run_folds))
    records, predictions, histories = [], [], {}
    for name in config.models:
        start = time.perf_counter()
        oof = np.full(matrix.ln_ic50.shape, np.nan, dtype=np.float32)
        per_fold, fold_histories = [], []
        for fold in tqdm(run_folds, desc=f"{config.split} {name}", unit="fold", file=sys.stderr):
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
                  "folds_evaluated": list(run_folds),
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
    table = pl.concat(predictions).with_columns(pl.col("measured", "predicted").cast(pl.Float32),
                                                pl.col("fold").cast(pl.Int8))
    _write_outputs(out_dir, config.stem, records, table, histories, config.n_folds)
    return records


def _write_outputs(out_dir: Path, stem: str, records: list[dict], table: pl.DataFrame, histories: dict,
                   n_folds: int) -> None:
    _write_json(out_dir / f"{stem}.json", records)
    evaluated = records[0]["folds_evaluated"]
    which = f"{n_folds} folds" if len(evaluated) == n_folds else \
        f"folds {', '.join(map(str, evaluated))} of {n_folds}"
    (out_dir / f"{stem}.md").write_text(f"**{records[0]['dataset']}, {records[0]['split'].upper()}, {which}, "
                                        f"seed {records[0]['seed']}**\n\n" + markdown_table(records))
    table.write_parquet(out_dir / f"{stem}_predictions.parquet", compression="zstd", compression_level=19)
    if histories:
        _write_json(out_dir / f"{stem}_history.json", histories)


def combine_parts(out_dir: Path, dataset: str, split: str) -> list[dict]:
    """Merge partial runs (``--only-folds``, e.g. run in parallel) into the split's standard outputs.

    Pooled and per-drug metrics are recomputed from the parts' out-of-fold predictions.
    """
    parts = sorted(p for p in out_dir.glob(f"{dataset}_{split}_part*.json") if not p.stem.endswith("_history"))
    if not parts:
        raise UserError(f"no partial runs {dataset}_{split}_part*.json in {out_dir}; run evaluate --only-folds first.")
    runs = [json.loads(p.read_text()) for p in parts]
    table = pl.concat([pl.read_parquet(p.with_name(p.stem + "_predictions.parquet")) for p in parts])
    histories: dict = {}
    for p in parts:
        history = p.with_name(p.stem + "_history.json")
        for name, folds in (json.loads(history.read_text()) if history.is_file() else {}).items():
            histories.setdefault(name, []).extend(folds)
    records = []
    for first in runs[0]:
        name = first["model"]
        part_records = [r for run in runs for r in run if r["model"] == name]
        rows = table.filter(pl.col("model") == name).sort("fold")
        drug_codes = rows["drug"].cast(pl.Categorical).to_physical().to_numpy()
        evaluated = sorted(f for r in part_records for f in r["folds_evaluated"])
        records.append({**{k: first[k] for k in ("dataset", "split", "model", "baseline", "folds")},
                        "folds_evaluated": evaluated,
                        **metrics.summary(drug_codes, rows["measured"].to_numpy(), rows["predicted"].to_numpy()),
                        "seconds": round(sum(r["seconds"] for r in part_records), 1), "seed": first["seed"],
                        "data_sha256": first["data_sha256"],
                        "per_fold": sorted((f for r in part_records for f in r["per_fold"]), key=lambda f: f["fold"])})
    for name in histories:
        histories[name].sort(key=lambda h: h["fold"])
    _write_outputs(out_dir, f"{dataset}_{split}", records, table, histories, runs[0][0]["folds"])
    return records
