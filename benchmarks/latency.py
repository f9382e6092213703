"""Inference latency: the same trained weights through PyTorch eager and onnxruntime, whole predictions.

    python benchmarks/latency.py [--checkpoint checkpoints/both] [--model assets/model.onnx] [--data-dir DIR]

Each runtime is fed the same raw profiles and includes its preprocessing (PyTorch through the
training code's modules, onnxruntime through the baked graph): PyTorch eager, onnxruntime with the
float32 model and with its int8 variant (``model_int8.onnx`` beside ``--model``), each opened the way
the app opens it (``serve.runtime.load_runtime``: ORT_ENABLE_ALL, intra-op threads as measured,
one inter-op thread, CPU provider). Batch sizes 1, 32 and 1,024 cell lines (each prediction = all
drugs), 1 and 2 threads, and the explanation graph (``model_explain.onnx``: one sample's contributions to
one drug) at batch 1 beside them; warm-up, then repetitions until at least ``--min-seconds`` and
``--min-reps``, interleaved so that machine noise hits every runtime alike. Then onnxruntime's
profiler splits a batch-1, one-thread call into its nodes (latency_profile.md). With a CUDA
provider, the onnxruntime rows are repeated on the GPU; without one the output says "no GPU".
Writes benchmarks/results/latency.json, latency.md and latency_profile.md. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from machine import describe, write_outputs  # benchmarks/machine.py, beside this script

from drugresponse.atomic_files import write_text_atomic
from drugresponse.errors import UserError
from drugresponse.export.onnx_export import explain_path, int8_path
from drugresponse.paths import default_data_dir
from drugresponse.serve.runtime import load_runtime, session_options
from drugresponse.train.data.bundle import MODALITIES, Bundle, bundle_dir, is_valid_bundle
from drugresponse.train.model.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BATCHES = (1, 32, 1024)
THREADS = (1, 2)


def timed(fns: dict, min_seconds: float, min_reps: int, rounds: int = 10, warmup: int = 10) -> dict:
    """Call samples in µs for each function, measured in interleaved rounds so noise hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start, reps = time.perf_counter(), 0
            while reps < -(-min_reps // rounds) or time.perf_counter() - start < min_seconds / rounds:
                t0 = time.perf_counter_ns()
                fn()
                samples[name].append((time.perf_counter_ns() - t0) / 1e3)
                reps += 1
                if reps >= 2000:
                    break
    return {name: np.array(values) for name, values in samples.items()}


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


def weight_bytes_per_call(model: Path) -> int:
    """Bytes of weights one call reads: float16 initializers are widened to float32 once at session start."""
    size = {onnx.TensorProto.FLOAT16: 4, onnx.TensorProto.FLOAT: 4, onnx.TensorProto.INT8: 1,
            onnx.TensorProto.UINT8: 1, onnx.TensorProto.INT64: 8}
    return sum(int(np.prod(t.dims)) * size.get(t.data_type, 4) for t in onnx.load(str(model)).graph.initializer)


def node_profile(model: Path, feed: dict, runs: int = 2000) -> list[dict]:
    """onnxruntime's profiler on ``runs`` batch-1 one-thread calls: mean µs per call for each op type."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        for _ in range(runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op, nodes = collections.Counter(), collections.defaultdict(set)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
            nodes[event["args"]["op_name"]].add(event["name"])
    total = sum(per_op.values())
    return [{"op": op, "nodes": len(nodes[op]), "us_per_call": round(us / runs, 1), "share": round(us / total, 3)}
            for op, us in per_op.most_common()]


def _record(runtime: str, provider: str, batch: int, threads: int, samples: np.ndarray, torch_p50: float | None):
    p50 = float(np.median(samples))
    return {"runtime": runtime, "provider": provider, "batch": batch, "threads": threads, "p50_us": round(p50, 1),
            "p99_us": round(float(np.percentile(samples, 99)), 1), "per_second": round(batch / (p50 / 1e6), 1),
            "ratio_vs_torch": round(torch_p50 / p50, 2) if torch_p50 else None, "repetitions": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "both")
    parser.add_argument("--model", type=Path, default=ROOT / "assets" / "model.onnx")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--min-reps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    if not is_valid_bundle(bundle_dir(args.data_dir)):
        raise UserError(f"no valid data bundle in {args.data_dir}; build it with `drugresponse data build`.")
    bundle = Bundle.open(bundle_dir(args.data_dir))
    profiles = {m: bundle.profiles[m] for m in MODALITIES}
    n = len(profiles["expression"])
    model, _ = load_checkpoint(args.checkpoint)
    models = {"onnxruntime-fp32": args.model, "onnxruntime-int8": int8_path(args.model)}
    for path in models.values():
        if not path.is_file():
            raise UserError(f"no model at {path}; `drugresponse export` writes both files.")
    explainer = explain_path(args.model)
    if not explainer.is_file():
        raise UserError(f"no explanation graph at {explainer}; `drugresponse export` writes it.")
    touched = {name: weight_bytes_per_call(path) for name, path in models.items()}
    bandwidth = memory_bandwidth_gbs()
    records = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        sessions = {name: load_runtime(path, "cpu", threads).session for name, path in models.items()}
        explain_session = ort.InferenceSession(str(explainer), session_options(threads),
                                               providers=["CPUExecutionProvider"])
        for batch in BATCHES:
            rows = np.arange(batch) % n
            feed = {m: np.ascontiguousarray(profiles[m][rows]) for m in MODALITIES}
            tensors = tuple(torch.from_numpy(feed[m]) for m in MODALITIES)

            def torch_call():
                with torch.inference_mode():
                    model(*tensors)

            calls = {"torch": torch_call}
            calls.update({name: (lambda s=s: s.run(None, feed)) for name, s in sessions.items()})
            if batch == 1:
                explain_feed = {**feed, "drug": np.zeros(1, dtype=np.int64)}
                calls["onnxruntime-explain (one drug)"] = lambda: explain_session.run(None, explain_feed)
            runs = timed(calls, args.min_seconds, args.min_reps)
            torch_p50 = float(np.median(runs["torch"]))
            for runtime, samples in runs.items():
                provider = "PyTorch eager" if runtime == "torch" else "CPUExecutionProvider"
                records.append(_record(runtime, provider, batch, threads, samples, torch_p50))
                print(records[-1])
    gpu_records = []
    if "CUDAExecutionProvider" in ort.get_available_providers():
        sessions = {name: load_runtime(path, "cuda").session for name, path in models.items()}
        for batch in BATCHES:
            feed = {m: np.ascontiguousarray(profiles[m][np.arange(batch) % n]) for m in MODALITIES}
            runs = timed({name: (lambda s=s: s.run(None, feed)) for name, s in sessions.items()},
                         args.min_seconds, args.min_reps)
            gpu_records += [_record(name, sessions[name].get_providers()[0], batch, 1, samples, None)
                            for name, samples in runs.items()]
    one = {m: np.ascontiguousarray(profiles[m][:1]) for m in MODALITIES}
    profile = {name: node_profile(path, one) for name, path in models.items()}
    payload = {
        "machine": describe(torch=torch.__version__, onnxruntime=ort.__version__,
                            memory_bandwidth_gb_s=round(bandwidth, 1)),
        "date": time.strftime("%Y-%m-%d"),
        "model_bytes": {name: path.stat().st_size for name, path in models.items()},
        "weight_bytes_per_call": touched,
        "memory_bound_floor_us": {name: round(b / (bandwidth * 1e9) * 1e6, 1) for name, b in touched.items()},
        "gpu": "CUDA execution provider" if gpu_records else "no GPU",
        "records": records, "gpu_records": gpu_records, "batch1_profile": profile,
    }
    write_outputs(args.out, "latency", payload, _latency_table(payload), indent=2)
    write_text_atomic(args.out / "latency_profile.md", _profile_table(payload))


def _latency_table(payload: dict) -> str:
    lines = ["| runtime | batch | threads | p50 µs | p99 µs | predictions/s | speed-up vs torch |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['runtime']} | {r['batch']} | {r['threads']} | {r['p50_us']:,.1f} | {r['p99_us']:,.1f} | "
              f"{r['per_second']:,.0f} | {r['ratio_vs_torch']:.2f}x |" for r in payload["records"]]
    by = {(r["runtime"], r["batch"], r["threads"]): r["p50_us"] for r in payload["records"]}
    for threads in sorted({r["threads"] for r in payload["records"]}):
        explain, predict = by.get(("onnxruntime-explain (one drug)", 1, threads)), by.get(("onnxruntime-fp32", 1, threads))
        if explain and predict:
            lines.append(f"\nExplaining one sample for one drug, batch 1, {threads} thread(s): {explain:,.0f} µs p50, "
                         f"{explain / predict:.1f}x the float32 prediction of all drugs ({predict:,.0f} µs).")
    machine, size, touched = payload["machine"], payload["model_bytes"], payload["weight_bytes_per_call"]
    lines += ["", f"{machine['cpu']}, {machine['cores']} cores, {payload['date']}; Python {machine['python']}, "
              f"torch {machine['torch']}, onnxruntime {machine['onnxruntime']}. Model files: float32 "
              f"{size['onnxruntime-fp32'] / 1e6:.1f} MB, int8 {size['onnxruntime-int8'] / 1e6:.1f} MB; weights read "
              f"per call {touched['onnxruntime-fp32'] / 1e6:.1f} MB (float32) and {touched['onnxruntime-int8'] / 1e6:.1f} "
              f"MB (int8). Measured copy bandwidth {machine['memory_bandwidth_gb_s']:.1f} GB/s, so from main memory a "
              f"call could not beat ~{payload['memory_bound_floor_us']['onnxruntime-fp32']:.0f} µs (float32) or "
              f"~{payload['memory_bound_floor_us']['onnxruntime-int8']:.0f} µs (int8)" + _cache_sentence(payload)]
    if payload["gpu_records"]:
        lines += ["", "| runtime (GPU) | provider | batch | p50 µs | p99 µs | predictions/s |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['runtime']} | {r['provider']} | {r['batch']} | {r['p50_us']:,.1f} | {r['p99_us']:,.1f} | "
                  f"{r['per_second']:,.0f} |" for r in payload["gpu_records"]]
    else:
        lines += ["", "GPU: no GPU on this machine, so no GPU figures."]
    return "\n".join(lines) + "\n"


def _cache_sentence(payload: dict) -> str:
    """Why batch 1 can beat the memory-bound floor, said only when this machine's L3 cache holds the weights."""
    l3, weights = payload["machine"].get("l3_cache_bytes"), payload["weight_bytes_per_call"]["onnxruntime-fp32"]
    if l3 and weights < l3:
        return (f"; the weights fit in this machine's {l3 / (1 << 20):.0f} MB L3 cache and stay there between calls, "
                "which is why batch 1 can run faster than that.")
    return "."


def _profile_table(payload: dict) -> str:
    lines = ["| model | op type | nodes | µs per call (profiled) | share |", "|---|---|---|---|---|"]
    for name, rows in payload["batch1_profile"].items():
        lines += [f"| {name} | {r['op']} | {r['nodes']} | {r['us_per_call']:.1f} | {r['share']:.0%} |" for r in rows[:6]]
        rest = rows[6:]
        lines.append(f"| {name} | {len(rest)} other op types | {sum(r['nodes'] for r in rest)} | "
                     f"{sum(r['us_per_call'] for r in rest):.1f} | {sum(r['share'] for r in rest):.0%} |")
    lines += ["", "onnxruntime's profiler, batch 1, one thread, after graph optimisation (ORT_ENABLE_ALL). The "
              "profiler adds a few µs to every node, so read the shares, not the sum."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        main()
    except (UserError, FileNotFoundError) as exc:  # a missing bundle, checkpoint or model: say so, no traceback
        raise SystemExit(f"error: {exc}") from None
