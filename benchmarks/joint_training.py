"""What learning both screens at once changes: the both-screens network against each screen's own, per screen.

    drugresponse evaluate --dataset GDSC1 --split lco --workers 2     # GDSC1 alone, folds follow GDSC2's lines
    drugresponse evaluate --dataset both --split lco --workers 2 --models mlp_ensemble
    python benchmarks/joint_training.py [--split lco] [--replicates 2000]

The both-screens folds are the two screens' own folds side by side (GDSC1's lco/lto folds keep each line's GDSC2
fold), so every pair is held out in the same fold by every model compared here. The both-screens run writes its
network into each screen's result files as ``mlp_ensemble`` and renames the one-screen network found there
``mlp_ensemble_one_screen`` (``train/evaluation/screens.py``). For each screen: the two networks and the screen's best
baseline, with paired bootstrap intervals over cell lines (``margins.compare``). Writes ``joint_training_<split>.json``
and ``.md``. Measures; never asserts.

Both networks were evaluated on bundle 2, before the curated driver-event overrides; those tables are kept in
``results/before_overrides/`` (``carry_over_records.py``), which is what this reads by default (``--records``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402
from benchmarks.margins import compare  # noqa: E402

MODEL, ONE_SCREEN = "mlp_ensemble", "mlp_ensemble_one_screen"  # both screens learnt / this screen alone


NO_HEAD = "_without_drivers"
ACROSS = "both_screens_head_across_tissues"  # the both-screens network with the one-screen network's head
SUFFIX = " [GDSC1]"


def across_part(results: Path, split: str, screen: str) -> pl.DataFrame | None:
    """The both-screens network with its driver head fitted across tissues (``head_across_tissues/``), on one screen's
    pairs: the same head as the one-screen network, so the two differ only in what they learnt."""
    path = ROOT / "benchmarks" / "results" / "head_across_tissues" / f"BOTH_{split}_predictions.parquet"
    if not path.is_file():
        return None
    table = pl.read_parquet(path).filter(pl.col("model") == MODEL)
    gdsc1 = pl.col("drug").str.ends_with(SUFFIX)
    return table.filter(gdsc1 if screen == "GDSC1" else ~gdsc1).with_columns(
        pl.col("drug").str.strip_suffix(SUFFIX), pl.lit(ACROSS).alias("model"))


def screen_rows(results: Path, split: str, screen: str, replicates: int) -> list[dict]:
    records = {r["model"]: r for r in json.loads((results / f"{screen}_{split}.json").read_text())}
    if "screens_learnt" not in records.get(MODEL, {}) or ONE_SCREEN not in records:
        print(f"{screen}_{split}: no one-screen network to compare with; skipped", file=sys.stderr)
        return []
    predictions = pl.read_parquet(results / f"{screen}_{split}_predictions.parquet")
    across = across_part(results, split, screen)
    if across is not None:
        predictions = pl.concat([predictions, across.select(predictions.columns)])
    folds = predictions.filter(pl.col("model").is_in([MODEL, ONE_SCREEN])).group_by("cell_line", "drug").agg(
        pl.col("fold").n_unique().alias("folds"))
    if folds["folds"].max() != 1:
        raise SystemExit(f"{screen}: the two networks were not scored on the same folds")
    best = max((r for r in records.values() if r["baseline"]), key=lambda r: r["per_drug_pearson"])["model"]
    rows = []
    pairs = [(MODEL, ONE_SCREEN), (MODEL, best), (ONE_SCREEN, best)] + ([(ACROSS, ONE_SCREEN)] if across is not None else [])
    if {MODEL + NO_HEAD, ONE_SCREEN + NO_HEAD} <= set(records):  # both without a driver head: joint training alone
        pairs.append((MODEL + NO_HEAD, ONE_SCREEN + NO_HEAD))
    rmse = {**{m: r["rmse"] for m, r in records.items()},
            ACROSS: None if across is None else float(((across["measured"] - across["predicted"]) ** 2).mean() ** 0.5)}
    for model, other in pairs:
        rows.append({"screen": screen, "split": split, "rmse": rmse[model], "versus_rmse": rmse[other],
                     **compare(predictions, model, other, replicates, 0)})
        print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--records", type=Path, default=ROOT / "benchmarks" / "results" / "before_overrides",
                        help="the evaluation tables holding both networks (default: bundle 2's, kept there)")
    parser.add_argument("--split", default="lco", choices=["lco", "lto", "lpo"])
    parser.add_argument("--replicates", type=int, default=2000)
    args = parser.parse_args()
    rows = [row for screen in ("GDSC2", "GDSC1") for row in screen_rows(args.records, args.split, screen,
                                                                         args.replicates)]
    lines = ["| screen | model | versus | per-drug Pearson | versus | difference | drugs better | 95% CI over cell lines "
             "| RMSE | versus |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        low, high = r["ci95_over_cell_lines"]
        lines.append(f"| {r['screen']} | {r['model']} | {r['versus']} | {r['per_drug_pearson']:.3f} | "
                     f"{r['versus_per_drug_pearson']:.3f} | {r['difference']:+.4f} | {r['drugs_better']} of "
                     f"{r['drugs']} | [{low:+.4f}, {high:+.4f}] | {r['rmse']:.3f} | {r['versus_rmse']:.3f} |")
    machine = describe()
    lines += ["", f"{args.split.upper()}, seed 0, 5 folds; {MODEL}: the shipped network, trained on GDSC2 and GDSC1 "
              f"together (one output per drug and screen; driver head within tissue), scored on one screen's pairs; "
              f"{ONE_SCREEN}: the previous release's recipe trained on that screen alone (head across tissues); {ACROSS}: "
              "the both-screens network with that same head, so its row against the one-screen network is the effect of "
              "joint training with that head; the two _without_drivers rows compare the networks with no head at all; the "
              "baseline is the screen's best by per-drug Pearson. Bundle 2 (GDSC's event table before the curated "
              "overrides; tables in `before_overrides/`). Paired bootstrap "
              f"({args.replicates} replicates) over cell lines on the same held-out pairs. Written by "
              f"`benchmarks/joint_training.py`; {machine['cpu']}, {machine['cores']} cores.", ""]
    write_outputs(args.results, f"joint_training_{args.split}", rows, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
