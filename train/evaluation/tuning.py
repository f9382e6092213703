"""Hyper-parameter search nested in the outer folds: Optuna (TPE sampler, median pruner), folds on Ray.

For each outer fold, one study searches ``SPACE`` — the seed study's knobs (learning rate, batch size, epochs,
patience) plus width, depth, dropout, input dropout, weight decay, gene count and modality set. A trial trains
one ensemble member on an inner split of that fold's training pairs (held out as the outer split holds out)
and is scored by its best validation loss (masked MSE on drug-standardised ln IC50); trial 0 is the preset's own
setting, so the search starts from the default. The pruner stops a trial
whose validation loss trails the median of earlier trials at the same epoch. Trials never see the outer test
fold. Each fold's study is one task (``ray_tasks.run_tasks``); a study's trials run in order, so a fixed seed and
trial count give the same search. With ``time_budget`` a study also stops when its share of the budget is
spent (then the number of trials, and the result, depend on the machine's speed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from drugresponse.atomic_files import write_json_atomic, write_text_atomic
from drugresponse.errors import UserError

from ..data.response_matrix import ResponseMatrix
from ..data.splits import inner_split, load_folds, train_mask
from ..model.config import ModelConfig
from ..model.fit import INNER_FRACTION, inner_features, score_on_inner_split
from ..model.presets import PRESETS
from .ray_tasks import run_tasks, set_threads

SPACE = {
    "learning_rate": ("log", 1e-5, 3e-3), "batch_size": ("choice", (8, 16, 32, 64)),
    "max_epochs": ("choice", (60, 120, 200)), "patience": ("int", 6, 20),
    "width": ("choice", (128, 256, 512)), "depth": ("int", 1, 2), "dropout": ("float", 0.1, 0.7),
    "input_dropout": ("float", 0.0, 0.7), "weight_decay": ("log", 1e-3, 0.3),
    "n_expression_genes": ("choice", (1000, 2000, 4000)), "modalities": ("choice", ("expression", "all omics")),
}


def as_params(config: ModelConfig) -> dict:
    """A configuration as ``SPACE``'s parameters (to start a study from the preset's own setting)."""
    return {"learning_rate": config.learning_rate, "batch_size": config.batch_size, "max_epochs": config.max_epochs,
            "patience": config.patience, "width": config.hidden[0], "depth": len(config.hidden),
            "dropout": config.dropout, "input_dropout": config.input_dropout, "weight_decay": config.weight_decay,
            "n_expression_genes": config.n_expression_genes,
            "modalities": "expression" if config.n_copy_number_genes == 0 else "all omics"}


def _within(name: str, value) -> bool:
    kind, *args = SPACE[name]
    return value in args[0] if kind == "choice" else args[0] <= value <= args[1]


def suggest(trial, base: ModelConfig) -> ModelConfig:
    """A trial's configuration: ``SPACE`` drawn by Optuna over the preset's other settings."""
    values = {}
    for name, (kind, *args) in SPACE.items():
        if kind == "log":
            values[name] = trial.suggest_float(name, *args, log=True)
        elif kind == "float":
            values[name] = trial.suggest_float(name, *args)
        elif kind == "int":
            values[name] = trial.suggest_int(name, *args)
        else:
            values[name] = trial.suggest_categorical(name, list(args[0]))
    omics = values.pop("modalities") == "all omics"
    width, depth = values.pop("width"), values.pop("depth")
    return base.replace(**values, hidden=(width,) * depth, n_copy_number_genes=300 if omics else 0,
                        min_mutated=20 if omics else 10**9)


def tune_fold(matrix: ResponseMatrix, folds: np.ndarray, split: str, fold: int, trials: int, seconds: float | None,
              seed: int, preset: str, threads: int) -> dict:
    """One outer fold's study (a task): every trial's configuration, score and fate, and the best configuration."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    set_threads(threads)
    train = train_mask(folds, fold)
    fold_seed = seed * 100 + fold  # the evaluation's seed for this fold: the same inner split as its candidates
    inner_train, inner_val = inner_split(train, split, INNER_FRACTION, fold_seed * 1000 + 999, matrix.tissues)
    cache: dict[tuple, torch.Tensor] = {}  # features per preprocessing setting (fitted on the inner training lines)

    def objective(trial) -> float:
        config = suggest(trial, PRESETS[preset])
        key = (config.n_expression_genes, config.n_copy_number_genes, config.min_mutated)
        if key not in cache:
            cache[key] = inner_features(matrix, inner_train, config)

        def should_stop(epoch: int, val_loss: float) -> bool:
            trial.report(val_loss, epoch)
            return trial.should_prune()

        val_curve, best_epoch = score_on_inner_split(matrix, inner_train, inner_val, config, fold_seed, cache[key],
                                                     should_stop)
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("best_epoch", best_epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return min(val_curve)

    start = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed * 100 + fold),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10))
    default = as_params(PRESETS[preset])
    if all(_within(name, value) for name, value in default.items()):
        study.enqueue_trial(default)  # trial 0 is the default: tuning can only match or improve it on the inner split
    study.optimize(objective, n_trials=trials, timeout=seconds)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {"fold": fold, "seconds": round(time.perf_counter() - start, 1),
            "trials": [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                        "config": t.user_attrs.get("config"), "best_epoch": t.user_attrs.get("best_epoch")}
                       for t in study.trials],
            "best": {"value": study.best_value, "config": study.best_trial.user_attrs["config"]} if done else None,
            "default_candidates_note": "the fixed candidates are scored the same way in the evaluation history"}


