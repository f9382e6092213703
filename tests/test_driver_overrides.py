"""The curated corrections to GDSC's driver-event table: applied at bundle build, checked, reported."""

import dataclasses

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.train.data.driver_overrides import apply_overrides, read_overrides

from .conftest import FIXTURES


def _overrides(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"cell_line": pl.String, "cosmic_id": pl.Int64, "event": pl.String,
                                      "value": pl.Int8, "source": pl.String})


def test_the_shipped_file_names_a_source_for_every_row():
    table = read_overrides()
    assert table.height >= 5
    assert {"K-562", "KCL-22", "JURL-MK1", "SUP-B15", "TC-71"} <= set(table["cell_line"])
    for source in table["source"]:
        assert "Cellosaurus CVCL_" in source and any(str(year) in source for year in range(1970, 2026))


def test_an_override_sets_the_event_and_records_the_tables_value(bundle):
    drivers = pl.read_parquet(bundle.path / "drivers.parquet")
    lines = bundle.cell_lines
    row = int(np.flatnonzero(drivers["BCR-ABL_mut"].to_numpy() == 0)[0])
    line, cosmic = lines["cell_line"][row], lines["cosmic_id"][row]
    fixed, applied, absent = apply_overrides(drivers, lines, _overrides([
        {"cell_line": line, "cosmic_id": cosmic, "event": "BCR-ABL_mut", "value": 1, "source": "a paper"},
        {"cell_line": "NOT-HERE", "cosmic_id": -1, "event": "BCR-ABL_mut", "value": 1, "source": "a paper"}]))
    assert fixed["BCR-ABL_mut"][row] == 1 and fixed.schema == drivers.schema
    changed = fixed.drop("cell_line").fill_null(-1).to_numpy() != drivers.drop("cell_line").fill_null(-1).to_numpy()
    assert np.argwhere(changed).tolist() == [[row, drivers.columns.index("BCR-ABL_mut") - 1]]
    assert applied == [{"cell_line": line, "cosmic_id": cosmic, "event": "BCR-ABL_mut", "value": 1,
                        "source": "a paper", "table_value": 0}]
    assert absent == [{"cell_line": "NOT-HERE", "cosmic_id": -1, "event": "BCR-ABL_mut"}]


def test_a_row_that_could_land_on_the_wrong_line_or_event_is_refused(bundle):
    drivers = pl.read_parquet(bundle.path / "drivers.parquet")
    line, cosmic = bundle.cell_lines["cell_line"][0], bundle.cell_lines["cosmic_id"][0]
    with pytest.raises(UserError, match="COSMIC id"):
        apply_overrides(drivers, bundle.cell_lines, _overrides([
            {"cell_line": "K-562", "cosmic_id": cosmic, "event": "BCR-ABL_mut", "value": 1, "source": "x"}]))
    event = next(e for e in drivers.columns[1:] if drivers[e][0] is not None)
    with pytest.raises(UserError, match="already says"):  # a row that changes nothing is a mistake, not a fix
        apply_overrides(drivers, bundle.cell_lines, _overrides([
            {"cell_line": line, "cosmic_id": cosmic, "event": event, "value": drivers[event][0], "source": "x"}]))
    with pytest.raises(UserError, match="not an event"):
        apply_overrides(drivers, bundle.cell_lines, _overrides([
            {"cell_line": line, "cosmic_id": cosmic, "event": "BCR-ABL1_fusion", "value": 1, "source": "x"}]))


@pytest.mark.parametrize(("row", "reason"), [
    ("K-562,905940,BCR-ABL_mut,yes,paper", "whole numbers"),
    ("K-562,905940,BCR-ABL_mut,1,   ", "empty cell"),
    ("K-562,905940,BCR-ABL_mut,2,paper", "0 or 1"),
    ("K-562,905940,BCR-ABL_mut,1,", "empty cell"),
])
def test_bad_override_files_are_refused_with_the_reason(tmp_path, row, reason):
    path = tmp_path / "overrides.csv"
    path.write_text(f"cell_line,cosmic_id,event,value,source\n{row}\n")
    with pytest.raises(UserError, match=reason):
        read_overrides(path)


def test_the_manifest_reports_the_overrides_and_the_checksum_without_them(bundle):
    manifest = bundle.manifest
    overrides = manifest["driver_overrides"]
    assert overrides["file"] == "driver_overrides.csv" and len(overrides["sha256"]) == 64
    assert {r["cell_line"] for r in overrides["applied"]} | {r["cell_line"] for r in overrides["not_in_bundle"]} \
        == set(read_overrides()["cell_line"])
    if not overrides["applied"]:  # the slice holds none of the corrected lines: the bundle is what GDSC's table says
        assert manifest["content_sha256_before_overrides"] == manifest["content_sha256"]


