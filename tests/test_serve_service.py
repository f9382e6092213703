import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.serve.calibration import Calibration
from drugresponse.serve.catalog import Catalog
from drugresponse.serve.conformal import conformal_quantile
from drugresponse.serve.runtime import load_runtime
from drugresponse.serve.service import HELD_OUT, IN_SAMPLE, PredictionService


@pytest.fixture(scope="module")
def service(assets_dir):
    return PredictionService(load_runtime(assets_dir / "model.onnx", "cpu"), Catalog.load(assets_dir))


def test_runtime_reports_the_provider_in_use(assets_dir):
    runtime = load_runtime(assets_dir / "model.onnx", "auto")
    assert runtime.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert runtime.session.get_providers()[0] == runtime.provider


def test_catalog_profiles_round_trip_the_bundle(assets_dir, bundle):
    catalog = Catalog.load(assets_dir)
    assert catalog.names() == bundle.cell_lines["cell_line"].to_list()
    np.testing.assert_allclose(catalog.profiles["expression"], bundle.profiles["expression"], atol=2e-3)
    np.testing.assert_array_equal(catalog.profiles["mutation"], bundle.profiles["mutation"])
    np.testing.assert_array_equal(catalog.profiles["drivers"], bundle.profiles["drivers"])  # NaN where unknown


def test_a_gdsc_line_leads_with_its_held_out_prediction(service, assets_dir, matrix):
    cell_line, drugs = matrix.cell_lines[0], matrix.drugs[:3]
    table = service.predict(cell_line, drugs)
    assert table["drug"].to_list() == drugs
    held_out = pl.read_parquet(assets_dir / "evaluation" / "lco_heldout_all_drugs.parquet")
    row = held_out.filter(pl.col("cell_line") == cell_line)
    np.testing.assert_allclose(table[HELD_OUT], [row[d][0] for d in drugs], atol=1e-3)
    np.testing.assert_allclose(table[IN_SAMPLE], service.final[0, :3], atol=1e-3)  # the shipped model, labelled
    assert not np.allclose(table[HELD_OUT], table[IN_SAMPLE])
    assert np.allclose(table["IC50 (µM)"], np.exp(table[HELD_OUT]), rtol=2e-3)
    measured = table["measured ln IC50 (GDSC)"].to_list()
    assert (measured[0] is None) == bool(np.isnan(matrix.ln_ic50[0, matrix.drugs.index(drugs[0])]))


def test_percentiles_and_calls_rank_among_held_out_predictions(service):
    calibration = service.calibration
    reference = calibration.sorted[0]
    below, above = reference[2] - 1e-3, reference[-3] + 1e-3
    percentile = calibration.percentile(np.array([[below], [above]]) * np.ones((1, len(service.drugs))))[:, 0]
    assert percentile[0] == pytest.approx(100 * 2 / len(reference))
    assert percentile[1] == pytest.approx(100 * (len(reference) - 2) / len(reference))
    assert [calibration.call(p) for p in (5, 50, 95)] == ["sensitive", "intermediate", "resistant"]


def test_rank_drugs_orders_every_drug_once(service, matrix, joint_matrix):
    ranking = service.rank_drugs(matrix.cell_lines[1])
    # each drug once: GDSC2's answer where both screens measured it, GDSC1's for the drugs only GDSC1 screened
    gdsc1_only = [d for d in joint_matrix.drugs if d.endswith(" [GDSC1]") and d.removesuffix(" [GDSC1]") not in matrix.drugs]
    assert sorted(ranking["drug"].to_list()) == sorted(matrix.drugs + gdsc1_only) and gdsc1_only
    assert set(ranking.filter(pl.col("screen") == "GDSC1")["drug"]) == set(gdsc1_only)
    row = service.catalog.row(matrix.cell_lines[1])
    z = (service.held_out[row] - service.calibration.typical) / service.calibration.spread  # computed independently
    shared = next(d for d in matrix.drugs if f"{d} [GDSC1]" in joint_matrix.drugs)
    other = ranking.filter(pl.col("drug") == shared)["other screen's answer (z vs typical)"][0]
    assert other == f"GDSC1: z {z[service.drugs.index(shared + ' [GDSC1]')]:+.2f}"
    leading = [j for j, d in enumerate(service.drugs) if d in set(ranking["drug"])]
    expected = [service.drugs[j] for j in sorted(leading, key=lambda j: (np.round(z[j], 2), leading.index(j)))]
    assert ranking["z vs typical"].to_list() == sorted(ranking["z vs typical"].to_list())  # most sensitive first
    assert ranking["drug"][0] == expected[0] and ranking["drug"][-1] == expected[-1]
    j = service.drugs.index(ranking["drug"][0])
    assert ranking["ln IC50 vs typical"][0] == pytest.approx(service.held_out[row, j] - service.calibration.typical[j],
                                                             abs=1e-3)


