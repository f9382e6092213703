"""The structure model, closed-form: ŷ(line, drug) = μ_drug + σ_drug · (a_drug · z̄_line + u_line · β_drug).

- The line tower reads a line's ln IC50 for the *anchor* drugs (the screened drugs of the training fold): each
  anchor standardised by its training mean and sd, ``z̄`` their mean over the anchors (the line's general
  sensitivity), ``u`` the deviations from ``z̄`` projected on their top ``rank`` principal axes. A GDSC line brings
  its measured responses; a new sample brings the network's predictions for the anchors.
- The drug tower maps a compound's Morgan bits to ``[μ, log σ, a, β]`` by kernel ridge with the Tanimoto kernel
  over the training drugs (``λ`` per block: the potency ``μ, log σ`` and the profile shape ``a, β``).

Scoring a library against every line is one matrix product of the two towers' outputs (``predict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Settings:
    radius: int = 2
    size: int = 2048
    rank: int = 16
    lambda_potency: float = 1.0
    lambda_shape: float = 1.0


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] Tanimoto similarity of 0/1 fingerprints (0 for two empty ones)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass
class LineTower:
    """Anchor standardisation and the principal axes of the deviations, fitted on training lines."""

    anchor_mean: np.ndarray  # [anchors]
    anchor_sd: np.ndarray
    axes: np.ndarray  # [anchors, rank]

    @classmethod
    def fit(cls, anchors_ln_ic50: np.ndarray, rank: int) -> "LineTower":
        mean = np.nanmean(anchors_ln_ic50, axis=0)
        sd = np.nanstd(anchors_ln_ic50, axis=0)
        sd = np.where(sd > 1e-6, sd, 1.0)
        tower = cls(mean, sd, np.zeros((len(mean), 0)))
        _, deviations = tower.general_and_deviations(anchors_ln_ic50)
        _, _, vt = np.linalg.svd(deviations, full_matrices=False)
        tower.axes = vt[:rank].T.copy()
        return tower

    def general_and_deviations(self, anchors_ln_ic50: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """z̄ per line and the deviations from it (0 where an anchor was not measured)."""
        z = (anchors_ln_ic50 - self.anchor_mean) / self.anchor_sd
        general = np.nanmean(z, axis=1)
        return general, np.nan_to_num(z - general[:, None], nan=0.0)

    def embed(self, anchors_ln_ic50: np.ndarray) -> np.ndarray:
        """[lines, 1 + rank]: z̄ and the projection u."""
        general, deviations = self.general_and_deviations(anchors_ln_ic50)
        return np.column_stack([general, deviations @ self.axes])


def drug_targets(y: np.ndarray, line_embedding: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """[drugs, 3 + rank]: each training drug's μ, log σ and the least-squares [a, β] of its standardised responses on
    the line embedding (lines it was measured on; a small ridge keeps rare drugs finite)."""
    out = np.zeros((y.shape[1], 2 + line_embedding.shape[1]))
    for j in range(y.shape[1]):
        seen = ~np.isnan(y[:, j])
        values = y[seen, j]
        mu, sd = values.mean(), max(values.std(), 1e-3)
        x = line_embedding[seen]
        w = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ ((values - mu) / sd))
        out[j] = np.r_[mu, np.log(sd), w]
    return out


@dataclass
class DrugTower:
    """Kernel ridge from Morgan bits to drug targets (each block its own λ), centred on the training mean."""

    fingerprints: np.ndarray  # [training drugs, bits]
    centre: np.ndarray  # [targets]
    dual: np.ndarray  # [training drugs, targets]

    @classmethod
    def fit(cls, fingerprints: np.ndarray, targets: np.ndarray, settings: Settings) -> "DrugTower":
        kernel = tanimoto(fingerprints, fingerprints)
        centre = targets.mean(axis=0)
        dual = np.zeros_like(targets)
        for block, lam in ((slice(0, 2), settings.lambda_potency), (slice(2, None), settings.lambda_shape)):
            dual[:, block] = np.linalg.solve(kernel + lam * np.eye(len(kernel)), targets[:, block] - centre[block])
        return cls(fingerprints, centre, dual)

    def embed(self, fingerprints: np.ndarray) -> np.ndarray:
        return self.centre + tanimoto(fingerprints, self.fingerprints) @ self.dual


@dataclass
class TwoTower:
    settings: Settings
    lines: LineTower
    drugs: DrugTower
    notes: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, anchors_ln_ic50: np.ndarray, train_ln_ic50: np.ndarray, train_fingerprints: np.ndarray,
            settings: Settings) -> "TwoTower":
        """``anchors_ln_ic50`` [lines, anchors] (NaN = not measured) and ``train_ln_ic50`` [lines, drugs with a
        structure] on the same training lines; ``train_fingerprints`` [drugs with a structure, bits]."""
        lines = LineTower.fit(anchors_ln_ic50, settings.rank)
        targets = drug_targets(train_ln_ic50, lines.embed(anchors_ln_ic50))
        return cls(settings, lines, DrugTower.fit(train_fingerprints, targets, settings))

    def predict(self, fingerprints: np.ndarray, anchors_ln_ic50: np.ndarray) -> np.ndarray:
        """[lines, compounds] ln IC50: the two towers' product."""
        return combine(self.drugs.embed(fingerprints), self.lines.embed(anchors_ln_ic50))


def combine(drug_embedding: np.ndarray, line_embedding: np.ndarray) -> np.ndarray:
    """ŷ[line, drug] = μ + σ · (line_embedding · [a, β])."""
    mu, sd = drug_embedding[:, 0], np.exp(drug_embedding[:, 1])
    return mu[None, :] + (line_embedding @ drug_embedding[:, 2:].T) * sd[None, :]
