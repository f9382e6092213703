"""The metric functions against values worked out by hand."""

import numpy as np
import pytest

from drugresponse.train.evaluation import metrics


def test_pooled_errors_and_correlations_by_hand():
    measured = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.0, 3.0, 2.0, 6.0])
    result = metrics.pooled(measured, predicted)
    # errors 0, 1, -1, 2: MSE (0 + 1 + 1 + 4) / 4, MAE 4 / 4
    assert result["mse"] == pytest.approx(1.5)
    assert result["rmse"] == pytest.approx(np.sqrt(1.5))
    assert result["mae"] == pytest.approx(1.0)
    # R² = 1 - SSE / SST = 1 - 6 / 5
    assert result["r2"] == pytest.approx(-0.2)
    # deviations (-1.5, -.5, .5, 1.5) and (-2, 0, -1, 3): cov 7 / 4, variances 5 / 4 and 14 / 4
    assert result["pearson"] == pytest.approx(7 / np.sqrt(5 * 14))
    # ranks 1..4 against (1, 3, 2, 4): Spearman 1 - 6 * 2 / (4 * 15)
    assert result["spearman"] == pytest.approx(0.8)


def test_per_drug_correlation_skips_small_and_constant_drugs():
    drug = np.array([0] * 10 + [1] * 10 + [2] * 3)
    measured = np.r_[np.arange(10.0), np.arange(10.0), [1.0, 2.0, 3.0]]
    predicted = np.r_[-np.arange(10.0), np.full(10, 5.0), [1.0, 2.0, 3.0]]
    per = metrics.per_drug(drug, measured, predicted)
    assert set(per) == {0, 1}  # drug 2 has 3 pairs, fewer than the minimum of 10
    assert per[0]["pearson"] == pytest.approx(-1.0) and per[0]["spearman"] == pytest.approx(-1.0)
    assert np.isnan(per[1]["pearson"])  # a constant prediction has no correlation
    summary = metrics.summary(drug, measured, predicted)
    assert summary["per_drug_pearson"] == pytest.approx(-1.0)  # the NaN drug is left out of the mean
    assert summary["n_drugs_scored"] == 2
