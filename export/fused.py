"""The inference form of a trained model: the same function, rearranged for fewer, wider matrix products.

Training keeps one module per ensemble member (each is early-stopped on its own split); at batch 1
that shape costs one small matrix product and one activation chain per member, and onnxruntime's
per-node overhead dominates. Here every product that reads the features — each member's first layer
and the ridge layer — becomes ONE matrix product, and every member's output layer becomes one
product over the stacked hidden units, so a prediction is two matrix products whatever the ensemble
size. Weights are only concatenated (never rescaled), so float16-stored weights stay exact; the
ensemble mean, ridge blend and per-drug de-standardisation are folded into per-drug scale and offset
vectors. The driver head stays a third, small product (kept events x drugs, in ln µM), added last. The
export's parity check compares this module with the training module.
"""

from __future__ import annotations

import torch
from torch import nn

from drugresponse.train.model.modules import DriverEffects, DrugResponseModel


class SparseDriverEffects(nn.Module):
    """The driver head with each drug's own few effects only: the same float32 weights as ``DriverEffects``, stored
    as [drugs, slots] (slots = the most events any drug uses, at most the head's ``max_events_per_drug``) instead
    of the dense [kept events, drugs] matrix, which is mostly zeros and at several hundred drugs would cost the file
    about 1 MB."""

    def __init__(self, dense: DriverEffects):
        super().__init__()
        weights = dense.weights.detach().float()  # [kept events, drugs]
        slots = max(1, int((weights != 0).sum(dim=0).max()))
        # per drug, its non-zero events first (stable, so in event order), padded with zero-weight events
        index = torch.argsort((weights == 0).to(torch.int8), dim=0, stable=True)[:slots].t().contiguous()
        self.register_buffer("events", dense.events)
        self.register_buffer("frequency", dense.frequency)
        self.register_buffer("slot_event", index)  # [drugs, slots] into the kept events
        self.register_buffer("slot_weight", torch.gather(weights.t(), 1, index).contiguous())  # [drugs, slots], ln µM
        self.n_events = weights.shape[0]

    def centred(self, drivers: torch.Tensor) -> torch.Tensor:
        kept = torch.gather(drivers, 1, self.events.unsqueeze(0).expand(drivers.shape[0], -1))
        return torch.where(torch.isnan(kept), self.frequency, kept) - self.frequency

    def forward(self, drivers: torch.Tensor) -> torch.Tensor:
        picked = self.centred(drivers)[:, self.slot_event]  # [batch, drugs, slots]
        return (picked * self.slot_weight).sum(dim=2)

    def drug_weights(self, drug: torch.Tensor) -> torch.Tensor:
        """[batch, kept events]: each row's drug's effect per kept event (0 where the drug uses none)."""
        dense = self.slot_weight.new_zeros(drug.shape[0], self.n_events)
        return dense.scatter(1, self.slot_event[drug], self.slot_weight[drug])


class FusedModel(nn.Module):
    """Raw profile -> ln IC50 [batch, drugs], computing what ``DrugResponseModel`` computes.

    ``fold_scaling=False`` keeps the trained float16 weights bit for bit (the shipped float32 model).
    ``fold_scaling=True`` also folds the training standardisation into the first product and the
    per-drug scales into the products' columns, leaving float32 weights for a quantiser to rewrite:
    fewer nodes, and per-column quantisation then absorbs the scales.
    """

    def __init__(self, model: DrugResponseModel, fold_scaling: bool = False):
        super().__init__()
        self.preprocessor = model.preprocessor
        self.fold_scaling = fold_scaling
        members = [[layer for layer in m.layers if isinstance(layer, nn.Linear)] for m in model.members]
        first = [linears[0] for linears in members]
        self.hidden_sizes = [layer.out_features for layer in first]
        self.hidden_width = sum(self.hidden_sizes)
        ridge_weight = model.ridge_weight if model.ridge is not None else 0.0
        self.uses_ridge = ridge_weight > 0
        drug_sd, drug_mean = model.drug_sd.float(), model.drug_mean.float()
        share = (1 - ridge_weight) / len(members)
        member_scale, ridge_scale = share * drug_sd, ridge_weight * drug_sd

        weights, biases = [layer.weight.detach() for layer in first], [layer.bias.detach() for layer in first]
        if self.uses_ridge:
            ridge = model.ridge.weight.detach()
            pad = first[0].in_features - ridge.shape[1]  # the ridge reads the expression features only
            weights.append(torch.cat([ridge, ridge.new_zeros(ridge.shape[0], pad)], dim=1))
            biases.append(model.ridge.bias.detach())
        # stored [in, out] so each product is a MatMul with a constant right-hand side (what quantisers rewrite)
        input_weight, input_bias = torch.cat(weights).t().float(), torch.cat(biases).float()
        output_weight = torch.cat([linears[-1].weight.detach() for linears in members], dim=1).t().float()
        output_bias = torch.stack([linears[-1].bias.detach().float() for linears in members]).sum(dim=0)
        offset = share * output_bias * drug_sd + drug_mean
        if fold_scaling:
            mean, sd = self.preprocessor.feature_scaling()
            input_weight = input_weight / sd[:, None]
            input_bias = input_bias - mean @ input_weight  # ((x - mean) / sd) @ W == x @ (W / sd) - mean @ (W / sd)
            if self.uses_ridge:
                input_weight[:, self.hidden_width:] *= ridge_scale
                input_bias[self.hidden_width:] *= ridge_scale
            output_weight = output_weight * member_scale
            self.register_buffer("input_weight", input_weight.contiguous())
            self.register_buffer("input_bias", input_bias)
            self.register_buffer("output_weight", output_weight.contiguous())
        else:
            self.register_buffer("input_weight", input_weight.half().contiguous())
            self.register_buffer("input_bias", input_bias.half())
            self.register_buffer("output_weight", output_weight.half().contiguous())
            self.register_buffer("member_scale", member_scale.reshape(1, -1))
            self.register_buffer("ridge_scale", ridge_scale.reshape(1, -1))
        self.register_buffer("offset", offset.reshape(1, -1))
        # Layers between the first and the last stay per member (none in the shipped presets).
        self.middle = nn.ModuleList(nn.ModuleList(linears[1:-1]) for linears in members)
        self.drivers = None if model.drivers is None else SparseDriverEffects(model.drivers)

    def forward(self, expression: torch.Tensor, mutation: torch.Tensor, copy_number: torch.Tensor,
                drivers: torch.Tensor) -> torch.Tensor:
        if self.fold_scaling:
            features = self.preprocessor.imputed(expression, mutation, copy_number)
        else:
            features = self.preprocessor(expression, mutation, copy_number)
        first = torch.matmul(features, self.input_weight.float()) + self.input_bias.float()
        hidden = nn.functional.gelu(first[:, : self.hidden_width])
        if any(len(m) for m in self.middle):
            parts = torch.split(hidden, self.hidden_sizes, dim=1)
            chunks = []
            for part, layers in zip(parts, self.middle):
                for layer in layers:
                    part = nn.functional.gelu(layer(part))
                chunks.append(part)
            hidden = torch.cat(chunks, dim=1)
        out = torch.matmul(hidden, self.output_weight.float())
        if not self.fold_scaling:
            out = out * self.member_scale
        out = out + self.offset
        if self.uses_ridge:
            ridge = first[:, self.hidden_width:]
            out = out + (ridge if self.fold_scaling else ridge * self.ridge_scale)
        if self.drivers is not None:
            out = out + self.drivers(drivers)
        return out
