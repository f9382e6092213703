import numpy as np
import pytest

from drugresponse.errors import UserError
from drugresponse.serve.catalog import Catalog
from drugresponse.serve.runtime import load_runtime
from drugresponse.serve.service import PredictionService


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


def test_predict_table_for_a_cell_line(service, matrix):
    cell_line, drugs = matrix.cell_lines[0], matrix.drugs[:3]
    table = service.predict(cell_line, drugs)
    assert table["drug"].to_list() == drugs
    assert np.allclose(table["IC50 (µM)"], np.exp(table["predicted ln IC50"]), rtol=2e-3)
    assert table["percentile among GDSC cell lines"].is_between(0, 100).all()
    measured = table["measured ln IC50 (GDSC)"].to_list()
    j = matrix.drugs.index(drugs[0])
    expected = matrix.ln_ic50[0, j]
    assert (measured[0] is None) == bool(np.isnan(expected))


def test_rank_drugs_orders_all_drugs(service, matrix):
    ranking = service.rank_drugs(matrix.cell_lines[1])
    assert ranking.height == len(service.drugs)
    assert ranking["z vs typical"].is_sorted()


def test_unknown_inputs_are_refused_clearly(service, matrix):
    with pytest.raises(UserError, match="unknown cell line"):
        service.predict("NOT-A-LINE", matrix.drugs[:1])
    with pytest.raises(UserError, match="unknown drug"):
        service.predict(matrix.cell_lines[0], ["Aspirin"])


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no model at"):
        load_runtime(tmp_path / "model.onnx")


def test_missing_assets_are_named(tmp_path):
    with pytest.raises(UserError, match="cell_lines.parquet"):
        Catalog.load(tmp_path)


def test_conformal_coverage_is_measured(service):
    conformal = service.conformal
    assert conformal["nominal"] == 0.8
    assert 0.0 <= conformal["empirical_coverage"] <= 1.0
