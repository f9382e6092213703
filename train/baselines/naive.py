"""The naive baselines: what a model must beat before its genomics mean anything. They follow the predictor
contract written down in ``evaluation/registry.py`` (``fit(matrix, train_mask, split, seed)``, ``predict(matrix,
rows)``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.response_matrix import ResponseMatrix, drug_means
from ..data.splits import inner_split


@dataclass
class DrugMean:
    """Every cell line gets the drug's mean over training pairs."""

    name: str = "drug_mean"
    baseline: bool = True
    drug_mean_: np.ndarray | None = None

    def fit(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str = "lco", seed: int = 0):
        self.drug_mean_ = drug_means(matrix.ln_ic50, train_mask)
        return self

    def predict(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.drug_mean_, (len(rows), 1))


@dataclass
class TissueDrugMean:
    """The drug's mean within the cell line's tissue, shrunk toward the drug mean.

    ``(sum over tissue + k * drug mean) / (n in tissue + k)``; the pseudo-count k is chosen on an
    inner split. An unseen tissue gets the drug mean.
    """

    name: str = "tissue_drug_mean"
    baseline: bool = True
    pseudo_counts: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    k_: float | None = None
    drug_mean_: np.ndarray | None = None
    tissue_sums_: dict = field(default_factory=dict)

    def _fit_stats(self, matrix, mask):
        self.drug_mean_ = drug_means(matrix.ln_ic50, mask)
        self.tissue_sums_ = {}
        for tissue in np.unique(matrix.tissues):
            rows = matrix.tissues == tissue
            m = mask[rows]
            self.tissue_sums_[tissue] = (np.where(m, matrix.ln_ic50[rows], 0.0).sum(axis=0), m.sum(axis=0))

    def _predict_k(self, matrix, rows, k):
        out = np.tile(self.drug_mean_, (len(rows), 1)).astype(np.float64)
        for i, tissue in enumerate(matrix.tissues[rows]):
            if tissue in self.tissue_sums_:
                sums, counts = self.tissue_sums_[tissue]
                out[i] = (sums + k * self.drug_mean_) / (counts + k)
        return out.astype(np.float32)

    def fit(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str = "lco", seed: int = 0):
        inner_train, inner_val = inner_split(train_mask, split, 0.2, seed, matrix.tissues)
        self._fit_stats(matrix, inner_train)
        rows = np.nonzero(inner_val.any(axis=1))[0]
        y, m = matrix.ln_ic50[rows], inner_val[rows]
        errors = [np.mean((self._predict_k(matrix, rows, k)[m] - y[m]) ** 2) for k in self.pseudo_counts]
        self.k_ = float(self.pseudo_counts[int(np.argmin(errors))])
        self._fit_stats(matrix, train_mask)
        return self

    def predict(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        return self._predict_k(matrix, rows, self.k_)


@dataclass
class DrugMeanPlusCellEffect:
    """Drug mean plus the cell line's mean residual over its training pairs (0 for an unseen cell line)."""

    name: str = "drug_mean_plus_cell_effect"
    baseline: bool = True
    drug_mean_: np.ndarray | None = None
    cell_effect_: np.ndarray | None = None

    def fit(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str = "lpo", seed: int = 0):
        self.drug_mean_ = drug_means(matrix.ln_ic50, train_mask)
        residual = np.where(train_mask, matrix.ln_ic50 - self.drug_mean_, 0.0)
        self.cell_effect_ = (residual.sum(axis=1) / np.maximum(train_mask.sum(axis=1), 1)).astype(np.float32)
        return self

    def predict(self, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
        return self.drug_mean_[None, :] + self.cell_effect_[rows, None]
