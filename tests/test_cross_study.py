"""Cross-study checks on the real bundle and the committed LCO out-of-fold predictions: the committed table is what
`drugresponse evaluate --cross-study all` writes, each side of a comparison reads the column it names, and an
evaluation of another bundle is refused."""

import json
import shutil

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from drugresponse.cli import main
from drugresponse.paths import WORK_DIR
from drugresponse.train.evaluation.cross_study import held_out, per_drug, run_check

from .test_real_data import real_bundle_path  # noqa: F401  (the fixture)

pytestmark = pytest.mark.real_data
RESULTS = WORK_DIR / "benchmarks" / "results"


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    for name in ("GDSC2_lco.json", "GDSC2_lco_predictions.parquet", "GDSC1_lco.json", "GDSC1_lco_predictions.parquet"):
        if not (RESULTS / name).is_file():
            pytest.skip(f"no committed {name}")
        shutil.copy(RESULTS / name, folder / name)
    return folder


def test_the_committed_table_is_what_the_command_writes(real_bundle_path, evaluation, capsys):  # noqa: F811
    args = ["evaluate", "--cross-study", "all", "--out", str(evaluation), "--data-dir", str(real_bundle_path.parent)]
    assert main(args) == 0
    written = json.loads((evaluation / "cross_study.json").read_text())
    assert written == json.loads((RESULTS / "cross_study.json").read_text())
    assert (evaluation / "cross_study.md").read_text() == (RESULTS / "cross_study.md").read_text()
    # the reverse: the network's GDSC1 outputs against GDSC2's measurements, on the 122 drugs both screened
    assert written["checks"]["gdsc2"]["drugs"] == written["checks"]["gdsc1"]["drugs"] == 122
    ccle = written["checks"]["ccle"]
    # by name (PD-0325901, PLX4720 spelt otherwise) and by CCLE's research code (AZD6244, PD-0332991)
    assert {row["drug"] for row in ccle["per_drug"]} >= {"Nilotinib", "PLX-4720", "PD0325901", "Selumetinib",
                                                         "Palbociclib"}
    assert written["checks"]["replicates"]["drugs"] == 9  # GDSC2's drugs screened twice


def test_each_side_is_the_correlation_of_the_columns_it_names(evaluation):
    predictions = held_out(evaluation / "GDSC2_lco_predictions.parquet").filter(pl.col("drug") == "Nilotinib")
    # GDSC2 against itself: the measurements agree perfectly; the model's figure is its own Spearman with GDSC2
    itself = predictions.select("cell_line", "drug", pl.col("measured").alias("other"))
    result = run_check("gdsc1", predictions, itself, deepdr=None)
    row = result["per_drug"][0]
    assert row["measured"] == pytest.approx(1.0)
    assert row["model"] == pytest.approx(spearmanr(predictions["model"], predictions["measured"])[0], abs=1e-6)  # float32 columns
    assert row["baseline"] == pytest.approx(spearmanr(predictions["baseline"], predictions["measured"])[0], abs=1e-6)  # float32 columns
    shuffled = itself.with_columns(pl.Series("other", np.random.default_rng(0).permutation(itself["other"])))
    assert abs(run_check("gdsc1", predictions, shuffled, deepdr=None)["per_drug"][0]["measured"]) < 0.2


def test_drugs_with_too_few_shared_lines_are_left_out(evaluation):
    predictions = held_out(evaluation / "GDSC2_lco_predictions.parquet").filter(pl.col("drug") == "Nilotinib")
    pairs = predictions.head(9).with_columns(other=pl.col("measured"))
    assert per_drug(pairs, {"measured": ("measured", "other")}).height == 0


def test_an_evaluation_of_another_bundle_is_refused(real_bundle_path, evaluation, tmp_path, capsys):  # noqa: F811
    for name in ("GDSC2_lco.json", "GDSC2_lco_predictions.parquet"):
        shutil.copy(evaluation / name, tmp_path / name)
    records = json.loads((tmp_path / "GDSC2_lco.json").read_text())
    records[0]["data_sha256"] = "0" * 64
    (tmp_path / "GDSC2_lco.json").write_text(json.dumps(records))
    code = main(["evaluate", "--cross-study", "ccle", "--out", str(tmp_path), "--data-dir",
                 str(real_bundle_path.parent)])
    assert code != 0 and "was computed on bundle 000000000000" in capsys.readouterr().err
    assert not (tmp_path / "cross_study.json").exists()
