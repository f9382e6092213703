"""Per-feature contributions to a prediction: integrated gradients for the MLPs, exact for the linear parts.

The method (see ``export/explain.py``, which ships the same computation as an ONNX graph): relative to
the average training line (standardised features 0, driver events at their training frequency), each
feature's contribution to a drug's ln IC50 is

- MLP ensemble (one GELU layer per member): x_f * sum_h W1[f, h] * mean_s GELU'(alpha_s * (x W1)_h + b1_h)
  * W2[h, drug] * scale, the integrated gradient with the midpoint rule over ``steps`` values of alpha;
- ridge layer and driver head: weight x (value - baseline value), exactly.

Here for every drug at once (the evaluation's held-out summary); the export writes a graph per (profile,
drug). Both are checked against autograd in the test suite.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import torch

from ..data.response_matrix import ResponseMatrix
from .modules import DrugResponseModel

STEPS = 64


def gelu_derivative(a: torch.Tensor) -> torch.Tensor:
    """d/da of the exact (erf) GELU: Phi(a) + a * phi(a)."""
    return 0.5 * (1.0 + torch.erf(a / math.sqrt(2.0))) + a * torch.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)


def path_slope(pre: torch.Tensor, bias: torch.Tensor, steps: int = STEPS) -> torch.Tensor:
    """Mean GELU'(alpha * pre + bias) over the midpoints alpha = (s + 0.5) / steps: [batch, hidden]."""
    alphas = (torch.arange(steps, dtype=pre.dtype) + 0.5) / steps
    return gelu_derivative(alphas.reshape(1, -1, 1) * pre.unsqueeze(1) + bias).mean(dim=1)


def feature_names(model: DrugResponseModel, genes: list[str], driver_names: list[str]) -> list[str]:
    """Column names of ``contributions``: ``expression:GENE`` ... then ``driver:EVENT`` for the head's events."""
    pre = model.preprocessor
    names = [f"{m}:{genes[i]}" for m in ("expression", "mutation", "copy_number")
             for i in getattr(pre, f"{m}_genes").tolist()]
    events = [] if model.drivers is None else model.drivers.events.tolist()
    return names + [f"driver:{driver_names[i]}" for i in events]


@torch.no_grad()
def contributions(model: DrugResponseModel, profiles: dict[str, np.ndarray], steps: int = STEPS) -> np.ndarray:
    """[lines, drugs, features (+ head events)] contributions in ln µM (float32)."""
    for member in model.members:
        if sum(isinstance(layer, torch.nn.Linear) for layer in member.layers) != 2:
            raise ValueError("contributions are written out for one hidden layer (the shipped presets)")
    inputs = [torch.from_numpy(np.ascontiguousarray(profiles[m], dtype=np.float32))
              for m in ("expression", "mutation", "copy_number")]
    x = model.preprocessor(*inputs)
    share = (1 - model.ridge_weight) / len(model.members) if model.ridge is not None and model.ridge_weight > 0 \
        else 1.0 / len(model.members)
    out = torch.zeros(x.shape[0], model.drug_sd.shape[0], x.shape[1])
    for member in model.members:
        first, last = [layer for layer in member.layers if isinstance(layer, torch.nn.Linear)]
        slope = path_slope(x @ first.weight.t(), first.bias, steps)  # [lines, hidden], the same for every drug
        # [lines, drugs, features] = x * ((slope * W2) @ W1)
        out += torch.einsum("lh,dh,hf->ldf", slope, last.weight, first.weight) * x.unsqueeze(1) * share
    if model.ridge is not None and model.ridge_weight > 0:
        n = model.n_expression_features
        out[:, :, :n] += model.ridge_weight * model.ridge.weight.unsqueeze(0) * x[:, :n].unsqueeze(1)
    out *= model.drug_sd.reshape(1, -1, 1)
    if model.drivers is not None:
        events = model.drivers.centred(torch.from_numpy(np.ascontiguousarray(profiles["drivers"], dtype=np.float32)))
        out = torch.cat([out, events.unsqueeze(1) * model.drivers.weights.t().unsqueeze(0)], dim=2)
    return out.numpy()


TOP_CONTRIBUTIONS = 50  # features kept per drug in the held-out contribution summary


class ContributionSummary:
    """Mean |contribution| and mean contribution of each feature to each drug, over held-out lines of every fold."""

    def __init__(self, drugs: list[str]):
        self.drugs, self.sums = drugs, {}  # feature -> [abs sum per drug, signed sum per drug]

    def add(self, model: DrugResponseModel, matrix: ResponseMatrix, rows: np.ndarray, chunk: int = 32) -> None:
        """Add the contributions of ``model`` (a fold's) over its held-out ``rows``."""
        names = feature_names(model, matrix.genes, matrix.features["drivers"])
        totals = np.zeros((2, len(self.drugs), len(names)))
        for start in range(0, len(rows), chunk):
            part = {m: v[rows[start:start + chunk]] for m, v in matrix.profiles.items()}
            values = contributions(model, part).astype(np.float64)
            totals[0] += np.abs(values).sum(axis=0)
            totals[1] += values.sum(axis=0)
        self.merge({name: (totals[0, :, f], totals[1, :, f]) for f, name in enumerate(names)})

    def merge(self, sums: dict) -> None:
        for name, (absolute, signed) in sums.items():
            entry = self.sums.setdefault(name, [np.zeros(len(self.drugs)), np.zeros(len(self.drugs))])
            entry[0] += absolute
            entry[1] += signed

    def table(self, lines: int) -> pl.DataFrame:
        """Per drug, the ``TOP_CONTRIBUTIONS`` features with the largest mean |contribution| over all held-out lines
        (a fold whose model did not select the feature counts as 0 for its lines)."""
        names = list(self.sums)
        mean_abs = np.stack([self.sums[n][0] for n in names]) / lines  # [features, drugs]
        mean = np.stack([self.sums[n][1] for n in names]) / lines
        frames = []
        for j, drug in enumerate(self.drugs):
            top = np.argsort(-mean_abs[:, j], kind="stable")[:TOP_CONTRIBUTIONS]
            frames.append(pl.DataFrame({"drug": drug, "feature": [names[f] for f in top],
                                        "mean_abs_contribution": mean_abs[top, j].astype(np.float32),
                                        "mean_contribution": mean[top, j].astype(np.float32),
                                        "rank": np.arange(1, len(top) + 1, dtype=np.int16)}))
        return pl.concat(frames)
