"""What int8 weights cost in accuracy, on cell lines the model has never seen (LCO folds).

    python benchmarks/int8_accuracy.py [--data-dir DIR] [--folds 0 1 2 3 4]

For each saved seed-0 LCO fold (benchmarks/results/folds/), the neural model is trained exactly as
``drugresponse evaluate`` trains it (same predictor, same seed), then the held-out cell lines' raw
profiles are predicted three ways: PyTorch, the float32 ONNX graph the export ships, and its int8
variant (``export/quantize.py``). The PyTorch predictions are checked against the committed
out-of-fold file (BOTH_lco_predictions.parquet: the shipped recipe learns both screens) so the comparison is of the
evaluated models.
Writes benchmarks/results/int8_accuracy.json and int8_accuracy.md. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl
import torch
from machine import describe, write_outputs  # benchmarks/machine.py, beside this script

from drugresponse.errors import UserError
from drugresponse.export.fused import FusedModel
from drugresponse.export.graph import export_graph
from drugresponse.export.quantize import write_int8_graph
from drugresponse.paths import default_data_dir
from drugresponse.train.data.bundle import MODALITIES, Bundle, bundle_dir, is_valid_bundle
from drugresponse.train.data.response_matrix import load_matrix
from drugresponse.train.data.splits import load_folds, train_mask
from drugresponse.train.evaluation import metrics
from drugresponse.train.evaluation.ray_tasks import set_threads
from drugresponse.train.evaluation.registry import make_predictor

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATASET, SPLIT, SEED, MODEL = "BOTH", "lco", 0, "mlp_ensemble"  # the shipped recipe: both screens
KEYS = ("rmse", "mae", "r2", "pearson", "per_drug_pearson", "per_drug_spearman")


def _onnx_predict(path: Path, profiles: dict[str, np.ndarray]) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {m: np.ascontiguousarray(profiles[m]) for m in MODALITIES})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    set_threads(1)  # as the evaluation runs every fit, so the fold models are the evaluated ones

    folds_file = RESULTS / "folds" / f"{DATASET}_{SPLIT}_seed{SEED}.parquet"
    oof_file = RESULTS / f"{DATASET}_{SPLIT}_predictions.parquet"
    for path in (folds_file, oof_file):
        if not path.is_file():
            raise UserError(f"{path} is missing: this benchmark compares with the committed evaluation; run "
                            f"`drugresponse evaluate --dataset both --split {SPLIT} --models {MODEL}` first.")
    if not is_valid_bundle(bundle_dir(args.data_dir)):
        raise UserError(f"no valid data bundle in {args.data_dir}; build it with `drugresponse data build`.")
    matrix = load_matrix(Bundle.open(bundle_dir(args.data_dir)), DATASET)
    folds = load_folds(matrix, folds_file)
    committed = (pl.read_parquet(oof_file)
                 .filter(pl.col("model") == MODEL).select("cell_line", "drug", "predicted"))
    runs = {name: np.full(matrix.ln_ic50.shape, np.nan, dtype=np.float32) for name in ("torch", "fp32", "int8")}
    per_fold, start = [], time.perf_counter()
    for fold in args.folds:
        test = folds == fold
        predictor = make_predictor(MODEL, "full").fit(matrix, train_mask(folds, fold), SPLIT, SEED * 100 + fold)
        rows = np.nonzero(test.any(axis=1))[0]
        held_out = {m: matrix.profiles[m][rows] for m in MODALITIES}
        model = predictor.model_.eval()
        with tempfile.TemporaryDirectory() as tmp:
            fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            export_graph(FusedModel(model).eval(), held_out, fp32)
            write_int8_graph(model, held_out, int8)
            predicted = {"torch": predictor.predict(matrix, rows), "fp32": _onnx_predict(fp32, held_out),
                         "int8": _onnx_predict(int8, held_out)}
        for name, values in predicted.items():
            runs[name][rows] = np.where(test[rows], values, np.nan)
        r, c = np.nonzero(test)
        diff = predicted["int8"] - predicted["torch"]
        per_fold.append({"fold": fold, "max_abs_int8_vs_torch": float(np.abs(diff).max()),
                         "rms_int8_vs_torch": float(np.sqrt(np.mean(diff ** 2))),
                         **{f"{name}_{k}": metrics.summary(c, matrix.ln_ic50[r, c], runs[name][r, c])[k]
                            for name in runs for k in ("rmse", "per_drug_pearson")}})
        print(per_fold[-1], file=sys.stderr)

    evaluated = np.isin(folds, args.folds)
    r, c = np.nonzero(evaluated)
    ours = pl.DataFrame({"cell_line": np.array(matrix.cell_lines)[r], "drug": np.array(matrix.drugs)[c],
                         "torch": runs["torch"][r, c]}).join(committed, on=["cell_line", "drug"], how="left")
    reproduced = float((ours["torch"] - ours["predicted"]).abs().max())
    summary = {name: {k: metrics.summary(c, matrix.ln_ic50[r, c], runs[name][r, c])[k] for k in KEYS} for name in runs}
    diff = runs["int8"][r, c] - runs["torch"][r, c]
    machine = describe(torch=torch.__version__, onnxruntime=ort.__version__)
    payload = {
        "dataset": DATASET, "split": SPLIT, "seed": SEED, "folds": args.folds, "pairs": int(len(r)),
        "data_sha256": matrix.data_sha256, "max_abs_diff_vs_committed_oof": reproduced,
        "int8_vs_torch": {"max_abs": float(np.abs(diff).max()), "rms": float(np.sqrt(np.mean(diff ** 2))),
                          "mean": float(diff.mean())},
        "metrics": summary, "per_fold": per_fold, "seconds": round(time.perf_counter() - start, 1),
        "machine": machine,
    }
    label = {"torch": "PyTorch (as evaluated)", "fp32": "ONNX float32 (shipped graph)", "int8": "ONNX int8"}
    lines = ["| predictions | RMSE | MAE | R² | Pearson | per-drug Pearson | per-drug Spearman |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {label[n]} | " + " | ".join(f"{summary[n][k]:.4f}" for k in KEYS) + " |" for n in runs]
    lines += ["", f"{DATASET}, {SPLIT.upper()} folds {', '.join(map(str, args.folds))} (seed {SEED}), "
              f"{len(r):,} held-out pairs. int8 minus PyTorch: RMS {payload['int8_vs_torch']['rms']:.4f}, "
              f"max |·| {payload['int8_vs_torch']['max_abs']:.3f} ln µM. PyTorch predictions reproduce the committed "
              f"evaluation to {reproduced:.1e} ln µM. Bundle {matrix.data_sha256[:12]}…; {machine['cpu']}, "
              f"{machine['cores']} cores; torch {machine['torch']}, onnxruntime {machine['onnxruntime']}."]
    write_outputs(args.out, "int8_accuracy", payload, "\n".join(lines) + "\n", indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    try:
        main()
    except (UserError, FileNotFoundError) as exc:  # a missing bundle, checkpoint or model: say so, no traceback
        raise SystemExit(f"error: {exc}") from None
