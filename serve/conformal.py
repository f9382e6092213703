"""Split-conformal prediction intervals: the statistics behind every interval the app, the CLI and the other
runtimes show.

``export`` computes each drug's half-width from held-out (LCO out-of-fold) residuals and writes them, with their
measured coverage, to ``assets/evaluation/conformal.json``; ``calibration.py`` reads them back to put an interval
around a prediction. Both use this module, so the file and its reader cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

COVERAGE = 0.8
CONFORMAL_FILE = "conformal.json"
GUARANTEE = ("What is guaranteed, and what was measured. Each drug's half-width is a split-conformal quantile of held-out (LCO out-of-fold) residuals: for a new cell line drawn like the GDSC lines, an interval around a prediction made the same way (by a model that never saw the line) covers the measured value with probability at least 80%. The intervals the app and the batch CLI put around the shipped model's predictions for uploaded samples are not covered by that guarantee: the shipped model is trained on every GDSC line, while the residuals come from the five fold models, and an uploaded profile may not be drawn like the GDSC lines (another platform, a tumour). What was measured is coverage on held-out GDSC lines only.")


def conformal_quantile(residuals: np.ndarray, coverage: float = COVERAGE) -> float:
    """Split-conformal half-width: the ceil((n + 1) * coverage)-th smallest |residual| (inf if n is too small).

    With exchangeable calibration and test residuals, |residual| <= this for a new pair with probability at
    least ``coverage``.
    """
    scores = np.sort(np.abs(residuals))
    k = int(np.ceil((len(scores) + 1) * coverage))
    return float(scores[k - 1]) if k <= len(scores) else float("inf")


def conformal_intervals(predictions: pl.DataFrame, tissues: dict[str, str], coverage: float = COVERAGE,
                        seed: int = 0) -> dict:
    """Per-drug split-conformal half-widths from held-out (LCO out-of-fold) residuals, and their coverage.

    The shipped half-width of a drug uses all its held-out residuals. Its coverage is measured by
    cross-calibration: cell lines are split in half at random, each half's half-widths are computed and
    tested on the other half; coverage is reported overall, per drug and per tissue.
    """
    cells = np.array(sorted(predictions["cell_line"].unique().to_list()))
    rng = np.random.default_rng(seed)
    half_a = set(rng.choice(cells, size=len(cells) // 2, replace=False).tolist())
    table = predictions.with_columns((pl.col("measured") - pl.col("predicted")).alias("residual"),
                                     pl.col("cell_line").is_in(list(half_a)).alias("half_a"),
                                     pl.col("cell_line").replace_strict(tissues, default="unknown").alias("tissue"))
    per_drug, tested = {}, []
    for (drug,), group in table.group_by("drug", maintain_order=True):
        residual, in_a = group["residual"].to_numpy(), group["half_a"].to_numpy()
        half_width = conformal_quantile(residual, coverage)
        if not np.isfinite(half_width):
            continue
        covered = np.zeros(len(residual), dtype=bool)
        for calibrate in (in_a, ~in_a):
            width = conformal_quantile(residual[calibrate], coverage)
            covered[~calibrate] = np.abs(residual[~calibrate]) <= width
        per_drug[drug] = {"half_width": half_width, "calibration_pairs": len(residual),
                          "coverage": float(covered.mean())}
        tested.append(group.select("drug", "tissue").with_columns(pl.Series("covered", covered)))
    tested = pl.concat(tested)
    per_tissue = tested.group_by("tissue").agg(pl.col("covered").mean().alias("coverage"),
                                               pl.len().alias("pairs")).sort("tissue")
    return {"nominal": coverage, "method": "split-conformal, |residual| quantile ceil((n+1)(1-alpha))/n per drug, "
                                           "from LCO out-of-fold residuals",
            "coverage_method": "cross-calibration: half-widths from one random half of the cell lines, tested on "
                               "the other half, both ways",
            "empirical_coverage": float(tested["covered"].mean()), "test_pairs": tested.height,
            "per_tissue": {t: {"coverage": c, "pairs": n} for t, c, n in per_tissue.iter_rows()},
            "drugs": per_drug}


def read_conformal(evaluation_dir) -> dict:
    """The export's ``conformal.json`` (an empty record when the assets have none: no intervals are shown)."""
    path = Path(evaluation_dir) / CONFORMAL_FILE
    return json.loads(path.read_text()) if path.is_file() else {"drugs": {}}


def half_widths(conformal: dict, drugs: list[str]) -> np.ndarray:
    """Each drug's interval half-width in ln µM, in ``drugs`` order (NaN for a drug without one)."""
    return np.array([conformal["drugs"].get(d, {}).get("half_width", np.nan) for d in drugs])
