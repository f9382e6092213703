"""Cross-validated evaluation: every model and baseline on the same saved, seeded folds.

Each (model, fold) is one task (``fit_fold``), run serially or on Ray (``ray_tasks.py``); the same seed gives
the same folds and the same metrics either way. Writes the result files of ``results.py`` to ``out_dir``
(``benchmarks/results`` by default), the folds to ``folds/<dataset>_<split>_seed<seed>.parquet``, and, for the
neural model on whole held-out lines, every drug's held-out prediction per line (and on LCO its contribution
summary).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from ..data.response_matrix import BOTH, SCREENS, ResponseMatrix, screen_column
from ..data.splits import (
    NOT_MEASURED,
    TRAIN_ONLY,
    follows,
    line_folds,
    load_folds,
    make_folds,
    pair_folds,
    save_folds,
    train_mask,
)
from ..model.attributions import ContributionSummary
from ..model.predictor import NeuralPredictor
from . import metrics
from .model_names import ABLATION_SUFFIX, MODEL_NAMES, NEURAL_MODEL, TUNED_MODEL
from .ray_tasks import run_tasks, set_threads
from .registry import is_baseline, make_predictor
from .results import merge_with_saved, write_results
from .screens import write_per_screen


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
    anchor: dict | None = None  # cell line -> its GDSC2 fold, which other screens' lco/lto folds keep (see make_folds)

    @property
    def stem(self) -> str:
        return f"{self.dataset}_{self.split}"


def _folds(matrix: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> np.ndarray:
    path = out_dir / "folds" / f"{config.dataset}_{config.split}_seed{config.seed}.parquet"
    if path.is_file():
        folds = load_folds(matrix, path)
        if int(folds.max()) + 1 != config.n_folds:
            raise UserError(f"the saved folds {path} have {int(folds.max()) + 1} folds, not the {config.n_folds} asked "
                            f"for; pass --folds {int(folds.max()) + 1}, or delete the file to make new folds.")
        if config.anchor and not follows(matrix, folds, config.split, config.anchor):
            raise UserError(f"the saved folds {path} do not follow GDSC2's folds (a line or pair held out there is in "
                            "another fold here, so its other-screen responses would be learnt): delete the file to "
                            "make folds that do.")
        return folds
    folds = make_folds(matrix, config.split, config.n_folds, config.seed, config.anchor)
    save_folds(matrix, folds, path)
    print(f"made {config.n_folds} {config.split} folds (seed {config.seed}), saved to {path}", file=sys.stderr)
    return folds


def reference_anchor(reference: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> dict | None:
    """GDSC2's fold of each line (lco, lto) or pair (lpo), for another screen's folds to keep: a test line, or a test
    pair's twin in the other screen, is then held out by both screens' models at once (no response of it, from either
    screen, is learnt), and their figures pair."""
    if config.dataset == reference.dataset:
        return None
    reference_config = EvaluationConfig(dataset=reference.dataset, split=config.split, n_folds=config.n_folds,
                                        seed=config.seed)
    folds = _folds(reference, reference_config, out_dir)
    return pair_folds(reference, folds) if config.split == "lpo" else line_folds(reference, folds)


def follow_gdsc2_folds(config: EvaluationConfig, matrix: ResponseMatrix, open_screen, out_dir: Path
                       ) -> EvaluationConfig:
    """The configuration that makes ``matrix``'s folds follow GDSC2's: GDSC1's lco/lto folds keep each line's GDSC2
    fold (``anchor``); the both-screens folds are the screens' own side by side, saved before the run (``joint_folds``).
    ``open_screen(name)`` gives a screen's matrix."""
    if config.dataset == "GDSC2":
        return config
    gdsc2 = open_screen("GDSC2")
    if config.dataset == BOTH:
        joint_folds({s: gdsc2 if s == "GDSC2" else open_screen(s) for s in SCREENS}, matrix, config, out_dir)
        return config
    return replace(config, anchor=reference_anchor(gdsc2, config, out_dir))