def test_a_drug_only_gdsc1_screened_is_asked_for_by_its_gdsc1_name(service, matrix):
    with pytest.raises(UserError, match=r"only GDSC1 screened this drug; ask for 'Imatinib \[GDSC1\]'"):
        service.predict(matrix.cell_lines[0], ["Imatinib"])
    assert service.predict(matrix.cell_lines[0], ["Imatinib [GDSC1]"])["screen"].to_list() == ["GDSC1"]


def test_unknown_inputs_are_refused_clearly(service, matrix):
    with pytest.raises(UserError, match="unknown cell line"):
        service.predict("NOT-A-LINE", matrix.drugs[:1])
    with pytest.raises(UserError, match="unknown drug"):
        service.predict(matrix.cell_lines[0], ["Aspirin"])
    with pytest.raises(UserError) as many:  # a crafted list: five echoed, the rest counted
        service.predict(matrix.cell_lines[0], [f"Nodrug{i}" + "x" * 150 for i in range(600)])
    assert "and 595 more" in str(many.value) and len(str(many.value)) < 1_000


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no model at"):
        load_runtime(tmp_path / "model.onnx")


def test_missing_assets_are_named(tmp_path):
    with pytest.raises(UserError, match="cell_lines.parquet"):
        Catalog.load(tmp_path)


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    residuals = np.array([-5.0, 1.0, -2.0, 3.0, 4.0, 0.5, -0.25, 6.0, 7.0])  # |r| sorted: .25 .5 1 2 3 4 5 6 7
    # n = 9, 80%: ceil(10 * 0.8) = 8th smallest |residual|
    assert conformal_quantile(residuals, 0.8) == 6.0
    assert conformal_quantile(residuals, 0.9) == 7.0  # ceil(10 * 0.9) = 9
    assert conformal_quantile(residuals[:3], 0.8) == float("inf")  # ceil(4 * 0.8) = 4 > 3: no finite interval


def test_split_conformal_intervals_cover_at_least_their_level_on_exchangeable_residuals():
    """The method's guarantee, checked by simulation (synthetic residuals: this is a property of the statistic, not of
    GDSC): with n calibration residuals and one new one drawn alike, |new| <= the half-width with probability at least
    80%, and not much more (the finite-sample quantile is tight: at most 80% + 1/(n+1))."""
    rng = np.random.default_rng(0)
    n, trials = 40, 20_000
    residuals = rng.standard_t(3, size=(trials, n + 1))
    covered = [abs(r[-1]) <= conformal_quantile(r[:-1], 0.8) for r in residuals]
    assert 0.8 - 0.01 <= np.mean(covered) <= 0.8 + 1 / (n + 1) + 0.01


def test_the_shipped_widths_are_each_drugs_own_quantile(assets_dir, service):
    conformal = json.loads((assets_dir / "evaluation" / "conformal.json").read_text())
    oof = pl.read_parquet(assets_dir / "evaluation" / "lco_predictions.parquet")
    for drug in list(conformal["drugs"])[:3]:  # recomputed by hand: sort |residual|, take the ceil((n+1) 0.8)-th
        residual = np.abs(oof.filter(pl.col("drug") == drug).select(pl.col("measured") - pl.col("predicted"))
                          .to_series().to_numpy())
        k = int(np.ceil((len(residual) + 1) * 0.8))
        assert conformal["drugs"][drug]["half_width"] == pytest.approx(float(np.sort(residual)[k - 1]))
    assert sum(t["pairs"] for t in conformal["per_tissue"].values()) == conformal["test_pairs"]
    predictions = np.arange(len(service.drugs), dtype=float)[None, :]  # distinct per drug: catches a misaligned drug
    lower, upper = service.calibration.interval(predictions)
    for drug, entry in conformal["drugs"].items():
        j = service.drugs.index(drug)
        assert (lower[0, j], upper[0, j]) == pytest.approx((j - entry["half_width"], j + entry["half_width"]))


