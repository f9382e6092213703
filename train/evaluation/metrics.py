"""Error and correlation metrics, pooled and per drug."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

MIN_PAIRS_PER_DRUG = 10


def _corr(fn, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(fn(a, b)[0])


def pooled(measured: np.ndarray, predicted: np.ndarray) -> dict:
    """MSE, MAE, RMSE, R², Pearson and Spearman over all pairs together (ln µM units for errors)."""
    mse = float(mean_squared_error(measured, predicted))
    return {
        "n_pairs": int(len(measured)),
        "mse": mse,
        "mae": float(mean_absolute_error(measured, predicted)),
        "rmse": float(np.sqrt(mse)),
        "r2": float(r2_score(measured, predicted)),
        "pearson": _corr(pearsonr, measured, predicted),
        "spearman": _corr(spearmanr, measured, predicted),
    }


def per_drug(drug_index: np.ndarray, measured: np.ndarray, predicted: np.ndarray,
             min_pairs: int = MIN_PAIRS_PER_DRUG) -> dict[int, dict]:
    """Pearson and Spearman across held-out cell lines, for each drug with at least ``min_pairs`` pairs."""
    out = {}
    order = np.argsort(drug_index, kind="stable")
    drug_index, measured, predicted = drug_index[order], measured[order], predicted[order]
    starts = np.flatnonzero(np.r_[True, drug_index[1:] != drug_index[:-1]])
    for start, stop in zip(starts, np.r_[starts[1:], len(drug_index)]):
        if stop - start >= min_pairs:
            y, p = measured[start:stop], predicted[start:stop]
            out[int(drug_index[start])] = {"n": int(stop - start), "pearson": _corr(pearsonr, y, p),
                                           "spearman": _corr(spearmanr, y, p)}
    return out


def summary(drug_index: np.ndarray, measured: np.ndarray, predicted: np.ndarray) -> dict:
    """Pooled metrics plus per-drug Pearson/Spearman averaged over drugs (NaN correlations skipped)."""
    result = pooled(measured, predicted)
    drugs = per_drug(drug_index, measured, predicted)
    for name in ("pearson", "spearman"):
        values = np.array([d[name] for d in drugs.values()], dtype=float)
        # a constant prediction (drug mean within one fold) has no correlation: NaN, skipped in the mean
        result[f"per_drug_{name}"] = float(np.mean(values[~np.isnan(values)])) if (~np.isnan(values)).any() \
            else float("nan")
    result["n_drugs_scored"] = len(drugs)
    return result
