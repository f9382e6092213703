"""Leave-drug-out yardsticks: what a new drug's responses look like without learning from its structure.

- ``cell_line_mean``: the average training drug's level and spread, times the line's general sensitivity z̄ (its
  mean standardised response over the training drugs). No structure at all.
- ``knn``: the Tanimoto-weighted average of the k most similar training drugs' measured responses on that line
  (their mean where the line was not measured).
- ``combined``: the average of the two.
"""

from __future__ import annotations

import numpy as np

from .two_tower import LineTower, tanimoto

KNN_K = 5


def cell_line_mean(anchors_ln_ic50: np.ndarray, tower: LineTower, n_drugs: int) -> np.ndarray:
    general, _ = tower.general_and_deviations(anchors_ln_ic50)
    level, spread = tower.anchor_mean.mean(), tower.anchor_sd.mean()
    return np.repeat((level + spread * general)[:, None], n_drugs, axis=1)


def knn(train_ln_ic50: np.ndarray, train_fingerprints: np.ndarray, fingerprints: np.ndarray,
        k: int = KNN_K) -> np.ndarray:
    """[lines, compounds]; ``train_ln_ic50`` [lines, training drugs] is the lines' measured (or, for new lines,
    predicted) responses to the neighbours."""
    similarity = tanimoto(fingerprints, train_fingerprints)
    out = np.empty((train_ln_ic50.shape[0], len(fingerprints)))
    means = np.nanmean(train_ln_ic50, axis=0)
    filled = np.where(np.isnan(train_ln_ic50), means[None, :], train_ln_ic50)
    for c, row in enumerate(similarity):
        nearest = np.argsort(-row, kind="stable")[:k]
        weights = np.maximum(row[nearest], 1e-6)
        out[:, c] = filled[:, nearest] @ weights / weights.sum()
    return out
