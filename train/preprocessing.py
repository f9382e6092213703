"""The fitted preprocessing, written once as a torch module so training and the ONNX graph share it.

Contract: input is the RAW profile as the bundle stores it (float32, NaN = missing):
``expression`` [batch, genes] (any per-sample scale: it is z-scored within each sample here, a no-op
for the bundle's own profiles), ``mutation`` [batch, genes] (0/1), ``copy_number`` [batch, genes]
(-1/0/1). Output is the network's feature vector: for each modality, the selected genes, missing
values imputed with the training mean, then standardised with training mean and sd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .bundle import MODALITIES


def zscore_within_sample(expression: np.ndarray) -> np.ndarray:
    """NumPy twin of the graph's per-sample z-score (NaN ignored), used for fitting statistics."""
    mean = np.nanmean(expression, axis=1, keepdims=True)
    sd = np.nanstd(expression, axis=1, keepdims=True)
    return (expression - mean) / np.maximum(sd, 1e-6)


@dataclass
class FittedScaling:
    """What preprocessing learned from training cell lines, per modality."""

    genes: dict[str, np.ndarray]  # selected gene indices (int64) per modality
    mean: dict[str, np.ndarray]  # training mean of each selected gene (also the imputation value)
    sd: dict[str, np.ndarray]

    @classmethod
    def fit(cls, profiles: dict[str, np.ndarray], n_expression_genes: int, n_copy_number_genes: int,
            min_mutated: int) -> "FittedScaling":
        """Select genes and fit statistics on training cell lines' raw profiles."""
        data = dict(profiles)
        data["expression"] = zscore_within_sample(data["expression"])
        variance = {m: np.nanvar(data[m], axis=0) for m in MODALITIES}
        genes = {
            "expression": np.argsort(-variance["expression"], kind="stable")[:n_expression_genes],
            "copy_number": np.argsort(-variance["copy_number"], kind="stable")[:n_copy_number_genes],
            "mutation": np.nonzero(np.nansum(data["mutation"], axis=0) >= min_mutated)[0],
        }
        genes = {m: np.sort(g).astype(np.int64) for m, g in genes.items()}
        mean = {m: np.nan_to_num(np.nanmean(data[m][:, genes[m]], axis=0)).astype(np.float32) for m in MODALITIES}
        sd = {m: np.maximum(np.nan_to_num(np.nanstd(data[m][:, genes[m]], axis=0)), 1e-3).astype(np.float32)
              for m in MODALITIES}
        return cls(genes, mean, sd)

    @property
    def n_features(self) -> int:
        return sum(len(g) for g in self.genes.values())


class Preprocessor(nn.Module):
    """Raw profile -> standardised selected features. Exported to ONNX as part of the model."""

    def __init__(self, scaling: FittedScaling):
        super().__init__()
        for m in MODALITIES:
            self.register_buffer(f"{m}_genes", torch.as_tensor(scaling.genes[m], dtype=torch.int64))
            self.register_buffer(f"{m}_mean", torch.as_tensor(scaling.mean[m], dtype=torch.float32))
            self.register_buffer(f"{m}_sd", torch.as_tensor(scaling.sd[m], dtype=torch.float32))

    @staticmethod
    def _within_sample_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and sd of each sample's observed values, [batch, 1] each (the twin of zscore_within_sample)."""
        observed = ~torch.isnan(x)
        # counted in float (exact below 2**24 genes): an integer ReduceSum is a slow path in onnxruntime
        count = observed.to(x.dtype).sum(dim=1, keepdim=True).clamp(min=1)
        filled = torch.where(observed, x, 0.0)
        mean = filled.sum(dim=1, keepdim=True) / count
        centred = torch.where(observed, x - mean, 0.0)
        sd = torch.sqrt((centred * centred).sum(dim=1, keepdim=True) / count).clamp(min=1e-6)
        return mean, sd

    def _impute(self, x: torch.Tensor, modality: str, sample_stats=None) -> torch.Tensor:
        genes = getattr(self, f"{modality}_genes")
        # gather rather than index_select: onnxruntime runs GatherElements several times faster than an axis-1
        # Gather (one contiguous pass instead of a copy call per gene)
        picked = torch.gather(x, 1, genes.unsqueeze(0).expand(x.shape[0], -1))
        if sample_stats is not None:
            # z-scoring after the selection gives the same numbers and touches only the selected genes
            picked = (picked - sample_stats[0]) / sample_stats[1]  # NaN stays NaN, imputed next
        return torch.where(torch.isnan(picked), getattr(self, f"{modality}_mean"), picked)

    def imputed(self, expression: torch.Tensor, mutation: torch.Tensor, copy_number: torch.Tensor) -> torch.Tensor:
        """The selected features with missing values imputed, before the training standardisation."""
        return torch.cat([
            self._impute(expression, "expression", self._within_sample_stats(expression)),
            self._impute(mutation, "mutation"),
            self._impute(copy_number, "copy_number"),
        ], dim=1)

    def feature_scaling(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training mean and sd of every feature, in feature order."""
        return (torch.cat([getattr(self, f"{m}_mean") for m in MODALITIES]),
                torch.cat([getattr(self, f"{m}_sd") for m in MODALITIES]))

    def forward(self, expression: torch.Tensor, mutation: torch.Tensor, copy_number: torch.Tensor) -> torch.Tensor:
        mean, sd = self.feature_scaling()
        return (self.imputed(expression, mutation, copy_number) - mean) / sd
