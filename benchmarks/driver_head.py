"""What screening and fitting the driver head within tissue gained, on LCO and LTO, per event class.

    python benchmarks/driver_head.py [--replicates 2000]

The shipped network (both screens, head within tissue: ``HeadConfig.within_tissue``) against the same network with
the head across tissues, as first shipped (its out-of-fold predictions kept in ``head_across_tissues/``), and against
no head at all (the ``_without_drivers`` ablation of the shipped run), on the same folds: per-drug Pearson per screen
with a paired bootstrap over cell lines (``margins.compare``), and the biomarker benchmark's recovery per event class
(gene mutations, the ERBB2 amplification, fusions) on GDSC2's 19 canonical pairs. Writes ``driver_head.json`` and
``.md``. Measures; never asserts.

All three variants were evaluated on bundle 2, before the curated driver-event overrides: the shipped network's
tables of that bundle are kept in ``results/before_overrides/``, which is what this reads, and carriers are GDSC's
table as it was then.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.biomarkers import ERBB2_AMP, pair_rows  # noqa: E402
from benchmarks.joint_training import across_part  # noqa: E402
from benchmarks.machine import describe, write_outputs  # noqa: E402
from benchmarks.margins import compare  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RECORDS = RESULTS / "before_overrides"
ACROSS = "head_across_tissues"
SHIPPED, NO_HEAD = "mlp_ensemble", "mlp_ensemble_without_drivers"
CLASSES = {"gene mutations": lambda e: e.endswith("_mut") and "-" not in e, "ERBB2 amplification": lambda e: e == ERBB2_AMP,
           "fusions (BCR-ABL, EWSR1-FLI1)": lambda e: e.endswith("_mut") and "-" in e}


def screen_predictions(split: str, screen: str) -> pl.DataFrame:
    """The shipped network, its no-head ablation and the across-tissue head, on one screen's pairs and drug names."""
    own = pl.read_parquet(RECORDS / f"{screen}_{split}_predictions.parquet").filter(pl.col("model").is_in([SHIPPED, NO_HEAD]))
    across = across_part(RESULTS, split, screen).with_columns(pl.lit(ACROSS).alias("model"))
    return pl.concat([own, across.select(own.columns)])


def recovery_by_class(predictions: pl.DataFrame, drivers: pl.DataFrame) -> dict:
    out = {}
    for model in (SHIPPED, ACROSS, NO_HEAD):
        rows = [r for r in pair_rows(predictions.filter(pl.col("model") == model).with_columns(
            pl.lit("mlp_ensemble").alias("model")), drivers) if r["model"] == "mlp_ensemble"]
        out[model] = {name: float(np.median([r["recovery"] for r in rows if test(r["event"])]))
                      for name, test in CLASSES.items()}
        out[model]["all 19 pairs"] = float(np.median([r["recovery"] for r in rows]))
    return out


def main() -> None:
    from drugresponse.paths import default_data_dir
    from drugresponse.train.data.bundle import Bundle, bundle_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--replicates", type=int, default=2000)
    args = parser.parse_args()
    from drugresponse.train.data.driver_overrides import without_overrides

    bundle = Bundle.open(bundle_dir(args.data_dir))
    drivers = without_overrides(pl.read_parquet(bundle.path / "drivers.parquet"),
                                bundle.manifest["driver_overrides"]["applied"])
    rows, recovery = [], {}
    for split in ("lco", "lto"):
        for screen in ("GDSC2", "GDSC1"):
            predictions = screen_predictions(split, screen)
            for other in (ACROSS, NO_HEAD):
                rows.append({"split": split, "screen": screen, **compare(predictions, SHIPPED, other, args.replicates, 0)})
                print(rows[-1], file=sys.stderr)
            if screen == "GDSC2":
                recovery[split] = recovery_by_class(predictions, drivers)
    lines = ["| split | screen | head within tissue (shipped) | versus | its per-drug Pearson | difference | drugs better | "
             "95% CI over cell lines |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        low, high = r["ci95_over_cell_lines"]
        lines.append(f"| {r['split'].upper()} | {r['screen']} | {r['per_drug_pearson']:.3f} | {r['versus']} | "
                     f"{r['versus_per_drug_pearson']:.3f} | {r['difference']:+.4f} | {r['drugs_better']} of {r['drugs']} | "
                     f"[{low:+.4f}, {high:+.4f}] |")
    lines += ["", "Median biomarker recovery (held-out predicted / measured carriers-minus-rest difference, GDSC2's 19 "
              "canonical pairs of `benchmarks/biomarkers.py`), per event class:", "",
              "| split | event class | head within tissue (shipped) | head across tissues | no head |", "|---|---|---|---|---|"]
    for split, table in recovery.items():
        for name in [*CLASSES, "all 19 pairs"]:
            lines.append(f"| {split.upper()} | {name} | **{table[SHIPPED][name]:.2f}** | {table[ACROSS][name]:.2f} | "
                         f"{table[NO_HEAD][name]:.2f} |")
    machine = describe()
    lines += ["", "Bundle 2 (GDSC's event table before the curated overrides; `before_overrides/`). "
              f"One network learning both screens, seed-0 folds (LCO; LTO: whole organ systems held out), each screen "
              f"scored on its own pairs. {ACROSS}: the same network with the driver head screened and fitted across "
              "tissues, as first shipped; without_drivers: the shipped run with its head left out. Paired bootstrap "
              f"({args.replicates} replicates) over cell lines. Written by `benchmarks/driver_head.py`; {machine['cpu']}, "
              f"{machine['cores']} cores.", ""]
    write_outputs(RESULTS, "driver_head", {"per_drug_pearson": rows, "recovery_by_class": recovery}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