def joint_folds(screens: dict[str, ResponseMatrix], joint: ResponseMatrix, config: EvaluationConfig,
                out_dir: Path) -> None:
    """Save the folds of the both-screens matrix: each screen's own folds (GDSC1's anchored to GDSC2's lines), side
    by side. A pair is then tested in the same fold whether a model learns one screen or both, so the joint and the
    per-screen figures pair up, and on lco and lto a test line's responses from either screen are all held out."""
    path = out_dir / "folds" / f"{joint.dataset}_{config.split}_seed{config.seed}.parquet"
    reference = screens["GDSC2"]
    per_screen = {}
    for name, screen in screens.items():
        screen_config = EvaluationConfig(dataset=name, split=config.split, n_folds=config.n_folds, seed=config.seed)
        if name != reference.dataset:
            screen_config = replace(screen_config, anchor=reference_anchor(reference, screen_config, out_dir))
        folds = _folds(screen, screen_config, out_dir)
        rows, cols = np.nonzero(folds != NOT_MEASURED)
        per_screen.update({(screen.cell_lines[i], screen_column(screen.drugs[j], name)): folds[i, j]
                           for i, j in zip(rows, cols)})
    folds = np.full(joint.ln_ic50.shape, NOT_MEASURED, dtype=np.int8)
    for i, line in enumerate(joint.cell_lines):
        for j, drug in enumerate(joint.drugs):
            fold = per_screen.get((line, drug))
            if fold is not None:
                folds[i, j] = fold
    if path.is_file():  # saved folds are reused only if they are still the two screens' own, side by side
        if not np.array_equal(load_folds(joint, path), folds):
            raise UserError(f"the saved folds {path} are not the two screens' own folds side by side; delete it to "
                            "make them again.")
        return
    save_folds(joint, folds, path)


def _predictions(name: str, predictor, matrix: ResponseMatrix, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The predictor's out-of-fold predictions, plus the neural model's without its driver head."""
    out = {name: predictor.predict(matrix, rows)}
    if isinstance(predictor, NeuralPredictor) and predictor.model_.drivers is not None:
        out[name + ABLATION_SUFFIX] = predictor.predict(matrix, rows, drivers=False)
    return out


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
    if name == NEURAL_MODEL and split == "lco":
        summary = ContributionSummary(matrix.drugs)
        summary.add(predictor.model_, matrix, rows)
        result["contributions"] = summary.sums
    return result


def evaluate(matrix: ResponseMatrix, config: EvaluationConfig, out_dir: Path) -> list[dict]:
    """Run every requested model on the saved folds; write and return one record per model (and ablation)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folds = _folds(matrix, config, out_dir)
    tasks = [(name, config.preset, config.split, config.seed, config.threads, fold,
              (config.tuned or {}).get(fold) if name == TUNED_MODEL else None)
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
                      "baseline": is_baseline(variant),
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
        if name == NEURAL_MODEL:
            extras.update(_held_out_extras(matrix, config, fold_results))
    table = pl.concat(predictions).with_columns(pl.col("measured", "predicted").cast(pl.Float32),
                                                pl.col("fold").cast(pl.Int8))
    if config.merge:
        records, table, histories = merge_with_saved(out_dir, config.stem, records, table, histories)
    write_results(out_dir, config.stem, records, table, histories, config.n_folds, extras)
    if config.dataset == BOTH:
        for stem in write_per_screen(out_dir, config.stem):
            print(f"wrote this network's {stem.replace('_', ' ')} figures into {out_dir / stem}.json", file=sys.stderr)
    return records


def _held_out_extras(matrix: ResponseMatrix, config: EvaluationConfig, fold_results: list[dict]) -> dict:
    """Whole lines held out: every drug's prediction for each held-out line (what the app shows as the honest
    prediction for a GDSC line) and, for LCO, the held-out contribution summary."""
    if config.split == "lpo":
        return {}
    dense = np.full(matrix.ln_ic50.shape, np.nan, np.float32)
    for result in fold_results:
        dense[result["rows"]] = result["predictions"][NEURAL_MODEL]
    held_out = pl.DataFrame(dense, schema=matrix.drugs, orient="row").insert_column(
        0, pl.Series("cell_line", matrix.cell_lines))
    out = {f"{config.stem}_{NEURAL_MODEL}_heldout_all_drugs.parquet": held_out}
    if config.split == "lco":
        summary = ContributionSummary(matrix.drugs)
        for result in fold_results:
            summary.merge(result["contributions"])
        lines = sum(len(r["rows"]) for r in fold_results)
        out[f"{config.stem}_{NEURAL_MODEL}_contributions.parquet"] = summary.table(lines)
    return out
