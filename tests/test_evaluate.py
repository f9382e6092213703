import json

import numpy as np
import polars as pl
import pytest

from drugresponse.train.evaluate import EvaluationConfig, evaluate
from drugresponse.train.splits import make_folds


@pytest.fixture(scope="module")
def lco_results(matrix, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    config = EvaluationConfig(split="lco", n_folds=3, preset="quick",
                              models=("drug_mean", "tissue_drug_mean", "ridge_per_drug", "mlp_ensemble"))
    return out, evaluate(matrix, config, out)


def test_records_have_the_documented_fields(lco_results):
    out, records = lco_results
    written = json.loads((out / "GDSC2_lco.json").read_text())
    assert [r["model"] for r in written] == ["drug_mean", "tissue_drug_mean", "ridge_per_drug", "mlp_ensemble"]
    for record in written:
        for key in ("dataset", "split", "model", "baseline", "folds", "n_pairs", "mse", "mae", "rmse", "r2",
                    "pearson", "spearman", "per_drug_pearson", "per_drug_spearman", "seconds"):
            assert key in record
        assert record["rmse"] == pytest.approx(np.sqrt(record["mse"]))
        assert len(record["per_fold"]) == 3
    assert written[-1]["baseline"] is False and written[0]["baseline"] is True


def test_out_of_fold_predictions_cover_every_pair_once_per_model(lco_results, matrix):
    out, _ = lco_results
    predictions = pl.read_parquet(out / "GDSC2_lco_predictions.parquet")
    per_model = predictions.group_by("model").len()
    assert set(per_model["len"]) == {int(matrix.measured.sum())}
    assert predictions["predicted"].is_nan().sum() == 0
    # LCO: a cell line's pairs all sit in one fold
    assert predictions.group_by("model", "cell_line").agg(pl.col("fold").n_unique())["fold"].max() == 1


def test_same_seed_gives_identical_metrics(matrix, tmp_path):
    config = EvaluationConfig(split="lco", n_folds=3, preset="quick", models=("ridge_per_drug", "mlp_ensemble"))
    first = evaluate(matrix, config, tmp_path / "a")
    second = evaluate(matrix, config, tmp_path / "b")
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert json.dumps(strip(first)) == json.dumps(strip(second))


@pytest.mark.parametrize("split", ["lpo", "lco", "lto"])
def test_folds_never_leak(matrix, split):
    folds = make_folds(matrix, split, 3, seed=1)
    assert np.array_equal(folds >= 0, matrix.measured)
    for fold in range(3):
        test, train = folds == fold, (folds >= 0) & (folds != fold)
        assert test.any()
        assert not (test & train).any()
        if split == "lco":
            assert not (test.any(axis=1) & train.any(axis=1)).any()
        if split == "lto":
            assert not set(matrix.tissues[test.any(axis=1)]) & set(matrix.tissues[train.any(axis=1)])


def test_folds_are_seeded(matrix):
    assert np.array_equal(make_folds(matrix, "lco", 3, 7), make_folds(matrix, "lco", 3, 7))
    assert not np.array_equal(make_folds(matrix, "lco", 3, 7), make_folds(matrix, "lco", 3, 8))


def test_parts_combine_to_the_full_run(matrix, tmp_path):
    from drugresponse.train.evaluate import combine_parts

    models = ("drug_mean", "ridge_per_drug", "mlp_ensemble")
    full = evaluate(matrix, EvaluationConfig(split="lpo", n_folds=3, models=models, preset="quick"), tmp_path / "full")
    for folds in ((0,), (1, 2)):
        evaluate(matrix, EvaluationConfig(split="lpo", n_folds=3, models=models, preset="quick", only_folds=folds),
                 tmp_path / "p")
    merged = combine_parts(tmp_path / "p", "GDSC2", "lpo")
    for a, b in zip(full, merged):
        assert a["model"] == b["model"] and b["folds_evaluated"] == [0, 1, 2]
        for key in ("rmse", "pearson", "per_drug_pearson", "n_pairs"):
            assert a[key] == pytest.approx(b[key], rel=1e-6)
    history = json.loads((tmp_path / "p" / "GDSC2_lpo_history.json").read_text())
    assert [h["fold"] for h in history["mlp_ensemble"]] == [0, 1, 2]


def test_model_names_cover_the_baselines():
    from drugresponse.train.evaluate import BASELINES, MODEL_NAMES

    assert set(MODEL_NAMES) == set(BASELINES) | {"mlp_ensemble"}
