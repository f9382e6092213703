"""The out-of-sample machinery of the fit: the ridge's leave-one-out residuals, the inner partition the members are
early-stopped on, and the blend choice."""

import numpy as np
import pytest

from drugresponse.train.data.splits import inner_partition, make_folds, tissue_groups, train_mask
from drugresponse.train.model.fit import BLEND_WEIGHTS, _choose_blend
from drugresponse.train.model.ridge_solver import fit_ridge_per_drug

# The shortcut (y - fit) / (1 - leverage) is exact for ridge with an unpenalised intercept fitted on centred
# features. The solver centres the targets but not the features, so the shortcut is an approximation whose error
# falls as the penalty grows. Measured here against brute-force refits on the fixture's real slice (max |error| over
# every held-out pair, as a share of the median |LOO residual|): 0.18 at a penalty of 100, 0.05 at 1,000, 0.01 at
# 10,000 (the final model chose 3,000). The bounds below are those figures with a margin; a change that makes the
# shortcut worse, or breaks it, fails them.
BOUNDS = {1e2: 0.25, 1e3: 0.08, 1e4: 0.02}


@pytest.fixture(scope="module")
def features(matrix):
    x = np.nan_to_num(matrix.profiles["expression"]).astype(np.float64)
    return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)


@pytest.mark.parametrize("alpha", sorted(BOUNDS))
def test_ridge_leave_one_out_residuals_against_brute_force(matrix, features, alpha):
    mask = matrix.measured
    shortcut = fit_ridge_per_drug(features, matrix.ln_ic50, mask, (alpha,), loo=True).loo_residuals[0]
    errors, residuals = [], []
    for i in range(len(matrix.cell_lines)):
        keep = mask.copy()
        keep[i] = False  # leave line i out of every drug at once: the same refit as one drug at a time
        refit = fit_ridge_per_drug(features, matrix.ln_ic50, keep, (alpha,))
        brute = matrix.ln_ic50[i] - (features[i] @ refit.weights[0] + refit.intercepts[0])
        measured = mask[i]
        errors += list(np.abs(brute - shortcut[i])[measured])
        residuals += list(np.abs(brute)[measured])
    assert np.max(errors) <= BOUNDS[alpha] * np.median(residuals), np.max(errors) / np.median(residuals)


@pytest.mark.parametrize("split", ["lpo", "lco", "lto"])
def test_inner_partition_covers_the_training_pairs_once_held_out_as_the_outer_split(matrix, split):
    folds = make_folds(matrix, split, 3, seed=0)
    train = train_mask(folds, 0)
    parts = inner_partition(train, split, 5, seed=7, tissues=matrix.tissues)
    assert len(parts) == 5 and all(p.any() for p in parts)
    np.testing.assert_array_equal(np.sum(parts, axis=0), train.astype(int))  # every training pair exactly once
    assert not any((p & ~train).any() for p in parts)  # nothing outside the training mask
    groups = tissue_groups(matrix.tissues)
    for part in parts:
        rows = part.any(axis=1)
        if split == "lco":  # a part holds whole lines: all their training pairs
            np.testing.assert_array_equal(part[rows], train[rows])
        if split == "lto":  # a labelled system is in one part only
            for group in set(groups[rows]) - {"unknown"}:
                in_group = groups == group
                assert all(not other[in_group].any() for other in parts if other is not part)
    again = inner_partition(train, split, 5, seed=7, tissues=matrix.tissues)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))  # seeded


def test_blend_choice_minimises_the_out_of_sample_error():
    """Independent errors of equal size: the best blend is the even one, and the penalty whose ridge is closer wins;
    without a blend the weight is 0 (the network alone)."""
    rng = np.random.default_rng(0)
    target = rng.normal(size=(400, 6))
    network = target + rng.normal(size=target.shape)
    ridge = np.stack([target + rng.normal(scale=s, size=target.shape) for s in (3.0, 1.0, 2.0)])
    mask = rng.random(target.shape) < 0.9
    alpha, weight = _choose_blend(network, ridge, target, mask, blend=True)
    assert alpha == 1 and weight == pytest.approx(0.5, abs=0.1)
    errors = {w: np.mean((((1 - w) * network + w * ridge[1]) - target)[mask] ** 2) for w in BLEND_WEIGHTS}
    assert errors[weight] == min(errors.values())
    assert _choose_blend(network, ridge, target, mask, blend=False) == (1, 0.0)


def test_extreme_weighting_fits_each_drugs_most_sensitive_pairs_closer(matrix):
    """The exceptional-responder experiment's loss (``extreme_weight``, preset ``extremes``): the same member trained
    with each drug's low tail weighted fits those training pairs closer than the default (weight 0) does."""
    import torch

    from drugresponse.train.model.fit import inner_features, standardise_targets, train_member
    from drugresponse.train.model.presets import PRESETS

    train = train_mask(make_folds(matrix, "lco", 3, seed=0), 0)
    inner_val = inner_partition(train, "lco", 2, seed=1)[0]
    inner_train = train & ~inner_val
    config = PRESETS["quick"].replace(max_epochs=8, patience=8)
    features = inner_features(matrix, inner_train, config)
    z = torch.from_numpy(standardise_targets(matrix.ln_ic50, inner_train)[0])
    extreme = inner_train & (z.numpy() < config.extreme_z)
    assert extreme.sum() > 20

    def tail_error(weight: float) -> float:
        net, *_ = train_member(features, z, inner_train, inner_val, config.replace(extreme_weight=weight), seed=3)
        with torch.no_grad():
            return float(np.mean((net(features) - z).numpy()[extreme] ** 2))

    assert tail_error(5.0) < tail_error(0.0)


def test_no_shipped_preset_weights_the_extremes():
    """The loss weighting is an experiment (``--preset extremes``): the published settings, their candidates and the
    smoke-test preset keep the plain loss."""
    from drugresponse.train.model.presets import PRESETS, candidates_for

    for preset in ("full", "quick"):
        assert all(c.extreme_weight == 0 for c in (PRESETS[preset], *candidates_for(preset)))
    assert all(c.extreme_weight > 0 for c in (PRESETS["extremes"], *candidates_for("extremes")))
