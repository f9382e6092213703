"""Each screen's figures for the network that learnt both screens.

The shipped network learns GDSC2 and GDSC1 together (``--dataset both``: one output per drug and screen). Users and the
README read each screen on its own, beside that screen's baselines on the same folds (the both-screens folds are the
screens' own folds side by side; ``cross_validation.joint_folds``). So after a both-screens evaluation its network is
written into each screen's result files as ``mlp_ensemble`` (and its ``_without_drivers`` ablation), recomputed from
its out-of-fold predictions for that screen's pairs; a network trained on that screen alone, if one was evaluated
there, stays in the table as ``mlp_ensemble_one_screen``. Every later reader of ``<screen>_<split>`` files (margins,
biomarkers, cross-study, the app's assets) then describes the shipped network.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from drugresponse.errors import UserError

from ..data.response_matrix import SCREENS, screen_column
from . import metrics
from .model_names import ABLATION_SUFFIX, NEURAL_MODEL, ONE_SCREEN_MODEL
from .results import write_results

JOINT_VARIANTS = (NEURAL_MODEL, NEURAL_MODEL + ABLATION_SUFFIX)
ONE_SCREEN_VARIANTS = (ONE_SCREEN_MODEL, ONE_SCREEN_MODEL + ABLATION_SUFFIX)
SAME = ("data_sha256", "seed", "preset", "folds", "threads")


def _screen_part(table: pl.DataFrame, screen: str, column: str = "drug") -> pl.DataFrame:
    """Rows of a both-screens table that belong to ``screen``, under the screen's own drug names."""
    suffix = screen_column("", screen)
    if suffix:
        return table.filter(pl.col(column).str.ends_with(suffix)).with_columns(pl.col(column).str.strip_suffix(suffix))
    other = [screen_column("", s) for s in SCREENS if screen_column("", s)]
    return table.filter(~pl.any_horizontal(pl.col(column).str.ends_with(s) for s in other))


def _record(joint: dict, screen: str, part: pl.DataFrame) -> dict:
    codes = part["drug"].cast(pl.Categorical).to_physical().to_numpy()
    measured, predicted = part["measured"].to_numpy(), part["predicted"].to_numpy()
    per_fold = []
    for fold in sorted(part["fold"].unique().to_list()):
        if fold >= 0:
            rows = (part["fold"] == fold).to_numpy()
            per_fold.append({"fold": fold, **metrics.summary(codes[rows], measured[rows], predicted[rows])})
    return {**{k: joint[k] for k in ("split", "model", "baseline", "ablation", "folds", *SAME)}, "dataset": screen,
            **metrics.summary(codes, measured, predicted), "seconds": joint["seconds"],
            "train_only_cell_lines": joint["train_only_cell_lines"], "screens_learnt": list(SCREENS),
            "per_fold": per_fold}


def _saved(out_dir: Path, stem: str, joint: dict) -> tuple[list[dict], pl.DataFrame | None, dict]:
    """The screen's saved records, predictions and histories without the network rows this run replaces: a
    both-screens network from an earlier run goes; a one-screen network is renamed ``mlp_ensemble_one_screen``."""
    path = out_dir / f"{stem}.json"
    if not path.is_file():
        return [], None, {}
    records = json.loads(path.read_text())
    if any(any(r.get(k) != joint.get(k) for k in SAME) for r in records):
        raise UserError(f"{path} was evaluated on other data, seed, preset, folds or threads than the both-screens run; "
                        f"re-run that screen's baselines on these folds first.")
    one_screen = next((r for r in records if r["model"] == NEURAL_MODEL and "screens_learnt" not in r), None)
    renamed = dict(zip(JOINT_VARIANTS, ONE_SCREEN_VARIANTS))
    predictions = pl.read_parquet(out_dir / f"{stem}_predictions.parquet")
    if one_screen is not None:  # the network this screen's files held learnt it alone: keep it, and its ablation
        records = [{**r, "model": renamed[r["model"]], "ablation": True} if r["model"] in renamed else r
                   for r in records if r["model"] not in ONE_SCREEN_VARIANTS]
        predictions = predictions.filter(~pl.col("model").is_in(ONE_SCREEN_VARIANTS)).with_columns(
            pl.col("model").replace(renamed))
    records = [r for r in records if r["model"] not in JOINT_VARIANTS]
    predictions = predictions.filter(~pl.col("model").is_in(JOINT_VARIANTS))
    history_path = out_dir / f"{stem}_history.json"
    histories = json.loads(history_path.read_text()) if history_path.is_file() else {}
    if one_screen is not None and NEURAL_MODEL in histories:  # (the ablation has no history of its own)
        histories[ONE_SCREEN_MODEL] = histories.pop(NEURAL_MODEL)
    return records, predictions, histories


