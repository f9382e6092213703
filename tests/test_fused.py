"""The inference form of the model (export/fused.py) computes what the training module computes."""

import numpy as np
import pytest
import torch

from drugresponse.export.fused import FusedModel
from drugresponse.train.data.bundle import MODALITIES
from drugresponse.train.model.modules import DriverEffects, DrugResponseModel, MultiTaskNet, round_weights_to_half
from drugresponse.train.model.preprocessing import FittedScaling, Preprocessor, normalise_expression


def _model(bundle, hidden, ridge_weight, members=3):
    torch.manual_seed(0)
    scaling = FittedScaling.fit(bundle.profiles, 50, 10, 3)
    n_drugs, n_expression = 7, len(scaling.genes["expression"])
    nets = [MultiTaskNet(scaling.n_features, n_drugs, hidden, 0.0, 0.0) for _ in range(members)]
    ridge = torch.nn.Linear(n_expression, n_drugs) if ridge_weight else None
    events = torch.tensor([0, 5, 9])
    drivers = DriverEffects(events, torch.rand(3), torch.randn(3, n_drugs))
    model = DrugResponseModel(Preprocessor(scaling), nets, torch.rand(n_drugs) * 3, torch.rand(n_drugs) + 0.5,
                              ridge, ridge_weight, n_expression, drivers).eval()
    round_weights_to_half(model)
    return model, scaling


def _inputs(bundle, rows=slice(0, 9)):
    profiles = {m: bundle.profiles[m][rows].copy() for m in MODALITIES}
    profiles["expression"][1, ::7] = np.nan
    profiles["copy_number"][2, ::3] = np.nan
    profiles["drivers"][3, :] = np.nan
    return [torch.from_numpy(profiles[m]) for m in MODALITIES]


@pytest.mark.parametrize("hidden,ridge_weight", [((16,), 0.4), ((16, 8), 0.4), ((16,), 0.0)])
@pytest.mark.parametrize("fold_scaling", [False, True])
def test_fused_model_matches_the_training_module(bundle, hidden, ridge_weight, fold_scaling):
    model, _ = _model(bundle, hidden, ridge_weight)
    inputs = _inputs(bundle)
    with torch.no_grad():
        expected = model(*inputs)
        got = FusedModel(model, fold_scaling=fold_scaling).eval()(*inputs)
    assert torch.isfinite(expected).all()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_unfolded_fused_model_keeps_the_trained_half_precision_weights(bundle):
    model, _ = _model(bundle, (16,), 0.4)
    fused = FusedModel(model)
    assert fused.input_weight.dtype == torch.float16
    first = model.members[1].layers[1].weight
    assert torch.equal(fused.input_weight[:, 16:32].t().float(), first)  # concatenated, never rescaled


def test_preprocessor_equals_its_numpy_definition(bundle):
    model, scaling = _model(bundle, (16,), 0.4)
    inputs = _inputs(bundle)
    with torch.no_grad():
        got = model.preprocessor(*inputs[:3]).numpy()
    raw = {m: t.numpy() for m, t in zip(MODALITIES, inputs)}
    raw["expression"] = normalise_expression(raw["expression"], scaling.reference)
    parts = []
    for m in MODALITIES[:3]:
        picked = raw[m][:, scaling.genes[m]]
        picked = np.where(np.isnan(picked), scaling.mean[m], picked)
        parts.append((picked - scaling.mean[m]) / scaling.sd[m])
    np.testing.assert_allclose(got, np.concatenate(parts, axis=1), atol=1e-5)
