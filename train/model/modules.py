"""The torch modules: one cell line's raw profile in, ln IC50 (µM) for every drug out.

``DrugResponseModel`` is the whole prediction path — fitted preprocessing, an ensemble of MLPs
predicting drug-standardised responses, an optional blend with a ridge layer on the same expression
features, the per-drug de-standardisation, and the driver-event head (``DriverEffects``, fitted by
``driver_head.py``), added in ln µM. The ONNX export is this function, rearranged into three matrix products
by ``export/fused.py`` and checked against this module. ``fit.py`` fits it; ``predictor.py`` wraps it for the
evaluation.
"""

from __future__ import annotations

import torch
from torch import nn

from .preprocessing import Preprocessor


class MultiTaskNet(nn.Module):
    """Features -> drug-standardised ln IC50 for every drug."""

    def __init__(self, n_features: int, n_drugs: int, hidden: tuple[int, ...], dropout: float, input_dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(input_dropout)]
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_drugs))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def round_weights_to_half(model: nn.Module) -> None:
    """Round every Linear weight to float16 precision, so evaluation sees the numbers export ships."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(module.weight.half().float())
                module.bias.copy_(module.bias.half().float())


class DriverEffects(nn.Module):
    """The driver-event head as a module: kept events centred on their training frequency (unknown -> 0),
    times per-drug effects in ln µM."""

    def __init__(self, events: torch.Tensor, frequency: torch.Tensor, weights: torch.Tensor):
        super().__init__()
        self.register_buffer("events", events.long())
        self.register_buffer("frequency", frequency.float())
        self.register_buffer("weights", weights.float())  # [kept events, drugs], ln µM per carried event

    def centred(self, drivers: torch.Tensor) -> torch.Tensor:
        kept = torch.gather(drivers, 1, self.events.unsqueeze(0).expand(drivers.shape[0], -1))
        return torch.where(torch.isnan(kept), self.frequency, kept) - self.frequency

    def forward(self, drivers: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.centred(drivers), self.weights)


class DrugResponseModel(nn.Module):
    """Raw profile -> ln IC50 [batch, drugs]. Everything fitted lives in buffers and parameters."""

    def __init__(self, preprocessor: Preprocessor, members: list[MultiTaskNet], drug_mean: torch.Tensor,
                 drug_sd: torch.Tensor, ridge: nn.Linear | None = None, ridge_weight: float = 0.0,
                 n_expression_features: int = 0, drivers: DriverEffects | None = None):
        super().__init__()
        self.preprocessor = preprocessor
        self.members = nn.ModuleList(members)
        self.register_buffer("drug_mean", drug_mean.float())
        self.register_buffer("drug_sd", drug_sd.float())
        self.ridge = ridge
        self.ridge_weight = float(ridge_weight)
        self.n_expression_features = n_expression_features
        self.drivers = drivers if drivers is not None and len(drivers.events) else None

    def reads(self) -> dict[str, bool]:
        """Which of the four raw inputs change the output."""
        return {**self.preprocessor.reads(), "drivers": self.drivers is not None}

    def standardised(self, features: torch.Tensor) -> torch.Tensor:
        z = torch.stack([m(features) for m in self.members]).mean(dim=0)
        if self.ridge is not None and self.ridge_weight > 0:
            ridge_z = self.ridge(features[:, : self.n_expression_features])
            z = (1 - self.ridge_weight) * z + self.ridge_weight * ridge_z
        return z

    def expression_part(self, expression: torch.Tensor, mutation: torch.Tensor,
                        copy_number: torch.Tensor) -> torch.Tensor:
        """ln IC50 from the genomic profile without the driver head (the model "without drivers")."""
        features = self.preprocessor(expression, mutation, copy_number)
        return self.standardised(features) * self.drug_sd + self.drug_mean

    def forward(self, expression: torch.Tensor, mutation: torch.Tensor, copy_number: torch.Tensor,
                drivers: torch.Tensor) -> torch.Tensor:
        out = self.expression_part(expression, mutation, copy_number)
        return out + self.drivers(drivers) if self.drivers is not None else out