def test_calibration_without_held_out_files_reads_as_unknown(tmp_path):
    calibration = Calibration.load(tmp_path, ["A", "B"])
    assert np.isnan(calibration.percentile(np.zeros((1, 2)))).all()
    assert calibration.call(float("nan")) == "n/a"


def test_exceptional_responders_are_scored_on_the_drugs_most_sensitive_measured_pairs(service, assets_dir):
    """Perfect predictions cover and recall every extreme; predictions shrunk toward each drug's mean keep the ranking
    (recall stays whole) but leave the extremes outside intervals sized for the typical residual."""
    from drugresponse.serve.conformal import exceptional_responders

    held_out = pl.read_parquet(assets_dir / "evaluation" / "lco_predictions.parquet")
    perfect = exceptional_responders(held_out.with_columns(pl.col("measured").alias("predicted")))
    assert perfect["coverage"] == perfect["predicted_coverage"] == perfect["recall"] == 1.0 and perfect["pairs"] > 0
    shrunk = held_out.with_columns((pl.col("measured").mean().over("drug") * 0.8 + pl.col("measured") * 0.2)
                                   .alias("predicted"))
    stats = exceptional_responders(shrunk)
    assert stats["recall"] == 1.0 and stats["coverage"] < 0.5
    served = dict(service.model_info()["exceptional_responders"])
    assert served.pop("references") == {}  # the fixture's results have no exceptional_responders benchmark
    screens = served.pop("by_screen")
    assert served == exceptional_responders(held_out)
    gdsc1 = held_out["drug"].str.ends_with("[GDSC1]")
    assert screens["GDSC2"] == exceptional_responders(held_out.filter(~gdsc1))
    assert screens["GDSC1"] == exceptional_responders(held_out.filter(gdsc1))


def test_exceptional_responder_references_are_read_from_the_benchmark_and_said_beside_the_recall():
    """The app compares the model's recall of the extremes with another measurement's, both directions, as the
    committed benchmark measured them; assets without that benchmark say nothing of it."""
    from drugresponse.serve.conformal import references
    from drugresponse.serve.views import exceptional_text, references_text

    root = Path(__file__).resolve().parent.parent
    benchmark = json.loads((root / "benchmarks" / "results" / "exceptional_responders.json").read_text())
    found = references(benchmark)
    by_screen = {r["screen"]: r for r in benchmark["other_screen"]}
    assert {r["screen"]: (r["measured_by"], r["recall"], r["network"]) for r in found["other_screen"]} == {
        s: (r["other"], r["other_screen"], r["mlp_ensemble"]) for s, r in by_screen.items()}
    assert found["replicate"]["recall"] == benchmark["replicates"]["replicate"]
    text = references_text(found)
    for screen in ("GDSC2", "GDSC1"):  # both directions, each beside the model on the same pairs
        assert f"{by_screen[screen]['other_screen']:.0%}" in text and f"{by_screen[screen]['mlp_ensemble']:.0%} of {screen}'s" in text
    assert f"({benchmark['replicates']['drugs']} drugs)" in text and "not bounds" in text
    assert references(None) == {} and references_text({}) == ""
    stats = {"share": 0.05, "top": 0.2, "pairs": 100, "coverage": 0.3, "recall": 0.63, "predicted_pairs": 90,
             "predicted_coverage": 0.8, "by_screen": {"GDSC2": {"recall": 0.71}, "GDSC1": {"recall": 0.58}}}
    said = exceptional_text({**stats, "references": found})
    assert said.endswith(text) and "63% over both screens (GDSC2 71%, GDSC1 58%)" in said
    assert "For comparison" not in exceptional_text(stats)
