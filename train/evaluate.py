"""Cross-validated evaluation: every model and baseline on the same saved, seeded folds.

Each (model, fold) is one task (``fit_fold``), run serially or on Ray (``parallel.py``); the same seed gives
the same folds and the same metrics either way. Writes to ``out_dir`` (``benchmarks/results`` by default):
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

from drugresponse.errors import UserError
from drugresponse.files import write_text_atomic
from drugresponse.train_names import MODEL_NAMES as CLI_MODEL_NAMES

from . import metrics
from .baselines import DrugMean, DrugMeanPlusCellEffect, TissueDrugMean
from .attributions import ContributionSummary
from .matrix import ResponseMatrix
from .model import ModelConfig
from .neural import NeuralPredictor
from .presets import PRESETS, candidates_for
from .ridge import RidgePerDrug
from .trees import GradientBoostingPerDrug
from .parallel import run_tasks, set_threads
from .splits import TRAIN_ONLY, load_folds, make_folds, save_folds, train_mask

BASELINES = {
    "drug_mean": DrugMean,
    "tissue_drug_mean": TissueDrugMean,
    "drug_mean_plus_cell_effect": DrugMeanPlusCellEffect,
    "ridge_per_drug": RidgePerDrug,
    "ridge_per_drug_drivers": lambda: RidgePerDrug(name="ridge_per_drug_drivers", drivers=True),
    "gradient_boosting_per_drug": GradientBoostingPerDrug,
}
MODEL_NAMES = CLI_MODEL_NAMES  # the neural model plus BASELINES, in the order tables show them
TUNED = "mlp_ensemble_tuned"  # the neural model with each fold's tuned configuration (evaluate --tuned)
ABLATION_SUFFIX = "_without_drivers"  # the neural model's own prediction with its driver head left out


@dataclass(frozen=True)
class EvaluationConfig:
    dataset: str = "GDSC2"
    split: str = "lco"
    n_folds: int = 5
    seed: int = 0
    preset: str = "full"
    models: tuple[str, ...] = MODEL_NAMES
    threads: int = 1  # torch threads per fit, the same in every execution path (results depend on it)
    workers: int = 0  # 0: serial in this process; N: Ray with N local workers
    address: str | None = None  # join this Ray cluster instead of starting a local one
    merge: bool = False  # add these models to the saved results of the same evaluation instead of replacing them
    tuned: dict | None = None  # fold -> configuration for "mlp_ensemble_tuned" (from `drugresponse tune`)

    @property
    def stem(self) -> str:
        return f"{self.dataset}_{self.split}"


def make_predictor(name: str, preset: str, tuned: dict | None = None):
    if name in BASELINES:
        return BASELINES[name]()
    if name == "mlp_ensemble":
        return NeuralPredictor(config=PRESETS[preset], candidates=candidates_for(preset))
    if name == TUNED:
        if tuned is None:
            raise UserError(f"{TUNED} needs tuning results: run `drugresponse tune` first, then evaluate --tuned.")
        config = ModelConfig.from_dict(tuned)
        return NeuralPredictor(config=config, candidates=(config,), name=TUNED)
    raise UserError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}.")


def _folds(matrix: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> np.ndarray:
    path = out_dir / "folds" / f"{config.dataset}_{config.split}_seed{config.seed}.parquet"
    if path.is_file():
        folds = load_folds(matrix, path)
        if int(folds.max()) + 1 != config.n_folds:
            raise UserError(f"the saved folds {path} have {int(folds.max()) + 1} folds, not the {config.n_folds} asked "
                            f"for; pass --folds {int(folds.max()) + 1}, or delete the file to make new folds.")
        return folds
    folds = make_folds(matrix, config.split, config.n_folds, config.seed)
    save_folds(matrix, folds, path)
    print(f"made {config.n_folds} {config.split} folds (seed {config.seed}), saved to {path}", file=sys.stderr)
    return folds


def _predictions(name: str, predictor, matrix: ResponseMatrix, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The predictor's out-of-fold predictions, plus the neural model's without its driver head."""
    out = {name: predictor.predict(matrix, rows)}
    if isinstance(predictor, NeuralPredictor) and predictor.model_.drivers is not None:
        out[name + ABLATION_SUFFIX] = predictor.predict(matrix, rows, drivers=False)
    return out


def _write_json(path: Path, payload) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=True) + "\n")


