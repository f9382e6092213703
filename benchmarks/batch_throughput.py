"""Throughput of ``drugresponse predict`` on a 10,000-sample cohort against bare onnxruntime on the same arrays.

    python benchmarks/batch_throughput.py [--samples 10000] [--model assets/model.onnx]

The cohort is cut from real GDSC profiles (the committed catalog's lines, drawn with replacement and renamed),
written as a wide parquet file with each sample's expression and driver events (what a cohort export holds).
Three timings in one run, each the median of ``--repeats``: bare onnxruntime on the arrays already in memory
(same session options, same chunk size), ``predict_file`` end to end (read parquet, validate as the app does,
predict, write the parquet output), and the same with the output written as CSV. Writes
``batch_throughput.json`` and ``batch_throughput.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402


def cohort(catalog, runtime, n: int, path: Path) -> dict:
    rng = np.random.default_rng(0)
    rows = rng.integers(0, catalog.cell_lines.height, size=n)
    expression = catalog.profiles["expression"][rows]
    drivers = catalog.profiles["drivers"][rows]
    columns = {"sample": [f"sample_{i:05d}" for i in range(n)]}
    columns.update({f"expression:{g}": expression[:, j] for j, g in enumerate(runtime.genes)})
    columns.update({f"driver:{e}": drivers[:, j] for j, e in enumerate(runtime.driver_names)})
    pl.DataFrame(columns).write_parquet(path, compression="zstd")
    return {"expression": expression, "drivers": drivers}


def read_features_only(runtime, arrays: dict, folder: Path) -> dict[str, Path]:
    """The same samples restricted to the features the model reads, in the wide and in the long layout (parquet): the
    long layout of every feature would be 68 million rows."""
    read = runtime.features_read
    genes = [runtime.genes.index(g) for g in read["expression"]]
    events = [runtime.driver_names.index(e) for e in read["drivers"]]
    names = [f"sample_{i:05d}" for i in range(len(arrays["expression"]))]
    wide = {"sample": names, **{f"expression:{runtime.genes[j]}": arrays["expression"][:, j] for j in genes},
            **{f"driver:{runtime.driver_names[j]}": arrays["drivers"][:, j] for j in events}}
    paths = {"wide": folder / "read_wide.parquet", "long": folder / "read_long.parquet"}
    pl.DataFrame(wide).write_parquet(paths["wide"], compression="zstd")
    features = [runtime.genes[j] for j in genes] + [runtime.driver_names[j] for j in events]
    modality = ["expression"] * len(genes) + ["driver"] * len(events)
    values = np.hstack([arrays["expression"][:, genes], arrays["drivers"][:, events]])
    long = pl.DataFrame({"sample": np.repeat(names, len(features)), "gene": np.tile(features, len(names)),
                         "modality": np.tile(modality, len(names)), "value": values.ravel()})
    long.with_columns(pl.col("sample", "gene", "modality").cast(pl.Categorical)).write_parquet(paths["long"],
                                                                                              compression="zstd")
    return paths


def bare(runtime, arrays: dict, chunk: int) -> None:
    n = len(arrays["expression"])
    for start in range(0, n, chunk):
        runtime.predict({m: v[start:start + chunk] for m, v in arrays.items()})


def main() -> None:
    from drugresponse.paths import ASSETS_DIR
    from drugresponse.serve.batch import CHUNK, predict_file
    from drugresponse.serve.calibration import Calibration
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.runtime import load_runtime

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--model", type=Path, default=ASSETS_DIR / "model.onnx")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--provider", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    runtime = load_runtime(args.model, args.provider, threads=0)
    catalog = Catalog.load(args.model.parent)
    calibration = Calibration.load(args.model.parent / "evaluation", runtime.drugs)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "cohort.parquet"
        arrays = cohort(catalog, runtime, args.samples, source)
        size = source.stat().st_size
        layouts = read_features_only(runtime, arrays, Path(tmp))
        timings = {"bare onnxruntime (arrays in memory)": [], "drugresponse predict -> parquet": [],
                   "drugresponse predict -> csv": [], "read features only, wide layout -> parquet": [],
                   "read features only, long layout -> parquet": []}
        stages = {}
        for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits every row alike
            start = time.perf_counter()
            bare(runtime, arrays, CHUNK)
            timings["bare onnxruntime (arrays in memory)"].append(time.perf_counter() - start)
            for suffix in ("parquet", "csv"):
                start = time.perf_counter()
                report = predict_file(runtime, calibration, source, Path(tmp) / f"out.{suffix}", CHUNK, progress=False)
                timings[f"drugresponse predict -> {suffix}"].append(time.perf_counter() - start)
                stages.setdefault(suffix, []).append(report["seconds"])
            for layout, path in layouts.items():
                start = time.perf_counter()
                predict_file(runtime, calibration, path, Path(tmp) / "out_read.parquet", CHUNK, progress=False)
                timings[f"read features only, {layout} layout -> parquet"].append(time.perf_counter() - start)
    base = statistics.median(timings["bare onnxruntime (arrays in memory)"])
    rows = [{"path": name, "seconds": statistics.median(t), "profiles_per_second": args.samples / statistics.median(t),
             "ratio_to_bare": statistics.median(t) / base} for name, t in timings.items()]
    breakdown = {suffix: {stage: statistics.median(run[stage] for run in runs) for stage in runs[0]}
                 for suffix, runs in stages.items()}
    meta = {"stage_seconds": breakdown, "samples": args.samples, "drugs": len(runtime.drugs), "model": args.model.name, "input_bytes": size,
            "chunk": CHUNK, "provider": runtime.provider, "repeats": args.repeats,
            "machine": describe(onnxruntime=__import__("onnxruntime").__version__, polars=pl.__version__)}
    payload = {**meta, "rows": rows}
    lines = ["| path | seconds (median) | profiles/s | time vs bare onnxruntime |", "|---|---|---|---|"]
    lines += [f"| {r['path']} | {r['seconds']:.2f} | {r['profiles_per_second']:,.0f} | {r['ratio_to_bare']:.2f}x |"
              for r in rows]
    lines += ["", "Where `drugresponse predict` spends its time (median seconds): " + "; ".join(
        f"-> {suffix}: " + ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in parts.items())
        for suffix, parts in breakdown.items()) + " (read: decode the input, lay it out and run the app's checks, on a "
        "second thread, one chunk ahead; predict: onnxruntime, percentiles and intervals; write: the output file; "
        "the stages overlap, so their sum exceeds the total)."]
    m = meta["machine"]
    long_ratio = statistics.median(timings["read features only, long layout -> parquet"]) / statistics.median(
        timings["read features only, wide layout -> parquet"])
    lines += ["", f"The long layout (one row per sample and feature, read in one pass) takes {long_ratio:.2f}x the time "
              "of the wide layout of the same samples and features."]
    lines += ["", f"{args.samples:,} profiles cut from real GDSC lines (expression and driver events, wide parquet, "
              f"{size / 1e6:.0f} MB; the last two rows: the same samples restricted to the features the model reads, "
              f"{len(runtime.features_read['expression']):,} genes and {len(runtime.features_read['drivers'])} events), "
              f"{len(runtime.drugs)} drugs each, `{args.model.name}`, {runtime.provider}, chunks of "
              f"{CHUNK}, all cores; median of {args.repeats} interleaved runs. {m['cpu']}, {m['cores']} cores; Python "
              f"{m['python']}, onnxruntime {m['onnxruntime']}, polars {m['polars']}.", ""]
    write_outputs(args.out, "batch_throughput", payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