def tune(matrix: ResponseMatrix, split: str, folds_path: Path, out: Path, trials: int, time_budget: float | None,
         seed: int, preset: str, workers: int, address: str | None, threads: int) -> list[dict]:
    """Tune every outer fold; write ``out`` (JSON, atomically) and return the per-fold results."""
    folds = load_folds(matrix, folds_path)
    n_folds = int(folds.max()) + 1
    parallel = max(1, workers) if (workers or address) else 1
    per_fold_seconds = None if time_budget is None else time_budget * min(parallel, n_folds) / n_folds
    tasks = [(split, fold, trials, per_fold_seconds, seed, preset, threads) for fold in range(n_folds)]

    def best_so_far(done: list[dict]) -> dict:
        values = [r["best"]["value"] for r in done if r["best"]]
        return {"trials": sum(len(r["trials"]) for r in done), "best_val_loss": f"{min(values):.4f}" if values else "-"}

    start = time.perf_counter()
    results = run_tasks(tune_fold, tasks, workers, address, desc=f"{split} tuning (folds)",
                        shared={"matrix": matrix, "folds": folds}, postfix=best_so_far)
    payload = {"dataset": matrix.dataset, "split": split, "seed": seed, "preset": preset, "trials_per_fold": trials,
               "time_budget_seconds": time_budget, "threads": threads, "data_sha256": matrix.data_sha256,
               "workers": workers, "address": address, "wall_seconds": round(time.perf_counter() - start, 1),
               "space": {k: list(v[1:]) if v[0] != "choice" else list(v[1]) for k, v in SPACE.items()},
               "folds": results}
    write_json_atomic(out, payload, indent=1)
    write_text_atomic(out.with_suffix(".md"), markdown(payload))
    for r in results:
        state = "no finished trial" if r["best"] is None else f"best inner val loss {r['best']['value']:.4f}"
        print(f"fold {r['fold']}: {len(r['trials'])} trials in {r['seconds']:.0f} s, {state}", file=sys.stderr)
    return results


def markdown(payload: dict) -> str:
    """Per fold: trials run and pruned, seconds, the preset's own setting (trial 0) against the best found, on the
    inner validation loss the search optimises, and the winning setting."""
    lines = ["| fold | trials (pruned) | seconds | inner val loss, preset default | best | best setting |",
             "|---|---|---|---|---|---|"]
    for r in payload["folds"]:
        default = next((t["value"] for t in r["trials"] if t["number"] == 0 and t["state"] == "COMPLETE"), None)
        pruned = sum(t["state"] == "PRUNED" for t in r["trials"])
        best = r["best"]
        shown = ("-", "-") if best is None else (f"{best['value']:.4f}", _describe(best["config"]))
        lines.append(f"| {r['fold']} | {len(r['trials'])} ({pruned}) | {r['seconds']:.0f} | "
                     f"{'n/a' if default is None else f'{default:.4f}'} | {shown[0]} | {shown[1]} |")
    wall, workers = payload.get("wall_seconds"), payload.get("workers")
    where = (f"{workers} local workers" if workers else "a Ray cluster") if workers or payload.get("address") else "serially"
    task_seconds = sum(r["seconds"] for r in payload["folds"])
    lines += ["", f"{payload['dataset']}, {payload['split'].upper()}, seed {payload['seed']}, {payload['trials_per_fold']} "
              f"trials per fold (Optuna TPE, median pruning), one torch thread per trial; "
              f"{task_seconds:,.0f} s of fold time in all" + (f", {wall:,.0f} s wall, {where}" if wall is not None
                                                               else "") + ".", ""]
    return "\n".join(lines)


def _describe(config: dict) -> str:
    modalities = as_params(ModelConfig.from_dict(config))["modalities"]
    return (f"{modalities}, {config['n_expression_genes']} genes, hidden {'x'.join(map(str, config['hidden']))}, "
            f"dropout {config['dropout']:.2f}/{config['input_dropout']:.2f}, lr {config['learning_rate']:.1e}, "
            f"wd {config['weight_decay']:.3f}, batch {config['batch_size']}, {config['max_epochs']} epochs, "
            f"patience {config['patience']}")


def tuned_configs(path: Path, matrix: ResponseMatrix, split: str) -> dict[int, dict]:
    """fold -> best configuration from a tuning file written for this data and split."""
    if not path.is_file():
        raise UserError(f"no tuning results at {path}; run `drugresponse tune --split {split}` first.")
    payload = json.loads(path.read_text())
    if payload["data_sha256"] != matrix.data_sha256 or payload["split"] != split:
        raise UserError(f"{path} was tuned on other data or another split; re-run `drugresponse tune`.")
    missing = [r["fold"] for r in payload["folds"] if r["best"] is None]
    if missing:
        raise UserError(f"{path} has no finished trial for fold(s) {missing}; tune with more trials or time.")
    return {r["fold"]: r["best"]["config"] for r in payload["folds"]}
