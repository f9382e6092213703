"""The whole export step: app assets, the checked ONNX file with its sidecar, and the model card."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError
from drugresponse.train.bundle import Bundle
from drugresponse.train.checkpoint import load_checkpoint

from .model_card import write_model_card
from .onnx_export import export_model, int8_path
from .serving_assets import write_serving_assets


def export_all(bundle: Bundle, checkpoint: Path, out: Path, results: Path) -> dict:
    """Write ``out`` (the ONNX model), ``out.json`` and every asset the app reads beside it."""
    _, info = load_checkpoint(checkpoint)
    if info["data_sha256"] != bundle.manifest["content_sha256"]:
        raise UserError(f"the checkpoint was trained on bundle {info['data_sha256'][:12]}… but the bundle at "
                        f"{bundle.path} is {bundle.manifest['content_sha256'][:12]}…; retrain, or point --data-dir "
                        f"at the bundle it was trained on.")
    assets = Path(out).parent
    summary = write_serving_assets(bundle, info["dataset"], info["drugs"], Path(results), Path(checkpoint), assets)
    metrics = {split: {"model": records.get("mlp_ensemble"),
                       "baselines": {name: r for name, r in records.items() if r["baseline"]}}
               for split, records in summary.items() if isinstance(records, dict)}
    metrics["conformal_coverage"] = summary.get("conformal_coverage")
    report = export_model(Path(checkpoint), Path(out), bundle.profiles, metrics)
    write_model_card(Path(out).with_suffix(".json"), summary, assets / "MODEL_CARD.md",
                     int8_path(out).with_suffix(".json"), Path(results) / "int8_accuracy.json")
    return report
