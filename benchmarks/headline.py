"""The README's one results table, from the committed evaluation and margin files (no new measurement).

    python benchmarks/headline.py      # then python benchmarks/update_readme.py

For each split, the network against the baseline with the highest per-drug Pearson on that split: per-drug
Pearson (the figure that says whether cell lines are ranked for a drug), the paired-bootstrap interval of the
difference over cell lines (``margins.py``) and RMSE. Writes ``headline.json`` and ``headline.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import write_outputs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SPLITS = {"lco": "LCO: unseen cell lines (a new tumour)", "lto": "LTO: unseen organ systems",
          "lpo": "LPO: unseen pairs (the line's other drugs seen)"}


def main() -> None:
    margins = {(r.get("screen", "GDSC2"), r["split"], r["model"]): r
               for r in json.loads((RESULTS / "margins.json").read_text())}
    rows = []
    for screen, (split, label) in ((screen, item) for screen in ("GDSC2", "GDSC1") for item in SPLITS.items()):
        path = RESULTS / f"{screen}_{split}.json"
        if not path.is_file() or (screen, split, "mlp_ensemble") not in margins:
            continue
        records = {r["model"]: r for r in json.loads(path.read_text())}
        margin = margins[(screen, split, "mlp_ensemble")]
        model, baseline = records["mlp_ensemble"], records[margin["versus"]]
        rows.append({"screen": screen, "split": split, "label": label, "baseline": margin["versus"],
                     "per_drug_pearson": model["per_drug_pearson"], "baseline_per_drug_pearson": baseline["per_drug_pearson"],
                     "difference_ci95": margin["ci95_over_cell_lines"], "rmse": model["rmse"],
                     "baseline_rmse": baseline["rmse"], "pairs": model["n_pairs"], "drugs": margin["drugs"],
                     "data_sha256": model["data_sha256"]})
    lines = ["| screen | held out (5 folds) | network: per-drug Pearson | best baseline | its per-drug Pearson | "
             "difference, 95% CI over cell lines | network RMSE | baseline RMSE |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        low, high = r["difference_ci95"]
        lines.append(f"| {r['screen']} ({r['drugs']} drugs) | {r['label']} | **{r['per_drug_pearson']:.3f}** | "
                     f"{r['baseline']} | {r['baseline_per_drug_pearson']:.3f} | [{low:+.3f}, {high:+.3f}] | "
                     f"{r['rmse']:.3f} | {r['baseline_rmse']:.3f} |")
    lines += ["", "One network learnt both screens (one output per drug and screen); each screen is scored on its own "
              "pairs against its own baselines, on the same folds (GDSC1's follow GDSC2's lines, so a held-out line's "
              "responses from either screen are never learnt). 5-fold cross-validation, seed 0; bundle "
              f"`{rows[0]['data_sha256'][:12]}…`; RMSE in ln µM. Per-drug Pearson: the correlation between measured "
              "and predicted ln IC50 across the held-out lines of one drug, averaged over drugs. Written by "
              "`benchmarks/headline.py` from the committed evaluation (`drugresponse evaluate`) and "
              "`benchmarks/margins.py`.", ""]
    write_outputs(RESULTS, "headline", rows, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
