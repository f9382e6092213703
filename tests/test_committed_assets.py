"""The model and assets committed in assets/: what a fresh clone, a Space and a wheel serve without training."""

import json

import numpy as np
import onnx
import pytest

from drugresponse.paths import ASSETS_DIR

pytestmark = pytest.mark.skipif(not (ASSETS_DIR / "model.onnx").is_file(), reason="no committed model")
MODALITIES = ("expression", "mutation", "copy_number", "drivers")


@pytest.fixture(scope="module")
def service():
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.service import PredictionService

    return PredictionService(load_runtime(ASSETS_DIR / "model.onnx", "cpu"), Catalog.load(ASSETS_DIR))


def test_every_asset_is_under_10_mb():
    for path in ASSETS_DIR.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 10 * 1024 * 1024, path


def test_sidecars_match_the_onnx_metadata():
    for name in ("model", "model_int8", "model_explain"):
        meta = {p.key: json.loads(p.value) for p in onnx.load(str(ASSETS_DIR / f"{name}.onnx")).metadata_props}
        sidecar = json.loads((ASSETS_DIR / f"{name}.json").read_text())
        assert {k: sidecar[k] for k in meta} == meta
        assert len(meta["genes"]) == 6163 and len(meta["drivers"]) == 678 and len(meta["drugs"]) >= 280


def test_the_inputs_the_readme_names_are_the_ones_that_change_the_output(service):
    """The README says: expression of 2,000 genes and driver events; mutation and copy number accepted, ignored."""
    runtime = service.runtime
    assert runtime.reads == {"expression": True, "mutation": False, "copy_number": False, "drivers": True}
    assert len(runtime.features_read["expression"]) == 2000
    profiles = {m: v[:20] for m, v in service.catalog.profiles.items()}
    base = runtime.predict(profiles)
    for modality in MODALITIES:
        unknown = dict(profiles, **{modality: np.full_like(profiles[modality], np.nan)})
        assert (np.abs(runtime.predict(unknown) - base).max() > 1e-3) == runtime.reads[modality], modality


def test_features_read_lists_exactly_the_driver_events_that_act(service):
    """Flipping an event the metadata lists as read changes some drug's prediction; flipping any other does not."""
    from drugresponse.driver_events import describe

    runtime = service.runtime
    names, read = runtime.driver_names, set(runtime.features_read["drivers"])
    profile = {m: v[:1] for m, v in service.catalog.profiles.items()}
    batch = {m: np.repeat(v, 2 * len(names), axis=0) for m, v in profile.items()}
    for j in range(len(names)):
        batch["drivers"][2 * j, j], batch["drivers"][2 * j + 1, j] = 0.0, 1.0
    out = runtime.predict(batch)
    acts = np.abs(out[1::2] - out[0::2]).max(axis=1) > 1e-4
    assert {n for n, a in zip(names, acts) if a} == read
    text = describe(sorted(read))  # what the app header and the model card say the model reads
    assert text.startswith(f"{len(read)} driver events") and ("MSI" in text) == ("MSI_FACTOR" in read)


def test_committed_app_predicts_every_cell_line(service):
    assert service.final.shape == (len(service.catalog.names()), len(service.drugs))
    assert np.isfinite(service.final).all()
    trained = set(service.runtime.metadata["trained_on"])
    held_out = ~np.isnan(service.held_out).all(axis=1)
    assert held_out.all()  # every listed line has an honest prediction: held out in LCO, or never trained on
    # every GDSC drug once: GDSC2's 286 and the 256 only GDSC1 screened, of 664 outputs (one per drug and screen)
    assert service.rank_drugs("A549").height == 542 and len(service.drugs) == 664
    assert len(trained) >= 900


