"""Inference latency: the same trained weights through PyTorch eager and onnxruntime, whole predictions.

    python benchmarks/latency.py [--checkpoint checkpoints/gdsc2] [--model assets/model.onnx] [--data-dir DIR]

Each runtime is fed the same raw profiles and includes its preprocessing (PyTorch through the
training code's Preprocessor, onnxruntime through the baked graph). Batch sizes 1, 32 and 1,024 cell
lines (each prediction = all drugs), 1 and 2 threads; warm-up, then repetitions until at least
``--min-seconds`` and ``--min-reps``. Writes benchmarks/results/latency.json and latency.md.
Measures; never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from drugresponse.paths import default_data_dir
from drugresponse.train.bundle import MODALITIES, Bundle, bundle_dir
from drugresponse.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BATCHES = (1, 32, 1024)
THREADS = (1, 2)


def timed(fn, min_seconds: float, min_reps: int, warmup: int = 10) -> np.ndarray:
    for _ in range(warmup):
        fn()
    samples, start = [], time.perf_counter()
    while len(samples) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e3)
        if len(samples) >= 20000:
            break
    return np.array(samples)


def memory_bandwidth_gbs() -> float:
    """Copy bandwidth of this machine (read + write of a 256 MB buffer), median of 5."""
    a = np.ones(32 * 1024 * 1024, dtype=np.float64)
    b = np.empty_like(a)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / np.median(times) / 1e9


def session(model: Path, threads: int, provider: str = "CPUExecutionProvider") -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), options, providers=[provider])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "gdsc2")
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "model.onnx")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--min-reps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    bundle = Bundle.open(bundle_dir(args.data_dir))
    profiles = {m: bundle.profiles[m] for m in MODALITIES}
    n = len(profiles["expression"])
    model, _ = load_checkpoint(args.checkpoint)
    weights = onnx.load(str(args.model)).graph.initializer
    # float16 initializers are cast to float32 once at session start: a call reads the float32 copies
    touched = sum(int(np.prod(t.dims)) * 4 for t in weights if t.data_type in (onnx.TensorProto.FLOAT16,
                                                                                  onnx.TensorProto.FLOAT))
    bandwidth = memory_bandwidth_gbs()
    records = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        sess = session(args.model, threads)
        for batch in BATCHES:
            rows = np.arange(batch) % n
            feed = {m: np.ascontiguousarray(profiles[m][rows]) for m in MODALITIES}
            tensors = tuple(torch.from_numpy(feed[m]) for m in MODALITIES)

            def torch_call():
                with torch.inference_mode():
                    model(*tensors)

            runs = {"torch": timed(torch_call, args.min_seconds, args.min_reps),
                    "onnxruntime-fp32": timed(lambda: sess.run(None, feed), args.min_seconds, args.min_reps)}
            torch_p50 = float(np.median(runs["torch"]))
            for runtime, samples in runs.items():
                p50 = float(np.median(samples))
                records.append({"runtime": runtime, "batch": batch, "threads": threads, "p50_us": round(p50, 1),
                                "p99_us": round(float(np.percentile(samples, 99)), 1),
                                "per_second": round(batch / (p50 / 1e6), 1),
                                "ratio_vs_torch": round(torch_p50 / p50, 2), "repetitions": len(samples)})
                print(records[-1])
    gpu = "CUDAExecutionProvider" in ort.get_available_providers()
    payload = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": ort.__version__,
                    "memory_bandwidth_gb_s": round(bandwidth, 1)},
        "model_bytes": args.model.stat().st_size, "weight_bytes_per_call": touched,
        "memory_bound_floor_us": round(touched / (bandwidth * 1e9) * 1e6, 1),
        "gpu": "CUDA execution provider available" if gpu else "no GPU",
        "records": records,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = ["| runtime | batch | threads | p50 µs | p99 µs | predictions/s | speed-up vs torch |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['runtime']} | {r['batch']} | {r['threads']} | {r['p50_us']:,.1f} | {r['p99_us']:,.1f} | "
              f"{r['per_second']:,.0f} | {r['ratio_vs_torch']:.2f}x |" for r in records]
    lines += ["", f"Model file {payload['model_bytes'] / 1e6:.1f} MB; weights read per call "
              f"{touched / 1e6:.1f} MB; measured copy bandwidth {bandwidth:.1f} GB/s, so a call cannot take less "
              f"than ~{payload['memory_bound_floor_us']:.0f} µs unless the weights stay in cache. GPU: {payload['gpu']}."]
    (args.out / "latency.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
