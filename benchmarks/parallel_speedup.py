"""What Ray buys and costs: a 5-fold LCO evaluation serially and on 2 local workers, and one fold with and without Ray.

    python benchmarks/parallel_speedup.py [--data-dir DIR] [--models ridge_per_drug mlp_ensemble]

In one run on this machine: (1) ``evaluate`` with ``workers=0`` and with ``workers=2`` on the same saved folds,
wall-clock time each, and whether the records and out-of-fold predictions are identical; (2) fold 0 of the network
fitted directly (``fit_fold``) and as one Ray task (``run_tasks`` with one worker, Ray's start-up included). One
torch thread per fit in every path. Writes ``parallel_speedup.json`` and ``parallel_speedup.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402


def main() -> None:
    import numpy as np

    from drugresponse.paths import default_data_dir
    from drugresponse.train.data.bundle import Bundle, bundle_dir
    from drugresponse.train.data.response_matrix import load_matrix
    from drugresponse.train.data.splits import load_folds
    from drugresponse.train.evaluation.cross_validation import EvaluationConfig, evaluate, fit_fold
    from drugresponse.train.evaluation.ray_tasks import run_tasks

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--models", nargs="+", default=["ridge_per_drug", "mlp_ensemble"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    matrix = load_matrix(Bundle.open(bundle_dir(args.data_dir)), "GDSC2")
    folds_file = args.out / "folds" / "GDSC2_lco_seed0.parquet"
    config = EvaluationConfig(split="lco", models=tuple(args.models))
    timings, outputs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, workers in (("serial", 0), ("Ray, 2 local workers", 2)):
            out = Path(tmp) / str(workers)
            (out / "folds").mkdir(parents=True)
            (out / "folds" / folds_file.name).write_bytes(folds_file.read_bytes())  # the saved folds
            start = time.perf_counter()
            records = evaluate(matrix, replace(config, workers=workers), out)
            timings[label] = time.perf_counter() - start
            outputs[label] = ([{k: v for k, v in r.items() if k != "seconds"} for r in records],
                              (out / "GDSC2_lco_predictions.parquet").read_bytes())
    identical = outputs["serial"] == outputs["Ray, 2 local workers"]
    folds = load_folds(matrix, folds_file)
    task = ("mlp_ensemble", "full", "lco", 0, 1, 0, None)
    start = time.perf_counter()
    direct = fit_fold(matrix, folds, *task)
    single = {"direct": time.perf_counter() - start}
    start = time.perf_counter()
    on_ray = run_tasks(fit_fold, [task], workers=1, shared={"matrix": matrix, "folds": folds})[0]
    single["Ray, 1 worker"] = time.perf_counter() - start
    same_fold = bool(np.array_equal(direct["predictions"]["mlp_ensemble"], on_ray["predictions"]["mlp_ensemble"]))
    payload = {"models": args.models, "evaluation_seconds": timings,
               "speedup": timings["serial"] / timings["Ray, 2 local workers"], "identical_results": identical,
               "single_fold_seconds": single, "ray_overhead": single["Ray, 1 worker"] / single["direct"] - 1,
               "single_fold_identical": same_fold, "machine": describe()}
    m = payload["machine"]
    lines = ["| run | wall-clock s | |", "|---|---|---|",
             f"| 5-fold LCO ({', '.join(args.models)}), serial | {timings['serial']:.0f} | |",
             f"| same, Ray on 2 local workers | {timings['Ray, 2 local workers']:.0f} | {payload['speedup']:.2f}x faster; "
             f"results {'identical' if identical else 'DIFFERENT'} |",
             f"| LCO fold 0, mlp_ensemble, fitted directly | {single['direct']:.0f} | |",
             f"| same, one Ray task (start-up included) | {single['Ray, 1 worker']:.0f} | "
             f"{payload['ray_overhead']:+.1%}; predictions {'identical' if same_fold else 'DIFFERENT'} |",
             "", f"One torch thread per fit; {m['cpu']}, {m['cores']} cores, nothing else running.", ""]
    write_outputs(args.out, "parallel_speedup", payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
