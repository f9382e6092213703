"""The model and assets committed in assets/: what a fresh clone serves without training."""

import json

import numpy as np
import onnx
import pytest

from drugresponse.paths import ASSETS_DIR

pytestmark = pytest.mark.skipif(not (ASSETS_DIR / "model.onnx").is_file(), reason="no committed model")


def test_every_asset_is_under_10_mb():
    for path in ASSETS_DIR.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 10 * 1024 * 1024, path


def test_sidecar_matches_the_onnx_metadata():
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(ASSETS_DIR / "model.onnx")).metadata_props}
    sidecar = json.loads((ASSETS_DIR / "model.json").read_text())
    assert {k: sidecar[k] for k in meta} == meta
    assert len(meta["genes"]) == 6163 and len(meta["drugs"]) >= 280


def test_committed_app_predicts_every_cell_line():
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.service import PredictionService

    service = PredictionService(load_runtime(ASSETS_DIR / "model.onnx", "cpu"), Catalog.load(ASSETS_DIR))
    assert service.reference.shape == (len(service.catalog.names()), len(service.drugs))
    assert np.isfinite(service.reference).all()
    ranking = service.rank_drugs("A549")
    assert ranking.height == len(service.drugs)
