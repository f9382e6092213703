"""`drugresponse tune`: Optuna nested in the saved outer folds, recorded per fold, then `evaluate --tuned`."""

import json

import pytest

from drugresponse.cli import main
from drugresponse.train.evaluation.tuning import SPACE


@pytest.fixture(scope="module")
def tuned(bundle_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("tuning")
    common = ["--data-dir", str(bundle_path.parent), "--out", str(out), "--preset", "quick"]
    assert main(["evaluate", "--split", "lco", "--folds", "3", "--models", "drug_mean", "mlp_ensemble", *common]) == 0
    assert main(["tune", "--split", "lco", "--trials", "3", *common]) == 0
    return out, common


def test_every_fold_records_its_trials_and_best_configuration(tuned):
    out, _ = tuned
    payload = json.loads((out / "GDSC2_lco_tuning.json").read_text())
    assert set(payload["space"]) == set(SPACE)
    assert [f["fold"] for f in payload["folds"]] == [0, 1, 2]
    for fold in payload["folds"]:
        assert len(fold["trials"]) == 3
        finished = [t for t in fold["trials"] if t["state"] == "COMPLETE"]
        assert fold["best"]["value"] == min(t["value"] for t in finished)
        assert set(finished[0]["params"]) == set(SPACE)
    table = (out / "GDSC2_lco_tuning.md").read_text().splitlines()
    assert len([row for row in table if row.startswith("| ") and row[2].isdigit()]) == 3
    assert payload["wall_seconds"] > 0


def test_tuning_is_reproducible(tuned, bundle_path, tmp_path):
    out, common = tuned
    (tmp_path / "folds").mkdir()
    (tmp_path / "folds" / "GDSC2_lco_seed0.parquet").write_bytes((out / "folds" / "GDSC2_lco_seed0.parquet").read_bytes())
    again = [c if c != str(out) else str(tmp_path) for c in common]
    assert main(["tune", "--split", "lco", "--trials", "3", *again]) == 0
    strip = lambda p: [[{k: t[k] for k in ("params", "value", "state")} for t in f["trials"]]  # noqa: E731
                       for f in json.loads(p.read_text())["folds"]]
    assert strip(out / "GDSC2_lco_tuning.json") == strip(tmp_path / "GDSC2_lco_tuning.json")


def test_evaluate_tuned_adds_the_tuned_model_to_the_saved_table(tuned):
    out, common = tuned
    assert main(["evaluate", "--split", "lco", "--folds", "3", "--tuned", *common]) == 0
    records = json.loads((out / "GDSC2_lco.json").read_text())
    assert [r["model"] for r in records] == ["drug_mean", "mlp_ensemble", "mlp_ensemble_without_drivers",
                                             "mlp_ensemble_tuned", "mlp_ensemble_tuned_without_drivers"]
    history = json.loads((out / "GDSC2_lco_history.json").read_text())
    best = {f["fold"]: f["best"]["config"] for f in json.loads((out / "GDSC2_lco_tuning.json").read_text())["folds"]}
    for fold in history["mlp_ensemble_tuned"]:
        assert fold["chosen"] == best[fold["fold"]]


def test_tune_needs_saved_folds(bundle_path, tmp_path, capsys):
    assert main(["tune", "--split", "lco", "--data-dir", str(bundle_path.parent), "--out", str(tmp_path)]) == 2
    assert "evaluate --split lco" in capsys.readouterr().err
