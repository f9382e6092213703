"""Per-drug ridge regression: the strong linear baseline, and the linear layer the model blends with.

Each drug gets its own ridge fit on the training cell lines that measured it, on the most variable
genes' standardised expression. It is solved in the dual (cell lines x cell lines kernel), with one
eigendecomposition per drug serving every penalty on the grid and giving leave-one-out residuals for
free; the penalty is chosen on an inner split of the training data. ``ridge_per_drug_drivers`` adds the
driver-event head (``driver_head.py``), fitted on those leave-one-out residuals, exactly as the model does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .driver_head import DriverHead, HeadConfig
from .matrix import ResponseMatrix
from .splits import inner_split


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


@dataclass
class RidgePerDrug:
    """Per-drug ridge on the top-variance genes' expression; with ``drivers`` also the driver-event head."""

    name: str = "ridge_per_drug"
    baseline: bool = True
    n_genes: int = 2000
    alphas: tuple[float, ...] = (1e2, 3e2, 1e3, 3e3, 1e4, 3e4, 1e5)
    drivers: bool = False
    head: HeadConfig = HeadConfig()
    alpha_: float | None = None
    genes_: np.ndarray | None = None
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    weights_: np.ndarray | None = None  # [genes, drugs]
    intercept_: np.ndarray | None = None  # [drugs]
    head_: DriverHead | None = None

    def _features(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        x = matrix.profiles["expression"][rows][:, self.genes_]
        x = np.where(np.isnan(x), self.mean_, x)
        return ((x - self.mean_) / self.scale_).astype(np.float64)

    def _prepare(self, matrix: ResponseMatrix, rows: np.ndarray) -> None:
        expression = matrix.profiles["expression"][rows]
        self.genes_ = top_variance_genes(expression, self.n_genes)
        self.mean_ = np.nanmean(expression[:, self.genes_], axis=0)
        self.scale_ = np.nanstd(expression[:, self.genes_], axis=0) + 1e-6

    def _solve(self, matrix: ResponseMatrix, mask: np.ndarray, alphas, loo: bool = False) -> RidgeFit:
        rows = np.nonzero(mask.any(axis=1))[0]
        return fit_ridge_per_drug(self._features(matrix, rows), matrix.ln_ic50[rows], mask[rows], alphas, loo)

    def fit(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str = "lco", seed: int = 0):
        train_rows = np.nonzero(train_mask.any(axis=1))[0]
        self._prepare(matrix, train_rows)
        inner_train, inner_val = inner_split(train_mask, split, 0.2, seed, matrix.tissues)
        inner = self._solve(matrix, inner_train, self.alphas)
        val_rows = np.nonzero(inner_val.any(axis=1))[0]
        x_val = self._features(matrix, val_rows)
        m, y = inner_val[val_rows], matrix.ln_ic50[val_rows]
        errors = [np.mean(((x_val @ w + b)[m] - y[m]) ** 2) for w, b in zip(inner.weights, inner.intercepts)]
        self.alpha_ = float(self.alphas[int(np.argmin(errors))])
        final = self._solve(matrix, train_mask, (self.alpha_,), loo=self.drivers)
        self.weights_, self.intercept_ = final.weights[0].astype(np.float32), final.intercepts[0].astype(np.float32)
        if self.drivers:
            self.head_ = DriverHead(self.head).fit(matrix.profiles["drivers"][train_rows], final.loo_residuals[0])
        return self

    def predict(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        out = self._features(matrix, rows) @ self.weights_ + self.intercept_
        if self.head_ is not None:
            out = out + self.head_.contribution(matrix.profiles["drivers"][rows])
        return out.astype(np.float32)
