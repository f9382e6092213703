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
