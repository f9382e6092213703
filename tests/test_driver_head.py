"""The driver-event head: its screen is Welch's t-test, it keeps only events that pass it, and unknown is not absent.

That it is fitted on training lines only is checked by the canaries in ``test_evaluate.py`` (the model and
``ridge_per_drug_drivers``, on every split): poisoning the test fold's events and responses changes nothing."""

import numpy as np
import pytest
from scipy import stats

from drugresponse.train.model.driver_head import DriverHead, HeadConfig, welch_screen


def test_screen_is_welchs_t_test_on_real_events(matrix):
    events = matrix.profiles["drivers"]
    residuals = matrix.ln_ic50 - np.nanmean(matrix.ln_ic50, axis=0)
    p_values, effects = welch_screen(residuals, events, min_carriers=3)
    checked = 0
    for k in range(events.shape[1]):
        for j in range(residuals.shape[1]):
            known = ~np.isnan(events[:, k]) & ~np.isnan(residuals[:, j])
            carriers, rest = residuals[known & (events[:, k] == 1), j], residuals[known & (events[:, k] == 0), j]
            if len(carriers) >= 3 and len(rest) >= 3 and np.std(carriers) > 0:
                expected = stats.ttest_ind(carriers, rest, equal_var=False)
                assert p_values[k, j] == pytest.approx(expected.pvalue, rel=1e-4, abs=1e-12)  # float32 residuals
                assert effects[k, j] == pytest.approx(carriers.mean() - rest.mean(), abs=1e-5)  # float32 data
                checked += 1
            elif len(carriers) < 3 or len(rest) < 3:
                assert p_values[k, j] == 1.0 and effects[k, j] == 0.0
    assert checked > 100


def test_head_keeps_associated_events_and_ignores_unknown_ones(matrix):
    events = matrix.profiles["drivers"]
    residuals = matrix.ln_ic50 - np.nanmean(matrix.ln_ic50, axis=0)
    head = DriverHead(HeadConfig(min_carriers=3, max_p=0.01, penalty=10.0, max_events_per_drug=5)).fit(events, residuals)
    p_values, _ = welch_screen(residuals, events, 3)
    selected = head.weights_ != 0
    assert selected.any()
    assert (p_values[head.events_][selected] < 0.01).all()  # only events that passed the screen for that drug
    assert (selected.sum(axis=0) <= 5).all()
    unknown = np.full((2, events.shape[1]), np.nan)
    np.testing.assert_array_equal(head.contribution(unknown), 0.0)
    absent = np.zeros((1, events.shape[1]))
    assert np.abs(head.contribution(absent)).max() > 0  # "wild type" is information, unknown is not


def test_within_tissue_a_lineage_marker_explains_nothing_and_a_real_event_still_counts(matrix):
    """Real lines, tissues and residuals; two events built to tell the settings apart (why they are made up): one
    carried by every line of one tissue whose residuals are shifted (a lineage marker), one carried across tissues
    with a true effect."""
    rng = np.random.default_rng(0)
    tissues = matrix.tissues
    drug = int(np.argmax((~np.isnan(matrix.ln_ic50)).sum(axis=0)))
    residuals = (matrix.ln_ic50 - np.nanmean(matrix.ln_ic50, axis=0))[:, [drug]].astype(np.float64)
    names, counts = np.unique(tissues, return_counts=True)
    lineage = tissues == names[np.argmax(counts)]  # the tissue with the most lines
    marker = lineage.astype(float)
    real = (rng.random(len(tissues)) < 0.3).astype(float)
    residuals = residuals + 3.0 * lineage[:, None] - 2.0 * real[:, None]
    events = np.stack([marker, real], axis=1)
    across = DriverHead(HeadConfig(min_carriers=3, max_p=0.05)).fit(events, residuals)
    within = DriverHead(HeadConfig(min_carriers=3, max_p=0.05, within_tissue=True)).fit(events, residuals, tissues)
    weight = lambda head, k: float(head.weights_[list(head.events_).index(k), 0]) if k in head.events_ else 0.0  # noqa: E731
    assert weight(across, 0) > 0.5  # across tissues, the marker takes (a shrunk share of) the tissue's shift
    assert abs(weight(within, 0)) < 0.3 * weight(across, 0)  # within tissue it mostly does not
    assert weight(within, 1) < -0.8  # the real effect (-2, shrunk by the penalty) is kept
    with pytest.raises(ValueError, match="tissues"):
        DriverHead(HeadConfig(within_tissue=True)).fit(events, residuals)


def test_the_tissue_screen_is_the_slope_test_of_a_regression_with_tissue_dummies(matrix):
    from drugresponse.train.model.driver_head import tissue_screen

    typed = ~np.isnan(matrix.profiles["drivers"]).any(axis=1)  # lines with every event known (unknown: imputed)
    events, tissues = matrix.profiles["drivers"][typed], matrix.tissues[typed]
    residuals = (matrix.ln_ic50 - np.nanmean(matrix.ln_ic50, axis=0)).astype(np.float64)[typed]
    p_values, slopes = tissue_screen(residuals, events, tissues, min_carriers=3)
    checked = 0
    for j in range(residuals.shape[1]):
        measured = ~np.isnan(residuals[:, j])
        for k in np.nonzero(p_values[:, j] < 1)[0][:5]:
            dummies = (tissues[measured][:, None] == np.unique(tissues[measured])[None, :]).astype(float)
            x = np.column_stack([events[measured, k], dummies])
            coef, *_ = np.linalg.lstsq(x, residuals[measured, j], rcond=None)
            dof = measured.sum() - x.shape[1]
            sigma2 = np.sum((residuals[measured, j] - x @ coef) ** 2) / dof
            se = np.sqrt(sigma2 * np.linalg.inv(x.T @ x)[0, 0])
            assert slopes[k, j] == pytest.approx(coef[0], abs=1e-6)
            assert p_values[k, j] == pytest.approx(2 * stats.t.sf(abs(coef[0] / se), dof), rel=1e-4)
            checked += 1
    assert checked > 10