def test_canonical_events_rank_among_the_top_contributions_for_carriers():
    """The biology check of the explanation graph (benchmarks/explain_check.py) on the committed files."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.explain_check import hit_rates

    rows = {r["drug"]: r for r in hit_rates(ASSETS_DIR)}
    for drug in ("Dabrafenib", "Lapatinib", "Nutlin-3a (-)", "Nilotinib"):
        assert rows[drug]["carrier_lines"] >= 5, drug
        assert rows[drug]["hit_rate"] > 0.5, rows[drug]


def test_the_compound_models_figures_are_the_committed_evaluations():
    """compound.json quotes the leave-drug-out results the benchmark wrote, not numbers typed by hand."""
    meta = json.loads((ASSETS_DIR / "compound.json").read_text())
    ldo = json.loads((ASSETS_DIR.parent / "benchmarks" / "results" / "GDSC2_ldo.json").read_text())
    assert meta["data_sha256"] == ldo["data_sha256"]
    for setting in ("single", "double"):
        assert meta["intervals"][setting]["q"] == ldo["intervals"][setting]["q"]
    quoted = {(r["setting"], r["model"]): r["rmse"] for r in meta["leave_drug_out"]["records"]}
    assert quoted == {(r["setting"], r["model"]): r["rmse"] for r in ldo["records"]}
    assert len(meta["known_drugs"]) == 228 and len(meta["anchors"]) == 286


def test_the_compound_model_reads_the_structure_and_the_lines(service):
    from drugresponse.serve.compounds import CompoundModel, CompoundService

    compounds = CompoundService(CompoundModel.load(ASSETS_DIR), service)
    _, imatinib, similarity = compounds.predict_lines("CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)"
                                                     "C5=CN=CC=C5")
    _, aspirin, _ = compounds.predict_lines("CC(=O)OC1=CC=CC=C1C(=O)O")
    assert imatinib.sort("cell_line")["predicted ln IC50 (ln µM)"].to_list() != \
        aspirin.sort("cell_line")["predicted ln IC50 (ln µM)"].to_list()
    # imatinib's targets: the BCR-ABL (CML) and KIT/PDGFRA-driven lines lead its ranking
    assert {"KU812", "LAMA-84", "EoL-1-cell"} <= set(imatinib["cell_line"].head(10).to_list())
    assert compounds.known[int(np.argmax(similarity))] == "Nilotinib"
    anchors = compounds.line_anchors[:5]
    fp = compounds.model.fingerprint(compounds.read("CC(=O)OC1=CC=CC=C1C(=O)O")[0])
    shifted = compounds.model.run(fp, anchors + 1.0)[0]
    assert not np.allclose(shifted, compounds.model.run(fp, anchors)[0])


def test_the_shipped_catalog_reads_the_corrected_fusion_labels_and_says_so(service):
    """K-562 is BCR-ABL-negative in GDSC's table; the shipped profiles carry the curated correction, the app says
    where the value comes from, and the model predicts it far more sensitive to nilotinib than without it."""
    catalog = service.catalog
    column = {e: i for i, e in enumerate(service.runtime.driver_names)}
    for line, event in (("K-562", "BCR-ABL_mut"), ("KCL-22", "BCR-ABL_mut"), ("JURL-MK1", "BCR-ABL_mut"),
                        ("SUP-B15", "BCR-ABL_mut"), ("TC-71", "EWSR1-FLI1_mut")):
        assert catalog.profiles["drivers"][catalog.row(line), column[event]] == 1, line
        assert "GDSC's table: not carried; source:" in catalog.curated_events(line)[event]
    row = catalog.row("K-562")
    profile = {m: v[row:row + 1].copy() for m, v in catalog.profiles.items()}
    nilotinib = int(service.drug_columns(["Nilotinib"])[0])
    corrected = service.runtime.predict(profile)[0, nilotinib]
    profile["drivers"][0, column["BCR-ABL_mut"]] = 0
    assert corrected < service.runtime.predict(profile)[0, nilotinib] - 1.0


def test_the_app_compares_the_recall_of_extremes_with_the_committed_benchmarks_references(service):
    """The Model tab's comparison with another measurement of the same pairs is the committed benchmark's, and the
    benchmark scored the same held-out predictions the app ships (its network recall on GDSC2 LCO is recomputable
    from them, and is the app's GDSC2 figure)."""
    import sys

    from .test_docs import ROOT

    sys.path.insert(0, str(ROOT))
    from benchmarks.exceptional_responders import recall
    from drugresponse.serve.conformal import references

    benchmark = json.loads((ROOT / "benchmarks" / "results" / "exceptional_responders.json").read_text())
    served = service.model_info()["exceptional_responders"]
    assert served["references"] == references(benchmark) != {}
    shipped = service.catalog.evaluation("lco_predictions.parquet")
    gdsc2 = shipped.filter(~shipped["drug"].str.ends_with("[GDSC1]"))
    quoted = next(r for r in benchmark["by_model"] if (r["split"], r["screen"], r["model"]) == ("lco", "GDSC2", "mlp_ensemble"))
    assert recall(gdsc2, "predicted", "measured")["recall"] == pytest.approx(quoted["recall"], abs=1e-9)
    assert served["by_screen"]["GDSC2"]["recall"] == pytest.approx(quoted["recall"], abs=1e-9)
