"""The fitted preprocessing, written once as a torch module so training and the ONNX graph share it.

Contract: input is the RAW profile (float32, NaN = missing): ``expression`` [batch, genes] on any
per-sample log scale, ``mutation`` [batch, genes] (0/1), ``copy_number`` [batch, genes] (-1/0/1). Output
is the network's feature vector: for each modality, the selected genes, missing values imputed with the
training mean, then standardised with the training mean and sd.

Per-sample expression normalisation (reference-matched moments). The bundle's profiles are z-scored
within each line over all 6,163 genes. A user's platform may cover fewer genes, and z-scoring over
"whichever genes are present" would move the reference with the missingness pattern: a panel of highly
expressed genes would be centred on its own mean and every gene would read as low. Instead a sample's
present genes P are mapped linearly so that their mean and spread equal those the training lines have
over the same genes P:

    x_g = m_P + (y_g - mean_P(y)) * s_P / sd_P(y),   m_P = mean over P of the genes' training means,
                                                      s_P^2 = mean over P of the genes' training mean
                                                              squares - m_P^2

For a complete profile m_P = 0 and s_P = 1, so a bundle profile passes unchanged (the z-score it
already has); for a subset, the subset is put where those genes sit in a typical GDSC line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.bundle import OMICS


@dataclass
class ReferenceMoments:
    """Training lines' mean and mean square of every gene's within-line z-scored expression."""

    mean: np.ndarray  # [genes]
    square: np.ndarray  # [genes]

    @classmethod
    def fit(cls, expression: np.ndarray) -> "ReferenceMoments":
        values = zscore_within_sample(expression)
        return cls(np.nan_to_num(np.nanmean(values, axis=0)).astype(np.float32),
                   np.nan_to_num(np.nanmean(values * values, axis=0), nan=1.0).astype(np.float32))


def zscore_within_sample(expression: np.ndarray) -> np.ndarray:
    """Each line z-scored over its own observed genes (what the bundle's profiles already are)."""
    mean = np.nanmean(expression, axis=1, keepdims=True)
    sd = np.nanstd(expression, axis=1, keepdims=True)
    return (expression - mean) / np.maximum(sd, 1e-6)


def normalise_expression(expression: np.ndarray, reference: ReferenceMoments) -> np.ndarray:
    """NumPy twin of the graph's reference-matched normalisation (see the module docstring)."""
    observed = ~np.isnan(expression)
    count = np.maximum(observed.sum(axis=1, keepdims=True), 1)
    filled = np.where(observed, expression, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / count
    centred = np.where(observed, expression - mean, 0.0)
    sd = np.sqrt((centred * centred).sum(axis=1, keepdims=True) / count)
    ref_mean = (observed @ reference.mean)[:, None] / count
    ref_var = (observed @ reference.square)[:, None] / count - ref_mean ** 2
    return ref_mean + (expression - mean) * np.sqrt(np.maximum(ref_var, 1e-6)) / np.maximum(sd, 1e-6)


@dataclass
class FittedScaling:
    """What preprocessing learned from training cell lines, per modality."""

    genes: dict[str, np.ndarray]  # selected gene indices (int64) per omics modality
    mean: dict[str, np.ndarray]  # training mean of each selected gene (also the imputation value)
    sd: dict[str, np.ndarray]
    reference: ReferenceMoments  # for the per-sample expression normalisation

    @classmethod
    def fit(cls, profiles: dict[str, np.ndarray], n_expression_genes: int, n_copy_number_genes: int,
            min_mutated: int) -> "FittedScaling":
        """Select genes and fit statistics on training cell lines' raw profiles."""
        reference = ReferenceMoments.fit(profiles["expression"])
        data = {m: profiles[m] for m in OMICS}
        data["expression"] = normalise_expression(data["expression"], reference)
        variance = {m: np.nanvar(data[m], axis=0) for m in OMICS}
        genes = {
            "expression": np.argsort(-variance["expression"], kind="stable")[:n_expression_genes],
            "copy_number": np.argsort(-variance["copy_number"], kind="stable")[:n_copy_number_genes],
            "mutation": np.nonzero(np.nansum(data["mutation"], axis=0) >= min_mutated)[0],
        }
        genes = {m: np.sort(g).astype(np.int64) for m, g in genes.items()}
        mean = {m: np.nan_to_num(np.nanmean(data[m][:, genes[m]], axis=0)).astype(np.float32) for m in OMICS}
        sd = {m: np.maximum(np.nan_to_num(np.nanstd(data[m][:, genes[m]], axis=0)), 1e-3).astype(np.float32)
              for m in OMICS}
        return cls(genes, mean, sd, reference)

    @property
    def n_features(self) -> int:
        return sum(len(g) for g in self.genes.values())


class Preprocessor(nn.Module):
    """Raw profile -> standardised selected features. Exported to ONNX as part of the model."""

    def __init__(self, scaling: FittedScaling):
        super().__init__()
        for m in OMICS:
            self.register_buffer(f"{m}_genes", torch.as_tensor(scaling.genes[m], dtype=torch.int64))
            self.register_buffer(f"{m}_mean", torch.as_tensor(scaling.mean[m], dtype=torch.float32))
            self.register_buffer(f"{m}_sd", torch.as_tensor(scaling.sd[m], dtype=torch.float32))
        # [genes, 2]: one product gives both reference moments of a sample's observed genes
        self.register_buffer("reference", torch.stack([torch.as_tensor(scaling.reference.mean),
                                                       torch.as_tensor(scaling.reference.square)], dim=1))

    def reads(self) -> dict[str, bool]:
        """Which raw inputs the features depend on (a modality with no selected gene is not read)."""
        return {m: len(getattr(self, f"{m}_genes")) > 0 for m in OMICS}

    def _expression_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sample (shift, scale), [batch, 1] each, such that x * scale + shift is the normalised profile."""
        observed = ~torch.isnan(x)
        weights = observed.to(x.dtype)
        # counted in float (exact below 2**24 genes): an integer ReduceSum is a slow path in onnxruntime
        count = weights.sum(dim=1, keepdim=True).clamp(min=1)
        filled = torch.where(observed, x, 0.0)
        mean = filled.sum(dim=1, keepdim=True) / count
        centred = torch.where(observed, x - mean, 0.0)
        sd = torch.sqrt((centred * centred).sum(dim=1, keepdim=True) / count).clamp(min=1e-6)
        moments = torch.matmul(weights, self.reference) / count  # [batch, 2]: reference mean, mean square
        ref_mean, ref_square = moments[:, :1], moments[:, 1:]
        scale = torch.sqrt((ref_square - ref_mean * ref_mean).clamp(min=1e-6)) / sd
        return ref_mean - mean * scale, scale

    def _impute(self, x: torch.Tensor, modality: str, affine=None) -> torch.Tensor:
        genes = getattr(self, f"{modality}_genes")
        # gather rather than index_select: onnxruntime runs GatherElements several times faster than an axis-1
        # Gather (one contiguous pass instead of a copy call per gene)
        picked = torch.gather(x, 1, genes.unsqueeze(0).expand(x.shape[0], -1))
        if affine is not None:
            # normalising after the selection gives the same numbers and touches only the selected genes
            picked = picked * affine[1] + affine[0]  # NaN stays NaN, imputed next
        return torch.where(torch.isnan(picked), getattr(self, f"{modality}_mean"), picked)

    def imputed(self, expression: torch.Tensor, mutation: torch.Tensor, copy_number: torch.Tensor) -> torch.Tensor:
        """The selected features with missing values imputed, before the training standardisation."""
        return torch.cat([
            self._impute(expression, "expression", self._expression_stats(expression)),
            self._impute(mutation, "mutation"),
            self._impute(copy_number, "copy_number"),
        ], dim=1)

    def feature_scaling(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training mean and sd of every feature, in feature order."""
        return (torch.cat([getattr(self, f"{m}_mean") for m in OMICS]),
                torch.cat([getattr(self, f"{m}_sd") for m in OMICS]))

    def forward(self, expression: torch.Tensor, mutation: torch.Tensor, copy_number: torch.Tensor) -> torch.Tensor:
        mean, sd = self.feature_scaling()
        return (self.imputed(expression, mutation, copy_number) - mean) / sd
