"""Per-drug ridge regression on expression: the strong linear baseline.

Each drug gets its own ridge fit on the training cell lines that measured it, on the most variable
genes' standardised expression. It is solved in the dual (cell lines x cell lines kernel), with one
eigendecomposition per drug serving every penalty on the grid; the penalty is chosen on an inner
split of the training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matrix import ResponseMatrix
from .splits import inner_split


def top_variance_genes(expression: np.ndarray, k: int) -> np.ndarray:
    variance = np.nanvar(expression, axis=0)
    return np.sort(np.argsort(-variance, kind="stable")[:k])


def fit_ridge_per_drug(x: np.ndarray, y: np.ndarray, mask: np.ndarray, alphas) -> tuple[np.ndarray, np.ndarray]:
    """Ridge per target column on the rows where ``mask`` is set, for every penalty at once.

    ``x`` [rows, features], ``y`` and ``mask`` [rows, targets]. Returns weights [alphas, features,
    targets] and intercepts [alphas, targets]. Solved in the dual: one eigendecomposition of the
    rows' kernel per target serves every penalty.
    """
    x = x.astype(np.float64)
    kernel = x @ x.T
    n_targets = mask.shape[1]
    weights = np.zeros((len(alphas), x.shape[1], n_targets))
    intercepts = np.zeros((len(alphas), n_targets))
    for j in range(n_targets):
        cells = np.nonzero(mask[:, j])[0]
        if len(cells) == 0:
            continue
        target = y[cells, j].astype(np.float64)
        intercepts[:, j] = target.mean()
        values, vectors = np.linalg.eigh(kernel[np.ix_(cells, cells)])
        projected = vectors.T @ (target - target.mean())
        for a, alpha in enumerate(alphas):
            weights[a, :, j] = x[cells].T @ (vectors @ (projected / (np.maximum(values, 0) + alpha)))
    return weights, intercepts


@dataclass
class RidgePerDrug:
    name: str = "ridge_per_drug"
    baseline: bool = True
    n_genes: int = 2000
    alphas: tuple[float, ...] = (1e2, 3e2, 1e3, 3e3, 1e4, 3e4, 1e5)
    alpha_: float | None = None
    genes_: np.ndarray | None = None
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    weights_: np.ndarray | None = None  # [genes, drugs]
    intercept_: np.ndarray | None = None  # [drugs]

    def _features(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        x = matrix.profiles["expression"][rows][:, self.genes_]
        x = np.where(np.isnan(x), self.mean_, x)
        return ((x - self.mean_) / self.scale_).astype(np.float64)

    def _prepare(self, matrix: ResponseMatrix, rows: np.ndarray) -> None:
        expression = matrix.profiles["expression"][rows]
        self.genes_ = top_variance_genes(expression, self.n_genes)
        self.mean_ = np.nanmean(expression[:, self.genes_], axis=0)
        self.scale_ = np.nanstd(expression[:, self.genes_], axis=0) + 1e-6

    def _solve(self, matrix: ResponseMatrix, mask: np.ndarray, alphas) -> tuple[np.ndarray, np.ndarray]:
        rows = np.nonzero(mask.any(axis=1))[0]
        return fit_ridge_per_drug(self._features(matrix, rows), matrix.ln_ic50[rows], mask[rows], alphas)

    def fit(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str = "lco", seed: int = 0):
        train_rows = np.nonzero(train_mask.any(axis=1))[0]
        self._prepare(matrix, train_rows)
        inner_train, inner_val = inner_split(train_mask, split, 0.2, seed)
        weights, intercepts = self._solve(matrix, inner_train, self.alphas)
        val_rows = np.nonzero(inner_val.any(axis=1))[0]
        x_val = self._features(matrix, val_rows)
        m, y = inner_val[val_rows], matrix.ln_ic50[val_rows]
        errors = [np.mean(((x_val @ w + b)[m] - y[m]) ** 2) for w, b in zip(weights, intercepts)]
        self.alpha_ = float(self.alphas[int(np.argmin(errors))])
        weights, intercepts = self._solve(matrix, train_mask, (self.alpha_,))
        self.weights_, self.intercept_ = weights[0].astype(np.float32), intercepts[0].astype(np.float32)
        return self

    def predict(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        return (self._features(matrix, rows) @ self.weights_ + self.intercept_).astype(np.float32)
