"""An external test of the shipped structure model: GDSC1's drugs that GDSC2 never screened.

The product model (fitted on GDSC2 only, settings chosen on GDSC2 only) predicts each GDSC1-only drug with a
structure for the lines both screens share, against GDSC1's measurements: drugs nothing was trained or chosen on,
measured by another assay (GDSC1's ln IC50 differ from GDSC2's by a drug-dependent offset, which RMSE counts and
per-drug correlations do not). A GDSC1-only drug whose Morgan bits equal a GDSC2 drug's (another name for the same
structure) is left out and counted.
"""

from __future__ import annotations

import numpy as np

from drugresponse.compound_structure import fingerprints
from drugresponse.train.evaluation.metrics import summary

from .baselines import cell_line_mean, knn
from .leave_drug_out import BASELINE_FINGERPRINT
from .two_tower import TwoTower, tanimoto


def gdsc1_only(model: TwoTower, known: list[str], gdsc2, gdsc1, smiles: dict[str, str]) -> dict | None:
    """The figures, or None where GDSC1 has no such drug measured on a shared line (a slice of the data)."""
    s = model.settings
    new = [d for d in gdsc1.drugs if d not in set(gdsc2.drugs) and smiles.get(d)]
    if not new:
        return None
    fp_known = fingerprints([smiles[d] for d in known], s.radius, s.size)
    fp_new = fingerprints([smiles[d] for d in new], s.radius, s.size)
    nearest = tanimoto(fp_new, fp_known).max(axis=1)
    same = nearest >= 1.0 - 1e-9
    kept = [d for d, dup in zip(new, same) if not dup]
    fp_new, nearest = fp_new[~same], nearest[~same]
    shared = [c for c in gdsc1.cell_lines if c in set(gdsc2.cell_lines)]
    rows2 = np.array([gdsc2.cell_lines.index(c) for c in shared])
    rows1 = np.array([gdsc1.cell_lines.index(c) for c in shared])
    anchors = gdsc2.ln_ic50[rows2].astype(np.float64)
    measured = gdsc1.ln_ic50[np.ix_(rows1, [gdsc1.drugs.index(d) for d in kept])].astype(np.float64)
    base = {BASELINE_FINGERPRINT: fingerprints([smiles[d] for d in known], *BASELINE_FINGERPRINT)}
    base_new = fingerprints([smiles[d] for d in kept], *BASELINE_FINGERPRINT)
    known_y = anchors[:, [gdsc2.drugs.index(d) for d in known]]
    predictions = {"two_tower": model.predict(fp_new, anchors),
                   "cell_line_mean": cell_line_mean(anchors, model.lines, len(kept)),
                   "knn": knn(known_y, base[BASELINE_FINGERPRINT], base_new)}
    predictions["combined"] = (predictions["cell_line_mean"] + predictions["knn"]) / 2
    seen = ~np.isnan(measured)
    if not seen.any():
        return None
    drug_index = np.broadcast_to(np.arange(len(kept))[None, :], measured.shape)[seen]
    records = {}
    for name, values in predictions.items():
        result = summary(drug_index, measured[seen], values[seen])
        records[name] = {k: result[k] for k in ("rmse", "r2", "per_drug_pearson", "per_drug_spearman", "n_pairs",
                                                "n_drugs_scored")}
    near = nearest >= 0.5
    by_similarity = {}
    for label, mask in (("nearest below 0.3", nearest < 0.3), ("nearest 0.5 or more", near)):
        cols = np.flatnonzero(mask)
        if len(cols) < 3:
            continue
        sub = seen[:, cols]
        index = np.broadcast_to(np.arange(len(cols))[None, :], sub.shape)[sub]
        by_similarity[label] = {"drugs": int(len(cols)), **{
            name: summary(index, measured[:, cols][sub], values[:, cols][sub])["per_drug_pearson"]
            for name, values in predictions.items()}}
    return {"drugs": len(kept), "identical_structures_left_out": int(same.sum()), "lines": len(shared),
            "records": records, "by_similarity": by_similarity,
            "left_out": [d for d, dup in zip(new, same) if dup]}


def markdown(external: dict) -> str:
    labels = {"two_tower": "structure model (shipped)", "cell_line_mean": "cell-line mean", "knn": "Morgan kNN (k = 5)",
              "combined": "cell-line mean + kNN"}
    lines = [f"**External: GDSC1's drugs that GDSC2 never screened** ({external['drugs']} drugs with a structure, "
             f"{external['lines']} lines in both screens; {external['identical_structures_left_out']} left out whose "
             "bits equal a GDSC2 drug's). The shipped model, fitted and tuned on GDSC2 only, against GDSC1's "
             "measurements (another assay: RMSE includes its offset).", "",
             "| model | RMSE | pooled R² | per-drug Pearson | per-drug Spearman |", "|---|---|---|---|---|"]
    for name, r in external["records"].items():
        lines.append(f"| {labels[name]} | {r['rmse']:.3f} | {r['r2']:.3f} | {r['per_drug_pearson']:.3f} | "
                     f"{r['per_drug_spearman']:.3f} |")
    for label, b in external["by_similarity"].items():
        lines.append(f"\nPer-drug Pearson for the {b['drugs']} drugs with the {label}: structure model "
                     f"{b['two_tower']:.3f}, cell-line mean {b['cell_line_mean']:.3f}, kNN {b['knn']:.3f}, "
                     f"combined {b['combined']:.3f}.")
    return "\n".join(lines) + "\n"
