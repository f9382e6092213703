"""Per-drug ridge regression, solved for every penalty at once: the linear layer the model blends with, and the
solver of the ridge baseline (``baselines/ridge.py``).

Each drug gets its own ridge fit on the training cell lines that measured it. It is solved in the dual (cell
lines x cell lines kernel), with one eigendecomposition per drug serving every penalty on the grid and giving
leave-one-out residuals for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def top_variance_genes(expression: np.ndarray, k: int) -> np.ndarray:
    variance = np.nanvar(expression, axis=0)
    return np.sort(np.argsort(-variance, kind="stable")[:k])


@dataclass
class RidgeFit:
    """Weights [alphas, features, targets], intercepts [alphas, targets] and, when asked for, leave-one-out
    residuals [alphas, rows, targets] (NaN outside the mask)."""

    weights: np.ndarray
    intercepts: np.ndarray
    loo_residuals: np.ndarray | None = None


def fit_ridge_per_drug(x: np.ndarray, y: np.ndarray, mask: np.ndarray, alphas, loo: bool = False) -> RidgeFit:
    """Ridge per target column on the rows where ``mask`` is set, for every penalty at once.

    ``x`` [rows, features], ``y`` and ``mask`` [rows, targets]. Solved in the dual: one eigendecomposition
    of the rows' kernel per target serves every penalty. With ``loo`` the leave-one-out residual of every
    training pair is returned too: (y - fit) / (1 - leverage), the leverage counting the intercept.
    """
    x = x.astype(np.float64)
    kernel = x @ x.T
    n_targets = mask.shape[1]
    weights = np.zeros((len(alphas), x.shape[1], n_targets))
    intercepts = np.zeros((len(alphas), n_targets))
    residuals = np.full((len(alphas), *mask.shape), np.nan) if loo else None
    for j in range(n_targets):
        cells = np.nonzero(mask[:, j])[0]
        if len(cells) == 0:
            continue
        target = y[cells, j].astype(np.float64)
        intercepts[:, j] = target.mean()
        values, vectors = np.linalg.eigh(kernel[np.ix_(cells, cells)])
        values = np.maximum(values, 0)
        projected = vectors.T @ (target - target.mean())
        for a, alpha in enumerate(alphas):
            weights[a, :, j] = x[cells].T @ (vectors @ (projected / (values + alpha)))
            if loo:
                shrink = values / (values + alpha)
                leverage = (vectors ** 2) @ shrink + 1.0 / len(cells)
                fitted = vectors @ (projected * shrink)
                residuals[a, cells, j] = (target - target.mean() - fitted) / np.maximum(1 - leverage, 1e-6)
    return RidgeFit(weights, intercepts, residuals)
