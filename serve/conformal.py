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
    table = _halved(predictions, seed).with_columns(
        pl.col("cell_line").replace_strict(tissues, default="unknown").alias("tissue"))
    per_drug, tested = {}, []
    for (drug,), group in table.group_by("drug", maintain_order=True):
        residual, in_a = group["residual"].to_numpy(), group["half_a"].to_numpy()
        half_width = conformal_quantile(residual, coverage)
        if not np.isfinite(half_width):
            continue
        covered = _cross_covered(residual, in_a, coverage)
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


def _halved(predictions: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The held-out pairs with their residual and which random half of the cell lines each falls in."""
    cells = np.array(sorted(predictions["cell_line"].unique().to_list()))
    half_a = set(np.random.default_rng(seed).choice(cells, size=len(cells) // 2, replace=False).tolist())
    return predictions.with_columns((pl.col("measured") - pl.col("predicted")).alias("residual"),
                                    pl.col("cell_line").is_in(list(half_a)).alias("half_a"))


def _cross_covered(residual: np.ndarray, in_a: np.ndarray, coverage: float) -> np.ndarray:
    """Whether each pair's interval, calibrated on the other half of the cell lines, covers its measured value."""
    covered = np.zeros(len(residual), dtype=bool)
    for calibrate in (in_a, ~in_a):
        width = conformal_quantile(residual[calibrate], coverage)
        covered[~calibrate] = np.abs(residual[~calibrate]) <= width
    return covered


EXCEPTIONAL = 0.05  # each drug's most sensitive measured responses: the pairs users look for
TOP = 0.2  # "predicted among the most sensitive": the drug's lowest fifth of predictions


def recalled_extremes(measured: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one drug's pairs: which are among its ``EXCEPTIONAL`` most sensitive measured, and, for each of those,
    whether its prediction is among the drug's ``TOP`` most sensitive."""
    extreme = measured <= np.quantile(measured, EXCEPTIONAL)
    return extreme, predicted[extreme] <= np.quantile(predicted, TOP)


def exceptional_responders(predictions: pl.DataFrame, coverage: float = COVERAGE, seed: int = 0) -> dict:
    """What the intervals and the ranking mean for each drug's ``EXCEPTIONAL`` most sensitive measured held-out pairs:
    how often their 80% interval (cross-calibrated as in ``conformal_intervals``) covers the measured value, and how
    often they are predicted among the drug's ``TOP`` most sensitive; beside it, the coverage of the pairs a user can
    pick, those *predicted* among the drug's ``EXCEPTIONAL`` most sensitive. Pairs picked by an outcome nobody sees in
    advance sit in the tails of any imperfect model's residuals, so their coverage is low even where the intervals of
    pairs picked by their prediction hold."""
    extremes = covered_extremes = recalled = predicted_low = covered_low = 0
    for (_,), group in _halved(predictions, seed).group_by("drug", maintain_order=True):
        measured, predicted = group["measured"].to_numpy(), group["predicted"].to_numpy()
        residual, in_a = group["residual"].to_numpy(), group["half_a"].to_numpy()
        if not all(np.isfinite(conformal_quantile(residual[half], coverage)) for half in (in_a, ~in_a)):
            continue  # too few lines in a half for an interval: an infinite one would count as covering
        extreme, hit = recalled_extremes(measured, predicted)
        low = predicted <= np.quantile(predicted, EXCEPTIONAL)
        covered = _cross_covered(residual, in_a, coverage)
        extremes += int(extreme.sum())
        covered_extremes += int(covered[extreme].sum())
        recalled += int(hit.sum())
        predicted_low += int(low.sum())
        covered_low += int(covered[low].sum())
    return {"share": EXCEPTIONAL, "top": TOP, "pairs": extremes,
            "coverage": covered_extremes / extremes if extremes else None,
            "recall": recalled / extremes if extremes else None,
            "predicted_pairs": predicted_low, "predicted_coverage": covered_low / predicted_low if predicted_low else None}


def by_screen(predictions: pl.DataFrame, screens: pl.DataFrame, coverage: float = COVERAGE) -> dict:
    """``exceptional_responders`` of each screen's outputs on their own (``screens``: drug, screen), where the model
    has more than one screen."""
    if screens.is_empty() or screens["screen"].n_unique() < 2:
        return {}
    keyed = predictions.join(screens.select("drug", "screen"), on="drug", how="inner")
    return {screen: exceptional_responders(part.drop("screen"), coverage)
            for (screen,), part in keyed.group_by("screen", maintain_order=True)}


def references(benchmark: dict | None) -> dict:
    """What other measurements of the same pairs recall of one screen's most sensitive ones, beside the network on
    those pairs (``benchmarks/exceptional_responders.py``, copied by the export): reference points, not bounds (each
    side is one noisy measurement). Empty for assets without the benchmark."""
    if not benchmark:
        return {}
    out = {}
    other = [{"screen": r["screen"], "measured_by": r["other"], "drugs": r["drugs"], "recall": r["other_screen"],
              "network": r["mlp_ensemble"]} for r in benchmark.get("other_screen", [])]
    if other:
        out["other_screen"] = other
    replicates = benchmark.get("replicates") or {}
    if replicates:
        out["replicate"] = {"drugs": replicates["drugs"], "recall": replicates["replicate"],
                            "network": replicates["mlp_ensemble"]}
    return out


def read_conformal(evaluation_dir) -> dict:
    """The export's ``conformal.json`` (an empty record when the assets have none: no intervals are shown)."""
    path = Path(evaluation_dir) / CONFORMAL_FILE
    return json.loads(path.read_text()) if path.is_file() else {"drugs": {}}


def half_widths(conformal: dict, drugs: list[str]) -> np.ndarray:
    """Each drug's interval half-width in ln µM, in ``drugs`` order (NaN for a drug without one)."""
    return np.array([conformal["drugs"].get(d, {}).get("half_width", np.nan) for d in drugs])