def keep_as_one_screen(out_dir: Path, stem: str) -> None:
    """Rename a screen's one-screen network (and its ablation) ``mlp_ensemble_one_screen`` where no both-screens run
    replaced it (a split the shipped network was not evaluated on), so no table shows it as the shipped network."""
    records = json.loads((out_dir / f"{stem}.json").read_text())
    network = next((r for r in records if r["model"] == NEURAL_MODEL), None)
    if network is None or "screens_learnt" in network:
        return
    kept, predictions, histories = _saved(out_dir, stem, network)
    write_results(out_dir, stem, kept, predictions, histories, kept[0]["folds"], {})


def write_per_screen(out_dir: Path, joint_stem: str) -> list[str]:
    """Write the both-screens run ``joint_stem`` (e.g. ``BOTH_lco``) into each screen's result files; returns their
    stems."""
    out_dir = Path(out_dir)
    joint_records = {r["model"]: r for r in json.loads((out_dir / f"{joint_stem}.json").read_text())}
    if NEURAL_MODEL not in joint_records:
        return []
    table = pl.read_parquet(out_dir / f"{joint_stem}_predictions.parquet").filter(pl.col("model").is_in(JOINT_VARIANTS))
    split = joint_records[NEURAL_MODEL]["split"]
    history_path = out_dir / f"{joint_stem}_history.json"
    joint_history = json.loads(history_path.read_text()).get(NEURAL_MODEL) if history_path.is_file() else None
    written = []
    for screen in SCREENS:
        stem = f"{screen}_{split}"
        records, predictions, histories = _saved(out_dir, stem, joint_records[NEURAL_MODEL])
        part = _screen_part(table, screen)
        for variant in JOINT_VARIANTS:
            if variant in joint_records:
                records.append(_record(joint_records[variant], screen, part.filter(pl.col("model") == variant)))
        rank = lambda r: (not r["baseline"], r["model"] not in JOINT_VARIANTS)  # noqa: E731 (baselines, then the network)
        order = sorted(records, key=rank)
        predictions = part if predictions is None else pl.concat([predictions, part.select(predictions.columns)])
        if joint_history is not None:
            histories[NEURAL_MODEL] = joint_history
        extras = {}
        for kind in ("heldout_all_drugs", "contributions"):
            source = out_dir / f"{joint_stem}_{NEURAL_MODEL}_{kind}.parquet"
            if source.is_file():
                extras[f"{stem}_{NEURAL_MODEL}_{kind}.parquet"] = _extra(pl.read_parquet(source), screen, kind)
        write_results(out_dir, stem, order, predictions, histories, order[0]["folds"], extras)
        written.append(stem)
    return written


def _extra(frame: pl.DataFrame, screen: str, kind: str) -> pl.DataFrame:
    """The screen's part of a per-drug table: rows (contributions) or columns (every drug's held-out prediction)."""
    if kind == "contributions":
        return _screen_part(frame, screen)
    columns = _screen_part(pl.DataFrame({"drug": frame.columns[1:], "column": frame.columns[1:]}), screen)
    return frame.select(frame.columns[0], *columns["column"]).rename(dict(zip(columns["column"], columns["drug"])))
