"""Context for reading one sample's predictions: where it sits among GDSC lines (all, or its own lineage), which GDSC
lines it resembles, what each drug's measured range is, and what its unknown driver events could change.

Calls are relative: a percentile among GDSC lines' held-out predictions, never a dose. ``call_words`` says so in the
call itself ("among the 20% most sensitive GDSC lines") and ``measured_range`` puts each drug's measured GDSC range
beside it, so a sample predicted at 18 µM for a drug whose GDSC lines span 5-200 µM reads as what it is.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .calibration import RESISTANT, SENSITIVE

EFFECT_SHOWN = 0.25  # ln µM: an unknown event whose effect on every drug is smaller is not listed
SHIFT_DIGITS = 2  # shifts are shown to 0.01 ln µM; a drug whose shift rounds to 0 there is not listed


def call_words(percentile: float, among: str = "GDSC lines") -> str:
    if not np.isfinite(percentile):
        return "n/a"
    if percentile < SENSITIVE:
        return f"among the {SENSITIVE:.0f}% most sensitive {among}"
    if percentile > RESISTANT:
        return f"among the {100 - RESISTANT:.0f}% least sensitive {among}"
    return f"in the middle {RESISTANT - SENSITIVE:.0f}% of {among}"


def measured_range(measured: pl.DataFrame, drugs: list[str]) -> dict[str, tuple[float, float]]:
    """Each drug's 10th-90th percentile of measured ln IC50 over GDSC lines."""
    table = measured.group_by("drug").agg(pl.col("ln_ic50").quantile(0.1).alias("low"),
                                          pl.col("ln_ic50").quantile(0.9).alias("high"))
    found = {d: (lo, hi) for d, lo, hi in table.iter_rows()}
    return {d: found.get(d, (np.nan, np.nan)) for d in drugs}


class Lineages:
    """Held-out predictions of the GDSC lines of each tissue, sorted per drug, for percentiles within a lineage."""

    def __init__(self, held_out: np.ndarray, tissues: np.ndarray):
        self.sorted: dict[str, list[np.ndarray]] = {}
        for tissue in sorted(set(tissues.tolist())):
            rows = held_out[tissues == tissue]
            self.sorted[tissue] = [np.sort(c[np.isfinite(c)]) for c in rows.T]

    def lines(self, tissue: str) -> int:
        return max((len(c) for c in self.sorted.get(tissue, [])), default=0)

    def percentile(self, predictions: np.ndarray, tissue: str) -> np.ndarray:
        """[drugs] -> % of the tissue's GDSC lines with a lower held-out prediction (NaN where it has none)."""
        out = np.full(predictions.shape, np.nan)
        for j, reference in enumerate(self.sorted.get(tissue, [])):
            if len(reference):
                out[j] = 100.0 * np.searchsorted(reference, predictions[j]) / len(reference)
        return out


def similar_lines(expression: np.ndarray, catalog_expression: np.ndarray, genes: np.ndarray, k: int = 5
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(rows, Pearson r) of the ``k`` GDSC lines whose expression over ``genes`` (the model's) correlates best with
    the sample's, over the genes the sample has. Log-scale profiles on any scale compare alike (correlation)."""
    x = expression[genes].astype(np.float64)
    known = np.isfinite(x)
    y = catalog_expression[:, genes][:, known].astype(np.float64)
    x = x[known]
    x = (x - x.mean()) / (x.std() + 1e-12)
    y = (y - y.mean(axis=1, keepdims=True)) / (y.std(axis=1, keepdims=True) + 1e-12)
    r = y @ x / len(x)
    order = np.argsort(-r, kind="stable")[:k]
    return order, r[order]


def unknown_event_effects(runtime, profiles: dict[str, np.ndarray], row: int, read_events: np.ndarray,
                          drugs: list[str], top: int = 8) -> list[dict]:
    """For each driver event the model reads but the sample leaves unknown: how far predictions would move if the
    sample carried it (exact: the head is additive), with the drugs that move most."""
    unknown = read_events[np.isnan(profiles["drivers"][row, read_events])]
    if not len(unknown):
        return []
    sample = {m: np.repeat(v[row:row + 1], len(unknown) + 1, axis=0) for m, v in profiles.items()}
    sample["drivers"][np.arange(1, len(unknown) + 1), unknown] = 1.0
    predictions = runtime.predict(sample)
    shift = predictions[1:] - predictions[:1]  # [unknown events, drugs], ln µM
    out = []
    for i in np.argsort(-np.abs(shift).max(axis=1), kind="stable"):
        biggest = np.argsort(-np.abs(shift[i]), kind="stable")[:5]
        if abs(shift[i, biggest[0]]) < EFFECT_SHOWN or len(out) == top:
            break
        # an event moves the few drugs whose head reads it; the rest of the five would be listed as "0.0", which
        # reads as a measured null effect. The first always shows (its shift is at least EFFECT_SHOWN).
        shown = {drugs[j]: round(float(shift[i, j]), SHIFT_DIGITS) for j in biggest}
        out.append({"event": runtime.driver_names[unknown[i]],
                    "largest_shift": round(float(shift[i, biggest[0]]), SHIFT_DIGITS),
                    "drugs": {drug: value for drug, value in shown.items() if value != 0}})
    return out
