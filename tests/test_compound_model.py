"""The structure model, its leave-drug-out evaluation and its ONNX file, on the real-data fixture slice."""

import json

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest

from drugresponse.train.compounds.ldo_report import conformal_quantile, paired_bootstrap
from drugresponse.train.compounds.ldo_results import structures
from drugresponse.train.compounds.leave_drug_out import drug_folds, evaluate_ldo
from drugresponse.train.compounds.two_tower import LineTower, Settings, TwoTower, tanimoto


@pytest.fixture(scope="module")
def smiles(bundle_path):
    return structures(bundle_path)


@pytest.fixture(scope="module")
def ldo(matrix, smiles):
    return evaluate_ldo(matrix, smiles, n_folds=3, seed=0)


def test_tanimoto_by_hand():
    a = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    b = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], dtype=np.float32)
    np.testing.assert_allclose(tanimoto(a, b), [[1 / 3, 1.0], [0.0, 0.0]])


def test_the_line_tower_ignores_what_was_not_measured():
    y = np.array([[1.0, 2.0, np.nan], [3.0, 1.0, 2.0], [2.0, 0.0, 1.0], [0.0, 4.0, 3.0]])
    tower = LineTower.fit(y, rank=1)
    z = (y - np.nanmean(y, axis=0)) / np.nanstd(y, axis=0)
    np.testing.assert_allclose(tower.embed(y)[:, 0], np.nanmean(z, axis=1))
    changed = y.copy()
    changed[0, 2] = np.nan  # already unknown: nothing moves
    np.testing.assert_allclose(tower.embed(changed), tower.embed(y))


def test_folds_are_by_drug_and_every_pair_is_predicted_once(ldo, matrix, smiles):
    table = ldo["predictions"]
    with_structure = [d for d in matrix.drugs if d in smiles]
    assert sorted(ldo["drug_folds"]["drug"].to_list()) == sorted(with_structure)
    assert table.group_by("drug").agg(pl.col("fold").n_unique())["fold"].max() == 1
    measured = int(np.sum(~np.isnan(matrix.ln_ic50[:, [matrix.drugs.index(d) for d in with_structure]])))
    for (setting, model), block in table.group_by("setting", "model"):
        assert block.height == measured and block.select("cell_line", "drug").is_unique().all(), (setting, model)


def test_a_fixed_seed_gives_the_same_predictions(ldo, matrix, smiles):
    again = evaluate_ldo(matrix, smiles, n_folds=3, seed=0)
    assert again["predictions"].equals(ldo["predictions"])
    other = evaluate_ldo(matrix, smiles, n_folds=3, seed=1)
    assert not other["drug_folds"].equals(ldo["drug_folds"])


def test_a_held_out_drugs_own_responses_never_reach_its_prediction(ldo, matrix, smiles):
    """Canary: scramble one held-out drug's measurements; its predictions in its fold must not move."""
    drug = ldo["drug_folds"]["drug"][0]
    j = matrix.drugs.index(drug)
    poisoned = matrix.subset_cell_lines(np.arange(len(matrix.cell_lines)))
    poisoned.ln_ic50 = matrix.ln_ic50.copy()
    seen = ~np.isnan(poisoned.ln_ic50[:, j])
    poisoned.ln_ic50[seen, j] = np.random.default_rng(0).permutation(poisoned.ln_ic50[seen, j]) + 10.0
    again = evaluate_ldo(poisoned, smiles, n_folds=3, seed=0)["predictions"]
    mine = ldo["predictions"].filter(pl.col("drug") == drug).sort("setting", "model", "cell_line")
    theirs = again.filter(pl.col("drug") == drug).sort("setting", "model", "cell_line")
    np.testing.assert_array_equal(mine["predicted"].to_numpy(), theirs["predicted"].to_numpy())
    assert not np.array_equal(mine["measured"].to_numpy(), theirs["measured"].to_numpy())