def markdown_table(records: list[dict]) -> str:
    head = ("| model | baseline | RMSE | MAE | R² | Pearson | Spearman | per-drug Pearson | per-drug Spearman | pairs |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    fmt = lambda v: "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"  # noqa: E731
    # results saved before the "ablation" field existed are labelled by their name
    kind = lambda r: ("yes" if r["baseline"] else "ablation"  # noqa: E731
                      if r.get("ablation", r["model"].endswith(ABLATION_SUFFIX)) else "no")
    rows = [f"| {r['model']} | {kind(r)} | {fmt(r['rmse'])} | {fmt(r['mae'])} | {fmt(r['r2'])} "
            f"| {fmt(r['pearson'])} | {fmt(r['spearman'])} | {fmt(r['per_drug_pearson'])} | "
            f"{fmt(r['per_drug_spearman'])} | {r['n_pairs']:,} |" for r in records]
    return head + "\n".join(rows) + "\n"


def fit_fold(matrix: ResponseMatrix, folds: np.ndarray, name: str, preset: str, split: str, seed: int,
             threads: int, fold: int, tuned: dict | None = None) -> dict:
    """Fit one model on one fold's training pairs and predict its held-out lines (a task: pure, seeded)."""
    set_threads(threads)
    start = time.perf_counter()
    test = folds == fold
    predictor = make_predictor(name, preset, tuned).fit(matrix, train_mask(folds, fold), split, seed * 100 + fold)
    rows = np.nonzero(test.any(axis=1))[0]
    result = {"fold": fold, "rows": rows, "predictions": _predictions(name, predictor, matrix, rows),
              "seconds": time.perf_counter() - start}
    if getattr(predictor, "history_", None) is not None:
        result["history"] = {"fold": fold, "chosen": predictor.chosen_.to_dict(), "search": predictor.search_,
                             **predictor.history_.to_dict()}
    if name == "mlp_ensemble" and split == "lco":
        summary = ContributionSummary(matrix.drugs)
        summary.add(predictor.model_, matrix, rows)
        result["contributions"] = summary.sums
    return result


def evaluate(matrix: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> list[dict]:
    """Run every requested model on the saved folds; write and return one record per model (and ablation)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folds = _folds(matrix, config, out_dir)
    tasks = [(name, config.preset, config.split, config.seed, config.threads, fold,
              (config.tuned or {}).get(fold) if name == TUNED else None)
             for name in config.models for fold in range(config.n_folds)]
    results = run_tasks(fit_fold, tasks, config.workers, config.address, desc=f"{config.split} folds",
                        shared={"matrix": matrix, "folds": folds})
    rows_all, cols_all = np.nonzero(folds >= 0)
    measured = matrix.ln_ic50[rows_all, cols_all]
    records, predictions, histories, extras = [], [], {}, {}
    for name in config.models:
        fold_results = [r for (task_name, *_), r in zip(tasks, results) if task_name == name]
        oof, per_fold = {}, {}
        for result in fold_results:
            test = folds == result["fold"]
            rows = result["rows"]
            r, c = np.nonzero(test)
            for variant, predicted in result["predictions"].items():
                target = oof.setdefault(variant, np.full(matrix.ln_ic50.shape, np.nan, dtype=np.float32))
                target[rows] = np.where(test[rows], predicted, target[rows])
                per_fold.setdefault(variant, []).append(
                    {"fold": result["fold"], **metrics.summary(c, matrix.ln_ic50[r, c], target[r, c])})
        seconds = round(sum(r["seconds"] for r in fold_results), 1)
        for variant, values in oof.items():
            predicted = values[rows_all, cols_all]
            record = {"dataset": config.dataset, "split": config.split, "model": variant,
                      "baseline": bool(BASELINES.get(variant) is not None),
                      "ablation": variant.endswith(ABLATION_SUFFIX), "folds": config.n_folds,
                      **metrics.summary(cols_all, measured, predicted),
                      "seconds": seconds, "seed": config.seed, "preset": config.preset, "threads": config.threads,
                      "data_sha256": matrix.data_sha256,
                      "train_only_cell_lines": int(np.sum((folds == TRAIN_ONLY).any(axis=1))),
                      "per_fold": per_fold[variant]}
            records.append(record)
            print(f"{variant}: RMSE {record['rmse']:.3f}, per-drug Pearson {record['per_drug_pearson']:.3f} "
                  f"(fits took {seconds:.0f} s)", file=sys.stderr)
            predictions.append(pl.DataFrame({
                "model": variant, "cell_line": np.array(matrix.cell_lines)[rows_all],
                "drug": np.array(matrix.drugs)[cols_all], "fold": folds[rows_all, cols_all], "measured": measured,
                "predicted": predicted}))
        if any("history" in r for r in fold_results):
            histories[name] = [r["history"] for r in fold_results]
        if name == "mlp_ensemble":
            extras.update(_held_out_extras(matrix, config, fold_results))
    table = pl.concat(predictions).with_columns(pl.col("measured", "predicted").cast(pl.Float32),
                                                pl.col("fold").cast(pl.Int8))
    if config.merge:
        records, table, histories = _merge_with_saved(out_dir, config, records, table, histories)
    _write_outputs(out_dir, config.stem, records, table, histories, config.n_folds)
    for filename, frame in extras.items():
        _write_parquet(out_dir / filename, frame)
    return records


def _held_out_extras(matrix: ResponseMatrix, config: EvaluationConfig, fold_results: list[dict]) -> dict:
    """Whole lines held out: every drug's prediction for each held-out line (what the app shows as the honest
    prediction for a GDSC line) and, for LCO, the held-out contribution summary."""
    if config.split == "lpo":
        return {}
    dense = np.full(matrix.ln_ic50.shape, np.nan, np.float32)
    for result in fold_results:
        dense[result["rows"]] = result["predictions"]["mlp_ensemble"]
    held_out = pl.DataFrame(dense, schema=matrix.drugs, orient="row").insert_column(
        0, pl.Series("cell_line", matrix.cell_lines))
    out = {f"{config.stem}_mlp_ensemble_heldout_all_drugs.parquet": held_out}
    if config.split == "lco":
        summary = ContributionSummary(matrix.drugs)
        for result in fold_results:
            summary.merge(result["contributions"])
        lines = sum(len(r["rows"]) for r in fold_results)
        out[f"{config.stem}_mlp_ensemble_contributions.parquet"] = summary.table(lines)
    return out


def _merge_with_saved(out_dir: Path, config: EvaluationConfig, records: list[dict], table: pl.DataFrame,
                      histories: dict) -> tuple[list[dict], pl.DataFrame, dict]:
    """Add this run's models to the saved results of the same split, folds, seed, preset and data (replacing any
    saved record of the same name), so one model can be added to a table without re-running the others."""
    saved_path = out_dir / f"{config.stem}.json"
    if not saved_path.is_file():
        return records, table, histories
    saved = json.loads(saved_path.read_text())
    same = lambda r: all(r.get(k) == records[0].get(k) for k in ("data_sha256", "seed", "preset", "folds", "threads"))  # noqa: E731
    if not all(same(r) for r in saved):
        raise UserError(f"{saved_path} was evaluated with other data, seed, preset, folds or threads; --merge only "
                        "adds models to the same evaluation.")
    ran = {r["model"] for r in records}
    kept = [r for r in saved if r["model"] not in ran]
    order = {name: i for i, name in enumerate(MODEL_NAMES)}
    base = lambda name: name.removesuffix(ABLATION_SUFFIX)  # noqa: E731
    merged = sorted(kept + records, key=lambda r: (order.get(base(r["model"]), len(order)), r["model"]))
    old = pl.read_parquet(out_dir / f"{config.stem}_predictions.parquet").filter(~pl.col("model").is_in(list(ran)))
    history_path = out_dir / f"{config.stem}_history.json"
    old_histories = json.loads(history_path.read_text()) if history_path.is_file() else {}
    print(f"merged {', '.join(sorted(ran))} into the saved {config.stem} results", file=sys.stderr)
    return merged, pl.concat([old, table]), {**old_histories, **histories}


def _write_parquet(path: Path, frame: pl.DataFrame) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp, compression="zstd", compression_level=19)
    tmp.replace(path)


def _write_outputs(out_dir: Path, stem: str, records: list[dict], table: pl.DataFrame, histories: dict,
                   n_folds: int) -> None:
    _write_json(out_dir / f"{stem}.json", records)
    write_text_atomic(out_dir / f"{stem}.md", f"**{records[0]['dataset']}, {records[0]['split'].upper()}, {n_folds} "
                      f"folds, seed {records[0]['seed']}**\n\n" + markdown_table(records))
    _write_parquet(out_dir / f"{stem}_predictions.parquet", table)
    if histories:
        _write_json(out_dir / f"{stem}_history.json", histories)
