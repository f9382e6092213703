"""Both GDSC screens in one model: the joint matrix, folds that hold a line out of both screens at once, each screen's
figures for the joint network, and the drug table the app reads."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from drugresponse.train.data.response_matrix import load_matrix, screen_column
from drugresponse.train.data.splits import NOT_MEASURED, line_folds, load_folds

from .conftest import evaluate_as_shipped


@pytest.fixture(scope="module")
def shipped_results(bundle, joint_matrix, tmp_path_factory):
    results = tmp_path_factory.mktemp("screens")
    evaluate_as_shipped(bundle, joint_matrix, results)
    return results


def test_the_joint_matrix_is_both_screens_side_by_side(bundle, joint_matrix):
    for screen in ("GDSC2", "GDSC1"):
        own = load_matrix(bundle, screen)
        rows = [joint_matrix.cell_lines.index(c) for c in own.cell_lines]
        cols = [joint_matrix.drugs.index(screen_column(d, screen)) for d in own.drugs]
        np.testing.assert_array_equal(joint_matrix.ln_ic50[np.ix_(rows, cols)], own.ln_ic50)
    assert "Imatinib [GDSC1]" in joint_matrix.drugs and "Imatinib" not in joint_matrix.drugs  # GDSC1 only
    assert {"Cisplatin", "Cisplatin [GDSC1]"} <= set(joint_matrix.drugs)  # both screens: two outputs


def test_a_held_out_line_is_held_out_of_both_screens(bundle, joint_matrix, shipped_results):
    gdsc2, gdsc1 = (load_matrix(bundle, s) for s in ("GDSC2", "GDSC1"))
    folds = {name: load_folds(m, shipped_results / "folds" / f"{name}_lco_seed0.parquet")
             for name, m in (("GDSC2", gdsc2), ("GDSC1", gdsc1), ("BOTH", joint_matrix))}
    own, follower = line_folds(gdsc2, folds["GDSC2"]), line_folds(gdsc1, folds["GDSC1"])
    assert all(follower[c] == f for c, f in own.items() if c in follower)
    joint = folds["BOTH"]
    for i in range(len(joint_matrix.cell_lines)):
        measured = joint[i][joint[i] != NOT_MEASURED]
        assert len(set(measured.tolist())) <= 1  # every response of a line, from either screen, in one fold


def test_on_lpo_a_pair_is_held_out_with_its_twin_in_the_other_screen(bundle, joint_matrix, tmp_path):
    from drugresponse.train.evaluation.cross_validation import EvaluationConfig, follow_gdsc2_folds

    screen = lambda name: load_matrix(bundle, name)  # noqa: E731
    follow_gdsc2_folds(EvaluationConfig(dataset="BOTH", split="lpo", n_folds=3), joint_matrix, screen, tmp_path)
    folds = load_folds(joint_matrix, tmp_path / "folds" / "BOTH_lpo_seed0.parquet")
    twins = 0
    for j, drug in enumerate(joint_matrix.drugs):
        if drug.endswith(" [GDSC1]") and drug.removesuffix(" [GDSC1]") in joint_matrix.drugs:
            k = joint_matrix.drugs.index(drug.removesuffix(" [GDSC1]"))
            both = (folds[:, j] != NOT_MEASURED) & (folds[:, k] != NOT_MEASURED)
            np.testing.assert_array_equal(folds[both, j], folds[both, k])
            twins += int(both.sum())
    assert twins > 50
    # saved folds that no longer follow GDSC2's are refused, not reused
    path = tmp_path / "folds" / "GDSC1_lpo_seed0.parquet"
    table = pl.read_parquet(path).with_columns(((pl.col("fold") + 1) % 3).cast(pl.Int8).alias("fold"))
    table.write_parquet(path)
    from drugresponse.errors import UserError

    with pytest.raises(UserError, match="do not follow GDSC2's folds"):
        follow_gdsc2_folds(EvaluationConfig(dataset="BOTH", split="lpo", n_folds=3), joint_matrix, screen, tmp_path)


def test_each_screen_gets_the_joint_networks_figures(shipped_results):
    for screen in ("GDSC2", "GDSC1"):
        records = {r["model"]: r for r in json.loads((shipped_results / f"{screen}_lco.json").read_text())}
        network = records["mlp_ensemble"]
        assert network["dataset"] == screen and network["screens_learnt"] == ["GDSC2", "GDSC1"]
        assert {"ridge_per_drug", "tissue_drug_mean"} <= set(records)
        predictions = pl.read_parquet(shipped_results / f"{screen}_lco_predictions.parquet")
        ours = predictions.filter(pl.col("model") == "mlp_ensemble")
        assert ours.height == network["n_pairs"] == predictions.filter(pl.col("model") == "ridge_per_drug").height
        assert not ours["drug"].str.ends_with("]").any()  # the screen's own drug names
        joint = pl.read_parquet(shipped_results / "BOTH_lco_predictions.parquet").filter(
            (pl.col("model") == "mlp_ensemble")
            & pl.col("drug").is_in([screen_column(d, screen) for d in ours["drug"].unique()]))
        assert joint.height == ours.height
        residual = (ours["measured"] - ours["predicted"]).pow(2).mean() ** 0.5
        assert network["rmse"] == pytest.approx(residual, rel=1e-5)


def test_writing_the_screens_again_changes_nothing_and_keeps_a_one_screen_network(bundle, shipped_results, tmp_path):
    import shutil

    from drugresponse.train.evaluation.cross_validation import EvaluationConfig, evaluate, follow_gdsc2_folds
    from drugresponse.train.evaluation.screens import write_per_screen

    results = tmp_path / "results"
    shutil.copytree(shipped_results, results)
    before = (results / "GDSC1_lco.json").read_text()
    write_per_screen(results, "BOTH_lco")
    assert (results / "GDSC1_lco.json").read_text() == before
    # a network trained on GDSC1 alone, then the joint one written again: the first stays, renamed
    gdsc1 = load_matrix(bundle, "GDSC1")
    config = EvaluationConfig(dataset="GDSC1", split="lco", n_folds=3, preset="quick", models=("mlp_ensemble",),
                              merge=True)
    evaluate(gdsc1, follow_gdsc2_folds(config, gdsc1, lambda s: load_matrix(bundle, s), results), results)
    write_per_screen(results, "BOTH_lco")
    records = {r["model"]: r for r in json.loads((results / "GDSC1_lco.json").read_text())}
    assert "screens_learnt" in records["mlp_ensemble"] and "screens_learnt" not in records["mlp_ensemble_one_screen"]
    assert records["mlp_ensemble_one_screen"]["ablation"]
    models = set(pl.read_parquet(results / "GDSC1_lco_predictions.parquet")["model"])
    assert {"mlp_ensemble", "mlp_ensemble_one_screen", "ridge_per_drug"} <= models


def test_the_app_leads_with_gdsc2_where_both_screens_measured_a_drug(assets_dir):
    table = pl.read_parquet(assets_dir / "drugs.parquet")
    row = {d: r for d, *r in table.select("drug", "name", "screen", "leads").iter_rows()}
    assert row["Cisplatin"] == ["Cisplatin", "GDSC2", True]
    assert row["Cisplatin [GDSC1]"] == ["Cisplatin", "GDSC1", False]
    assert row["Imatinib [GDSC1]"] == ["Imatinib", "GDSC1", True]  # only GDSC1 screened it
    meta = json.loads((assets_dir / "model.json").read_text())
    assert table["drug"].to_list() == meta["drugs"]
