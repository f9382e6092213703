"""Per-sample expression normalisation: a complete profile keeps its z-score; a subset keeps the reference."""

import numpy as np
import torch

from drugresponse.train.model.preprocessing import FittedScaling, Preprocessor, ReferenceMoments, normalise_expression


def test_a_complete_bundle_profile_passes_unchanged(bundle):
    expression = bundle.profiles["expression"]
    reference = ReferenceMoments.fit(expression)
    z = (expression - expression.mean(axis=1, keepdims=True)) / expression.std(axis=1, keepdims=True)
    np.testing.assert_allclose(normalise_expression(expression, reference), z, atol=1e-4)


def test_any_affine_log_scale_gives_the_same_values(bundle):
    expression = bundle.profiles["expression"][:6]
    reference = ReferenceMoments.fit(bundle.profiles["expression"])
    np.testing.assert_allclose(normalise_expression(expression * 3.0 - 11.0, reference),
                               normalise_expression(expression, reference), atol=1e-4)


def test_a_subset_of_genes_is_placed_where_those_genes_sit_not_centred_on_itself(bundle):
    expression = bundle.profiles["expression"]
    reference = ReferenceMoments.fit(expression)
    high = np.argsort(-reference.mean)[:60]  # genes that are high in a typical line
    subset = np.full_like(expression[:8], np.nan)
    subset[:, high] = expression[:8, high]
    normalised = normalise_expression(subset, reference)[:, high]
    full = normalise_expression(expression[:8], reference)[:, high]  # the same genes, normalised with all the rest
    # z-scoring over whichever genes are present would centre these at 0; the reference keeps them high
    assert normalised.mean() > 0.5
    np.testing.assert_allclose(normalised.mean(), full.mean(), atol=0.25)
    naive = (subset[:, high] - np.nanmean(subset[:, high], axis=1, keepdims=True))
    assert abs(naive.mean()) < 1e-6


def test_the_graph_computes_the_numpy_definition_with_missing_genes(bundle):
    scaling = FittedScaling.fit(bundle.profiles, 50, 10, 3)
    expression = bundle.profiles["expression"][:5].copy()
    expression[0, ::3] = np.nan
    expression[1] = expression[1] * 2 + 5
    with torch.no_grad():
        shift, scale = Preprocessor(scaling)._expression_stats(torch.from_numpy(expression))
    expected = normalise_expression(expression, scaling.reference)
    got = expression * scale.numpy() + shift.numpy()
    np.testing.assert_allclose(got[~np.isnan(expression)], expected[~np.isnan(expression)], atol=1e-4)