def test_models_said_to_read_no_event_ignore_the_event_table(matrix):
    """What lets their evaluations be carried across a change of the event table (carry_over_records.py)."""
    from drugresponse.train.evaluation.registry import READS_NO_DRIVER_EVENTS, make_predictor

    rng = np.random.default_rng(0)
    shuffled = dataclasses.replace(matrix, profiles={**matrix.profiles, "drivers": rng.permutation(
        matrix.profiles["drivers"].ravel()).reshape(matrix.profiles["drivers"].shape)})
    train = np.isfinite(matrix.ln_ic50) & (np.arange(len(matrix.cell_lines)) % 4 != 0)[:, None]
    rows = np.flatnonzero(np.arange(len(matrix.cell_lines)) % 4 == 0)
    for name in READS_NO_DRIVER_EVENTS:
        first = make_predictor(name, "quick").fit(matrix, train, "lco", 0).predict(matrix, rows)
        second = make_predictor(name, "quick").fit(shuffled, train, "lco", 0).predict(shuffled, rows)
        np.testing.assert_array_equal(first, second, err_msg=name)
    reads = make_predictor("ridge_per_drug_drivers", "quick").fit(matrix, train, "lco", 0).predict(matrix, rows)
    assert not np.array_equal(reads, make_predictor("ridge_per_drug_drivers", "quick").fit(
        shuffled, train, "lco", 0).predict(shuffled, rows)), "the check must be able to fail"


def test_the_explanation_marks_a_curated_event():
    from drugresponse.serve.views import CURATED_MARK, curated_text, mark_curated

    table = pl.DataFrame({"model feature": ["driver:BCR-ABL_mut", "expression:ABL1", "driver:TP53_mut"],
                          "sample's value": ["carried", "+1.00 SD from the GDSC mean", "carried"]})
    marked = mark_curated(table, ["BCR-ABL_mut"])
    assert marked["sample's value"].to_list() == ["carried" + CURATED_MARK, "+1.00 SD from the GDSC mean", "carried"]
    assert mark_curated(table, []).equals(table)
    assert "K-562 BCR-ABL" in curated_text(["K-562 BCR-ABL: carried (GDSC's table: not carried; source: x)"])
    assert curated_text([]) == ""


def test_undoing_the_overrides_gives_gdscs_table_back(bundle):
    from drugresponse.train.data.driver_overrides import without_overrides

    drivers = pl.read_parquet(bundle.path / "drivers.parquet")
    line, cosmic = bundle.cell_lines["cell_line"][0], bundle.cell_lines["cosmic_id"][0]
    event = next(e for e in drivers.columns[1:] if drivers[e][0] == 0)
    fixed, applied, _ = apply_overrides(drivers, bundle.cell_lines, _overrides([
        {"cell_line": line, "cosmic_id": cosmic, "event": event, "value": 1, "source": "x"}]))
    assert not fixed.equals(drivers) and without_overrides(fixed, applied).equals(drivers)


def test_the_app_assets_and_the_model_card_carry_the_corrections(assets_dir):
    from drugresponse.export.model_card import _override_lines
    from drugresponse.export.serving_assets import with_curated_events
    from drugresponse.serve.catalog import Catalog

    catalog = Catalog.load(assets_dir)
    assert "curated_events" in catalog.cell_lines.columns  # empty for every line of the slice: none is corrected
    assert catalog.curated_events(catalog.cell_lines["cell_line"][0]) == {}
    # event names hold commas (gain_cnaPANCAN301_(CDK12,ERBB2,MED24)): kept whole in a list column
    event = "gain_cnaPANCAN301_(CDK12,ERBB2,MED24)"
    row = {"cell_line": catalog.cell_lines["cell_line"][1], "event": event, "value": 1, "table_value": 0,
           "source": "Kraus et al. 1987"}
    catalog.cell_lines = with_curated_events(catalog.cell_lines.drop("curated_events", "curated_notes"),
                                             {"applied": [row]})
    notes = catalog.curated_events(row["cell_line"])
    assert list(notes) == [event] and "GDSC's table: not carried; source: Kraus et al. 1987" in notes[event]
    lines = _override_lines([{**row, "cell_line": "K-562", "event": "BCR-ABL_mut"}])
    assert "K-562 BCR-ABL: carried (GDSC's table: not carried" in lines[1] and _override_lines([]) == []


