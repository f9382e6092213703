"""The explanation graph (``explain.onnx``): why the model predicts what it predicts for one drug.

For a profile and a drug index it returns each feature's signed contribution to that drug's predicted
ln IC50 (µM), relative to a stated baseline: the average training cell line (every standardised feature
at its training mean, every driver event at its training frequency). Negative pushes toward sensitive,
positive toward resistant. The parts of the model are decomposed with the method each admits:

- the MLP ensemble: integrated gradients (Sundararajan et al. 2017) along the straight path from the
  baseline to the sample, midpoint rule with ``STEPS`` steps; its gradient is written out in closed form
  (one GELU layer), so onnxruntime computes it without autograd;
- the ridge layer and the driver head: exact (they are linear), weight x (value - baseline value).

Completeness: the contributions sum to prediction minus baseline prediction, up to the integration error
of the MLP part (checked in the test suite and at export, ``COMPLETENESS_TOLERANCE``). Contributions are
for the model's own features: expression after the per-sample normalisation, imputation and scaling, so
a gene's contribution is that of its standardised value, and a missing gene contributes nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from drugresponse.errors import UserError
from drugresponse.train.model.attributions import STEPS, path_slope

from .fused import FusedModel

COMPLETENESS_TOLERANCE = 0.02  # ln µM, |sum of contributions - (prediction - baseline)|


class ExplainModel(nn.Module):
    """(raw profile, drug index) -> (contributions [batch, features + events], prediction, baseline, values)."""

    def __init__(self, fused: FusedModel, steps: int = STEPS):
        super().__init__()
        if fused.fold_scaling:
            raise ValueError("explain from the unfolded model: its features are the documented ones")
        if any(len(m) for m in fused.middle):
            raise UserError("the explanation graph supports networks with one hidden layer (the shipped presets); "
                            "this checkpoint has more.")
        self.preprocessor, self.drivers = fused.preprocessor, fused.drivers
        width = fused.hidden_width
        self.register_buffer("hidden_weight", fused.input_weight[:, :width])  # [features, hidden], float16
        self.register_buffer("hidden_bias", fused.input_bias[:width])
        self.register_buffer("output_weight_by_drug", fused.output_weight.t().contiguous())  # [drugs, hidden]
        self.register_buffer("member_scale", fused.member_scale.reshape(-1))
        self.register_buffer("offset", fused.offset.reshape(-1))
        self.uses_ridge = fused.uses_ridge
        if self.uses_ridge:
            self.register_buffer("ridge_by_drug", fused.input_weight[:, width:].t().contiguous())  # [drugs, features]
            self.register_buffer("ridge_bias", fused.input_bias[width:])
            self.register_buffer("ridge_scale", fused.ridge_scale.reshape(-1))
        self.steps = steps

    def forward(self, expression, mutation, copy_number, drivers, drug):
        x = self.preprocessor(expression, mutation, copy_number)  # standardised features; baseline is 0
        w1, b1 = self.hidden_weight.float(), self.hidden_bias.float()
        w2 = self.output_weight_by_drug.float()[drug]  # [batch, hidden]
        scale = self.member_scale[drug].unsqueeze(1)
        pre = torch.matmul(x, w1)  # [batch, hidden]
        slope = path_slope(pre, b1, self.steps)  # mean gradient of the hidden units along the path alpha * x
        contributions = x * torch.matmul(slope * w2, w1.t()) * scale
        prediction = (torch.nn.functional.gelu(pre + b1) * w2).sum(dim=1, keepdim=True) * scale
        baseline = (torch.nn.functional.gelu(b1) * w2).sum(dim=1, keepdim=True) * scale
        offset = self.offset[drug].unsqueeze(1)
        prediction, baseline = prediction + offset, baseline + offset
        if self.uses_ridge:
            ridge = self.ridge_by_drug.float()[drug] * self.ridge_scale[drug].unsqueeze(1)
            ridge_bias = (self.ridge_bias.float()[drug] * self.ridge_scale[drug]).unsqueeze(1)
            contributions = contributions + x * ridge
            prediction = prediction + (x * ridge).sum(dim=1, keepdim=True) + ridge_bias
            baseline = baseline + ridge_bias
        if self.drivers is not None:
            events = self.drivers.centred(drivers) * self.drivers.drug_weights(drug)
            contributions = torch.cat([contributions, events], dim=1)
            prediction = prediction + events.sum(dim=1, keepdim=True)
        values = x
        if self.drivers is not None:
            values = torch.cat([x, torch.gather(drivers, 1, self.drivers.events.unsqueeze(0).expand(x.shape[0], -1))],
                               dim=1)
        # values: what each contribution is of (standardised features: SDs from the training mean; events 0/1/NaN)
        return contributions, prediction.squeeze(1), baseline.squeeze(1), values


def checkpoint_feature_names(info: dict) -> list[str]:
    """The contributions' columns: ``expression:GENE`` ... then ``driver:EVENT`` for the kept events."""
    names = [f"{m}:{info['genes'][i]}" for m in ("expression", "mutation", "copy_number")
             for i in info["selected_genes"][m]]
    return names + [f"driver:{info['driver_names'][i]}" for i in info["driver_events"]]
