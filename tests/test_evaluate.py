import json
import os
import subprocess
import sys
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.train.data.splits import make_folds, train_mask
from drugresponse.train.evaluation.cross_validation import EvaluationConfig, evaluate
from drugresponse.train.evaluation.registry import make_predictor

from .test_serve_app import free_port


@pytest.fixture(scope="module")
def lco_results(matrix, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    config = EvaluationConfig(split="lco", n_folds=3, preset="quick",
                              models=("drug_mean", "tissue_drug_mean", "ridge_per_drug", "mlp_ensemble"))
    return out, evaluate(matrix, config, out)


def test_records_have_the_documented_fields(lco_results):
    out, records = lco_results
    written = json.loads((out / "GDSC2_lco.json").read_text())
    assert [r["model"] for r in written] == ["drug_mean", "tissue_drug_mean", "ridge_per_drug", "mlp_ensemble",
                                             "mlp_ensemble_without_drivers"]
    for record in written:
        for key in ("dataset", "split", "model", "baseline", "ablation", "folds", "n_pairs", "mse", "mae", "rmse",
                    "r2", "pearson", "spearman", "per_drug_pearson", "per_drug_spearman", "seconds", "preset",
                    "data_sha256"):
            assert key in record
        assert [f["fold"] for f in record["per_fold"]] == [0, 1, 2]
    assert [r["baseline"] for r in written] == [True, True, True, False, False]
    assert [r["ablation"] for r in written] == [False, False, False, False, True]


def test_records_match_the_predictions_they_were_computed_from(lco_results):
    from drugresponse.train.evaluation import metrics

    out, records = lco_results
    predictions = pl.read_parquet(out / "GDSC2_lco_predictions.parquet")
    for record in records:
        part = predictions.filter(pl.col("model") == record["model"])
        drug = part["drug"].cast(pl.Categorical).to_physical().to_numpy()
        again = metrics.summary(drug, part["measured"].to_numpy(), part["predicted"].to_numpy())
        assert again["rmse"] == pytest.approx(record["rmse"], rel=1e-6)
        assert again["per_drug_pearson"] == pytest.approx(record["per_drug_pearson"], rel=1e-6)


def test_the_driver_head_is_what_separates_the_model_from_its_ablation(lco_results):
    out, _ = lco_results
    predictions = pl.read_parquet(out / "GDSC2_lco_predictions.parquet")
    full = predictions.filter(pl.col("model") == "mlp_ensemble")["predicted"].to_numpy()
    ablation = predictions.filter(pl.col("model") == "mlp_ensemble_without_drivers")["predicted"].to_numpy()
    assert not np.allclose(full, ablation)


def test_saved_folds_with_another_fold_count_are_refused(matrix, tmp_path):
    evaluate(matrix, EvaluationConfig(split="lco", n_folds=3, preset="quick", models=("drug_mean",)), tmp_path)
    with pytest.raises(UserError, match="have 3 folds, not the 4"):
        evaluate(matrix, EvaluationConfig(split="lco", n_folds=4, preset="quick", models=("drug_mean",)), tmp_path)


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


def test_same_seed_gives_identical_results_serially_and_on_local_ray(matrix, tmp_path):
    config = EvaluationConfig(split="lco", n_folds=3, preset="quick", models=("ridge_per_drug_drivers", "mlp_ensemble"))
    serial = evaluate(matrix, config, tmp_path / "serial")
    on_ray = evaluate(matrix, replace(config, workers=2), tmp_path / "ray")
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert json.dumps(strip(serial)) == json.dumps(strip(on_ray))
    for name in ("GDSC2_lco_predictions.parquet", "folds/GDSC2_lco_seed0.parquet",
                 "GDSC2_lco_mlp_ensemble_heldout_all_drugs.parquet"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


def _stop_cluster(temp_dir: str) -> None:
    """Stop only the cluster this test started (`ray stop` would stop every Ray cluster of the user): the processes
    whose command line names its temporary folder, and their descendants (some rename themselves)."""
    import signal

    parents, cluster = {}, set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(pid)] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if temp_dir.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                cluster.add(int(pid))
        except (OSError, IndexError, ValueError):  # gone already, or not ours to read
            pass
    while True:
        children = {pid for pid, parent in parents.items() if parent in cluster} - cluster
        if not children:
            break
        cluster |= children
    for pid in cluster:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_a_two_process_ray_cluster_gives_the_serial_results(matrix, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a loopback test cluster: no token to hand around
    ray_cli = Path(sys.executable).with_name("ray")
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must fit in 107 characters
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}
    started = subprocess.run([str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=2", f"--temp-dir={temp_dir}",
                              "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, timeout=180, env=env)
    try:
        assert started.returncode == 0, started.stderr
        config = EvaluationConfig(split="lco", n_folds=3, preset="quick", models=("ridge_per_drug", "mlp_ensemble"))
        clustered = evaluate(matrix, replace(config, address=f"127.0.0.1:{port}"), tmp_path / "cluster")
    finally:
        _stop_cluster(temp_dir)
    serial = evaluate(matrix, config, tmp_path / "serial")
    for a, b in zip(serial, clustered):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}


@pytest.mark.parametrize("split", ["lco", "lto", "lpo"])
@pytest.mark.parametrize("name", ["tissue_drug_mean", "drug_mean_plus_cell_effect", "ridge_per_drug_drivers",
                                  "mlp_ensemble"])
def test_fitting_never_reads_the_test_fold(matrix, name, split):
    """Canary: poison what the test fold holds; every prediction must stay the same. LCO and LTO hold out whole lines,
    so their responses and profiles are poisoned (the driver head's events included); LPO holds out pairs, whose lines'
    profiles are training inputs, so only the held-out responses are."""
    folds = make_folds(matrix, split, 3, seed=0)
    train, test = train_mask(folds, 0), folds == 0
    poisoned = deepcopy(matrix)
    poisoned.ln_ic50[test] = 1e3
    if split != "lpo":
        test_rows = np.nonzero(test.any(axis=1))[0]
        for modality, values in poisoned.profiles.items():
            values[test_rows] = np.where(np.isnan(values[test_rows]), np.nan, 1 - values[test_rows] * 7)
    rows = np.arange(len(matrix.cell_lines))
    clean = make_predictor(name, "quick").fit(matrix, train, split, seed=5).predict(matrix, rows)
    dirty = make_predictor(name, "quick").fit(poisoned, train, split, seed=5).predict(matrix, rows)
    np.testing.assert_array_equal(clean, dirty)
    if name == "mlp_ensemble":  # the canary can fail: training on the poisoned pairs changes the predictions
        leaky = make_predictor(name, "quick").fit(poisoned, train | test, split, seed=5).predict(matrix, rows)
        assert np.abs(leaky - clean).max() > 1.0


def test_model_names_cover_the_baselines():
    from drugresponse.train.evaluation.registry import BASELINES, MODEL_NAMES

    assert set(MODEL_NAMES) == set(BASELINES) | {"mlp_ensemble"}


def test_an_interrupted_evaluation_writes_nothing(matrix, tmp_path, monkeypatch):
    from drugresponse.train.evaluation import cross_validation as evaluation

    real, calls = evaluation.fit_fold, []

    def interrupted(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(evaluation, "fit_fold", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(matrix, EvaluationConfig(split="lco", n_folds=3, preset="quick", models=("ridge_per_drug",)), tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["GDSC2_lco_seed0.parquet"]  # the folds only


def test_tree_baseline_chooses_its_setting_on_training_lines_and_predicts_every_drug(matrix):
    from drugresponse.train.baselines.trees import SETTINGS, GradientBoostingPerDrug

    folds = make_folds(matrix, "lco", 3, seed=0)
    model = GradientBoostingPerDrug(tuning_drugs=4).fit(matrix, train_mask(folds, 0), "lco", seed=1)
    assert model.setting_ in SETTINGS
    rows = np.nonzero((folds == 0).any(axis=1))[0]
    predicted = model.predict(matrix, rows)
    assert predicted.shape == (len(rows), len(matrix.drugs)) and np.isfinite(predicted).all()
    train_rows = np.nonzero(train_mask(folds, 0).any(axis=1))[0]
    carriers = np.nansum(matrix.profiles["drivers"][train_rows][:, model.events_], axis=0)
    assert (carriers >= model.min_carriers).all()
