"""The per-drug ridge baseline: the strong linear baseline every model must beat.

One ridge per drug on the most variable genes' standardised expression (``model/ridge_solver.py``), its penalty
chosen on an inner split of the training data. ``ridge_per_drug_drivers`` adds the model's driver-event head
(``model/driver_head.py``), fitted on the ridge's leave-one-out residuals, exactly as the model does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.response_matrix import ResponseMatrix
from ..data.splits import inner_split
from ..model.driver_head import DriverHead, HeadConfig
from ..model.ridge_solver import RidgeFit, fit_ridge_per_drug, top_variance_genes


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
