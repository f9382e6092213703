"""Does the model recover the driver events that decide targeted-drug response, on cell lines it never saw?

    python benchmarks/biomarkers.py [--data-dir DIR] [--results benchmarks/results]

For each canonical (drug, event) pair below, on the LCO out-of-fold predictions written by
``drugresponse evaluate --split lco``: the measured difference in mean ln IC50 between cell lines that carry
the event and those that do not, the same difference in the held-out predictions, the recovery ratio
(predicted / measured), Welch's t-test p-value of the measured difference, and of the held-out residuals
(a small p there means the model still misses the event). Also the per-drug Pearson of the targeted drugs,
with and without the model's driver head. Writes ``biomarkers.json`` and ``biomarkers.md``.

The pairs were fixed from the literature before any result was seen; none was added or dropped after.
Sources: [G12] Garnett et al., Nature 483:570 (2012), the first GDSC screen's genomic markers of
sensitivity (BRAF and MEK/ERK inhibitors, BCR-ABL and ABL inhibitors, EWSR1-FLI1 and PARP inhibition,
ERBB2 and EGFR inhibitors); [I16] Iorio et al., Cell 166:740 (2016), GDSC's landscape of pharmacogenomic
interactions (the cancer functional events of the feature table used here; BRAF, NRAS, KRAS and MEK
inhibitors, TP53 and MDM2 inhibitors, PIK3CA and PI3K-alpha inhibitors, EGFR mutation and EGFR inhibitors,
ERBB2 amplification and ERBB2/EGFR inhibitors).

GDSC1's own drugs (the model learns both screens): pairs for drugs only GDSC1 screened, named by [G12] (its BRAF
panel: the RAF inhibitor AZ628 and the MEK inhibitor CI-1040; its BCR-ABL panel: imatinib and AP-24534, i.e.
ponatinib), scored on GDSC1's LCO out-of-fold predictions and reported apart, so the 19 GDSC2 pairs' median keeps
its meaning. They were added when the both-screens model was built, before their recovery was computed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402

ERBB2_AMP = "gain_cnaPANCAN301_(CDK12,ERBB2,MED24)"
PAIRS = [  # (drug, event, source)
    ("Dabrafenib", "BRAF_mut", "G12, I16"), ("PLX-4720", "BRAF_mut", "G12, I16"), ("SB590885", "BRAF_mut", "G12"),
    ("Trametinib", "BRAF_mut", "I16"), ("Selumetinib", "BRAF_mut", "G12, I16"), ("Ulixertinib", "BRAF_mut", "I16"),
    ("Trametinib", "NRAS_mut", "I16"), ("Trametinib", "KRAS_mut", "I16"),
    ("Nilotinib", "BCR-ABL_mut", "G12, I16"), ("Dasatinib", "BCR-ABL_mut", "G12"),
    ("Nutlin-3a (-)", "TP53_mut", "I16"),
    ("Lapatinib", ERBB2_AMP, "G12, I16"), ("Afatinib", ERBB2_AMP, "I16"),
    ("Gefitinib", "EGFR_mut", "G12, I16"), ("Erlotinib", "EGFR_mut", "G12"), ("Afatinib", "EGFR_mut", "I16"),
    ("Alpelisib", "PIK3CA_mut", "I16"), ("Taselisib", "PIK3CA_mut", "I16"),
    ("Olaparib", "EWSR1-FLI1_mut", "G12"),
]
GDSC1_PAIRS = [  # drugs only GDSC1 screened
    ("AZ628", "BRAF_mut", "G12"), ("CI-1040", "BRAF_mut", "G12"),
    ("Imatinib", "BCR-ABL_mut", "G12"), ("Ponatinib", "BCR-ABL_mut", "G12"),
]
MODELS = ("mlp_ensemble", "mlp_ensemble_without_drivers", "ridge_per_drug_drivers", "ridge_per_drug")
LABEL = {ERBB2_AMP: "ERBB2 amplification (PANCAN301)", "BCR-ABL_mut": "BCR-ABL fusion",
         "EWSR1-FLI1_mut": "EWSR1-FLI1 fusion"}


def _welch(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue) if len(a) > 1 and len(b) > 1 else float("nan")


def pair_rows(predictions: pl.DataFrame, drivers: pl.DataFrame, pairs: list = PAIRS) -> list[dict]:
    rows = []
    for model in MODELS:
        part = predictions.filter(pl.col("model") == model)
        if part.is_empty():
            continue
        for drug, event, source in pairs:
            table = part.filter(pl.col("drug") == drug).join(drivers.select("cell_line", event), on="cell_line")
            table = table.drop_nulls(event)
            carrier = table[event].to_numpy() == 1
            measured, predicted = table["measured"].to_numpy(), table["predicted"].to_numpy()
            residual = measured - predicted
            m_diff = float(measured[carrier].mean() - measured[~carrier].mean())
            p_diff = float(predicted[carrier].mean() - predicted[~carrier].mean())
            rows.append({"model": model, "drug": drug, "event": event, "source": source,
                         "carriers": int(carrier.sum()), "others": int((~carrier).sum()),
                         "measured_difference": m_diff, "predicted_difference": p_diff, "recovery": p_diff / m_diff,
                         "p_measured": _welch(measured[carrier], measured[~carrier]),
                         "p_residual": _welch(residual[carrier], residual[~carrier])})
    return rows


def targeted_pearson(predictions: pl.DataFrame) -> list[dict]:
    """Per-drug Pearson over held-out lines for each drug of the pairs, per model."""
    out = []
    for drug in dict.fromkeys(d for d, _, _ in PAIRS):
        row = {"drug": drug}
        for model in MODELS:
            part = predictions.filter((pl.col("model") == model) & (pl.col("drug") == drug))
            if part.height >= 10:
                row[model] = float(np.corrcoef(part["measured"].to_numpy(), part["predicted"].to_numpy())[0, 1])
        out.append(row)
    return out


def pair_table(rows: list[dict], pairs: list) -> list[str]:
    by = {(r["model"], r["drug"], r["event"]): r for r in rows}
    lines = ["| drug | event | carriers | measured | predicted, without drivers | predicted, with drivers | "
             "recovery without → with | p (measured) | p (residual, with drivers) | driver-aware ridge recovery |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for drug, event, _ in pairs:
        w, wo = by.get(("mlp_ensemble", drug, event)), by.get(("mlp_ensemble_without_drivers", drug, event))
        ridge = by.get(("ridge_per_drug_drivers", drug, event))
        if w is None or wo is None:
            continue
        lines.append(f"| {drug} | {LABEL.get(event, event.replace('_mut', ' mutation'))} | {w['carriers']} | "
                     f"{w['measured_difference']:+.2f} | {wo['predicted_difference']:+.2f} | "
                     f"{w['predicted_difference']:+.2f} | {wo['recovery']:.2f} → **{w['recovery']:.2f}** | "
                     f"{w['p_measured']:.1e} | {w['p_residual']:.1e} | "
                     f"{'n/a' if ridge is None else format(ridge['recovery'], '.2f')} |")
    return lines


def markdown(rows: list[dict], pearson: list[dict], meta: dict) -> str:
    lines = pair_table(rows, PAIRS)
    medians = meta["median_recovery"]
    lines += ["", "Median recovery over the " + str(len(PAIRS)) + " pairs: " +
              ", ".join(f"{m} {v:.2f}" for m, v in medians.items()) + "."]
    if meta.get("lto_median_recovery"):
        lines += ["On LTO folds (whole organ systems held out; the driver head's form, within tissue, was chosen with "
                  "them in view): " + ", ".join(f"{m} {v:.2f}" for m, v in meta["lto_median_recovery"].items()) + "."]
    if meta.get("gdsc1_pairs"):
        lines += ["", "GDSC1's own drugs (GDSC1 LCO out-of-fold predictions, same folds):", "",
                  *pair_table(meta["gdsc1_pairs"], GDSC1_PAIRS), "",
                  "Median recovery over these " + str(len(GDSC1_PAIRS)) + " pairs: " +
                  ", ".join(f"{m} {v:.2f}" for m, v in meta["gdsc1_median_recovery"].items()) + "."]
    lines += ["",
              "| targeted drug | " + " | ".join(f"per-drug Pearson, {m}" for m in MODELS) + " |",
              "|---|" + "---|" * len(MODELS)]
    for row in pearson:
        lines.append(f"| {row['drug']} | " + " | ".join(f"{row[m]:.3f}" if m in row else "n/a" for m in MODELS) + " |")
    mean = {m: np.mean([r[m] for r in pearson if m in r]) for m in MODELS if any(m in r for r in pearson)}
    lines.append("| mean of these drugs | " + " | ".join(f"{mean[m]:.3f}" if m in mean else "n/a" for m in MODELS)
                 + " |")
    lines += ["", f"GDSC2, LCO out-of-fold predictions (5 folds, seed 0), bundle {meta['data_sha256'][:12]}…; "
              "differences in ln µM, carriers minus the rest, over held-out lines with a known event status. "
              "Recovery = predicted / measured difference. p: Welch's t-test. Machine: "
              f"{meta['machine']['cpu']}, {meta['machine']['cores']} cores.", ""]
    return "\n".join(lines)


def main() -> None:
    from drugresponse.paths import default_data_dir
    from drugresponse.train.data.bundle import Bundle, bundle_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    predictions_path = args.results / "GDSC2_lco_predictions.parquet"
    if not predictions_path.is_file():
        sys.exit(f"error: no LCO predictions at {predictions_path}; run `drugresponse evaluate --split lco` first.")
    bundle = Bundle.open(bundle_dir(args.data_dir))
    predictions = pl.read_parquet(predictions_path)
    drivers = pl.read_parquet(bundle.path / "drivers.parquet")
    rows = pair_rows(predictions, drivers)
    pearson = targeted_pearson(predictions)
    medians = lambda rs: {m: float(np.median([r["recovery"] for r in rs if r["model"] == m]))  # noqa: E731
                          for m in MODELS if any(r["model"] == m for r in rs)}
    meta = {"split": "lco", "data_sha256": bundle.manifest["content_sha256"], "machine": describe(),
            "median_recovery": medians(rows)}
    lto = args.results / "GDSC2_lto_predictions.parquet"
    if lto.is_file():
        lto_rows = pair_rows(pl.read_parquet(lto), drivers)
        meta["lto_median_recovery"] = medians(lto_rows)
        meta["lto_pairs"] = lto_rows
    gdsc1 = args.results / "GDSC1_lco_predictions.parquet"
    if gdsc1.is_file():
        meta["gdsc1_pairs"] = pair_rows(pl.read_parquet(gdsc1), drivers, GDSC1_PAIRS)
        meta["gdsc1_median_recovery"] = medians(meta["gdsc1_pairs"])
    payload = {**meta, "pairs": rows, "targeted_pearson": pearson}
    meta.pop("lto_pairs", None)
    write_outputs(args.results, "biomarkers", payload, markdown(rows, pearson, meta))
    print(markdown(rows, pearson, meta))


if __name__ == "__main__":
    main()