def test_the_shuffled_ablation_keeps_the_model_and_loses_the_structure(ldo):
    table = ldo["predictions"].filter(pl.col("setting") == "single")
    model = table.filter(pl.col("model") == "two_tower")["predicted"].to_numpy()
    shuffled = table.filter(pl.col("model") == "two_tower_shuffled")["predicted"].to_numpy()
    assert not np.allclose(model, shuffled)


def test_conformal_quantile_is_the_finite_sample_one():
    scores = np.arange(1, 11, dtype=float)  # n = 10: the ceil(11 * 0.8) = 9th smallest
    assert conformal_quantile(scores, 0.8) == 9.0
    assert conformal_quantile(scores, 0.95) == 10.0


def test_a_model_against_itself_differs_by_nothing(ldo):
    table = ldo["predictions"]
    copy = table.filter(pl.col("model") == "two_tower").with_columns(pl.lit("copy").alias("model"))
    result = paired_bootstrap(pl.concat([table, copy]), "single", "two_tower", "copy")
    for key in ("r2", "rmse", "per_drug_pearson"):
        assert result[key]["delta"] == 0 and result[key]["ci95"] == [0.0, 0.0]


def test_drug_folds_are_balanced_and_seeded():
    folds = drug_folds(23, 5, seed=3)
    assert sorted(np.bincount(folds)) == [4, 4, 5, 5, 5]
    np.testing.assert_array_equal(folds, drug_folds(23, 5, seed=3))


def test_the_onnx_file_gives_the_numpy_model_with_missing_anchors(assets_dir, matrix, smiles):
    from drugresponse.compound_structure import fingerprints

    meta = json.loads((assets_dir / "compound.json").read_text())
    s = Settings(**meta["settings"])
    known = meta["known_drugs"]
    fp = fingerprints([smiles[d] for d in known], s.radius, s.size)
    model = TwoTower.fit(matrix.ln_ic50.astype(np.float64), matrix.ln_ic50[:, [matrix.drugs.index(d) for d in known]]
                         .astype(np.float64), fp, s)
    anchors = matrix.ln_ic50.copy()
    anchors[:3, :5] = np.nan
    session = ort.InferenceSession(str(assets_dir / "compound.onnx"), providers=["CPUExecutionProvider"])
    got, scale, similarity = session.run(None, {"fingerprint": fp, "anchor_ln_ic50": anchors})
    np.testing.assert_allclose(got, model.predict(fp, anchors.astype(np.float64)).T, atol=1e-4)
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-6)  # each known drug is itself
    assert (scale > 0).all() and meta["anchors"] == matrix.drugs


def test_one_drug_under_two_names_is_one_group():
    from drugresponse.train.compounds.leave_drug_out import drug_groups

    smiles = {"Afuresertib": "CC(=O)O", "GSK2110183B": "OC(C)=O", "Bleomycin": "CCN", "Other": "CCCl"}
    groups = drug_groups(["Afuresertib", "Bleomycin (50 uM)", "GSK2110183B", "Bleomycin", "Other"], smiles)
    assert groups[0] == groups[2] and groups[1] == groups[3] and len(set(groups)) == 3
    folds = drug_folds(5, 2, seed=0, groups=groups)
    assert folds[0] == folds[2] and folds[1] == folds[3]


def test_a_line_outside_the_screen_gets_the_new_line_interval(assets_dir, runtime, smiles):
    from dataclasses import replace

    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.compounds import anchor_columns, gdsc_line_anchors

    catalog = Catalog.load(assets_dir)
    first = catalog.cell_lines["cell_line"][0]
    outside = replace(catalog, measured=catalog.measured.filter(pl.col("cell_line") != first))
    meta = json.loads((assets_dir / "compound.json").read_text())
    anchors, predicted = gdsc_line_anchors(outside, runtime, meta["anchors"])
    assert predicted[0] and not predicted[1:].any()
    columns = anchor_columns(runtime.drugs, meta["anchors"])
    np.testing.assert_allclose(anchors[0], runtime.predict({m: v[:1] for m, v in catalog.profiles.items()})[0, columns],
                               atol=1e-6)