def test_editing_the_override_file_makes_the_bundle_stale(bundle_path, sources, monkeypatch):
    from drugresponse.train.data import bundle as bundle_module

    assert bundle_module.is_valid_bundle(bundle_path, sources)
    monkeypatch.setattr(bundle_module, "overrides_sha256", lambda: "0" * 64)
    assert not bundle_module.is_valid_bundle(bundle_path, sources)


def test_the_checksum_before_overrides_is_the_checksum_of_a_build_without_them(tmp_path, sources, bundle, monkeypatch):
    """What lets an evaluation on the bundle without overrides be recognised (benchmarks/carry_over_records.py)."""
    from drugresponse.train.data import bundle_build
    from drugresponse.train.data.bundle import Bundle

    line, cosmic = bundle.cell_lines["cell_line"][0], bundle.cell_lines["cosmic_id"][0]
    drivers = pl.read_parquet(bundle.path / "drivers.parquet")
    event = next(e for e in drivers.columns[1:] if drivers[e][0] == 0)
    monkeypatch.setattr(bundle_build, "read_overrides", lambda: _overrides([
        {"cell_line": line, "cosmic_id": cosmic, "event": event, "value": 1, "source": "x"}]))
    path, _ = bundle_build.build_bundle(tmp_path, FIXTURES / "sources", sources)
    corrected = Bundle.open(path).manifest
    assert corrected["content_sha256"] != bundle.manifest["content_sha256"]
    assert corrected["content_sha256_before_overrides"] == bundle.manifest["content_sha256"]
    assert [r["cell_line"] for r in corrected["driver_overrides"]["applied"]] == [line]


def test_export_refuses_biomarker_figures_of_another_bundle(bundle, checkpoint, assets_dir, tmp_path):
    import json
    import shutil

    from drugresponse.export.pipeline import export_all

    from .conftest import HGNC_FIXTURE

    results = tmp_path / "results"
    shutil.copytree(assets_dir / "evaluation", results)  # the fixture's own evaluation files
    (results / "biomarkers.json").write_text(json.dumps({"data_sha256": "0" * 64}))
    with pytest.raises(UserError, match="biomarkers.py"):
        export_all(bundle, checkpoint, tmp_path / "out" / "model.onnx", results,
                   hgnc_wheel=FIXTURES / "sources" / HGNC_FIXTURE)


def test_carrying_records_across_the_overrides_keeps_only_models_that_read_no_event(tmp_path):
    import json

    from benchmarks.carry_over_records import carry

    old, new = "a" * 64, "b" * 64
    record = lambda model, baseline: {"dataset": "GDSC2", "split": "lco", "model": model, "baseline": baseline,  # noqa: E731
                                      "data_sha256": old, "rmse": 1.0, "mae": 1.0, "r2": 0.5, "pearson": 0.5,
                                      "spearman": 0.5, "per_drug_pearson": 0.5, "per_drug_spearman": 0.5, "n_pairs": 2}
    (tmp_path / "GDSC2_lco.json").write_text(json.dumps([record("drug_mean", True), record("mlp_ensemble", False)]))
    (tmp_path / "GDSC2_lco.md").write_text("**GDSC2, LCO, 5 folds, seed 0**\n\n| table |\n")
    (tmp_path / "GDSC2_lco_history.json").write_text("{}")
    pl.DataFrame({"model": ["drug_mean", "mlp_ensemble"], "cell_line": ["A", "A"], "drug": ["d", "d"],
                  "measured": [1.0, 1.0], "predicted": [0.5, 0.7], "fold": [0, 0]}).write_parquet(
        tmp_path / "GDSC2_lco_predictions.parquet")
    report = carry(tmp_path, old, new)
    assert report["GDSC2_lco"] == {"carried": ["drug_mean"], "set_aside": ["mlp_ensemble"]}
    kept = json.loads((tmp_path / "GDSC2_lco.json").read_text())
    assert [(r["model"], r["data_sha256"], r["carried_over_from"]) for r in kept] == [("drug_mean", new, old)]
    assert pl.read_parquet(tmp_path / "GDSC2_lco_predictions.parquet")["model"].to_list() == ["drug_mean"]
    assert not (tmp_path / "GDSC2_lco_history.json").exists()
    assert (tmp_path / "GDSC2_lco.md").read_text().startswith("**GDSC2, LCO, 5 folds, seed 0**\n\n| model |")
    archived = json.loads((tmp_path / "before_overrides" / "GDSC2_lco.json").read_text())
    assert [r["data_sha256"] for r in archived] == [old, old]  # the bundle-2 table, unchanged
    assert carry(tmp_path, old, new) == {}  # a second run finds nothing of the old bundle
