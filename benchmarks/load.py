"""The app under load: the real app and a bare Gradio app (the floor) driven the same way, in one run.

    python benchmarks/load.py [--requests 48]

Launches each app on a free loopback port, drives it with gradio_client from 1, 4 and 16 concurrent
clients for a bounded number of requests (mixed /predict, /rank_drugs, /predict_profile on the real
app; a do-nothing endpoint on the floor app), records p50/p99 latency, requests per second, errors and
the server's resident memory before and after, then stops by itself. Writes
benchmarks/results/load.json and load.md. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from drugresponse.paths import ASSETS_DIR  # noqa: E402
from drugresponse.serve.app import create, launch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CLIENTS = (1, 4, 16)
EXAMPLE = ROOT / "examples" / "profile_long.csv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_app() -> gr.Blocks:
    with gr.Blocks() as app:
        box = gr.Textbox()
        box.change(lambda x: x, box, box, api_name="noop")
    app.queue(default_concurrency_limit=4)
    return app


def drive(url: str, calls: list[tuple], clients: int) -> tuple[list[float], int, float]:
    """Run ``calls`` (endpoint, args) from ``clients`` threads, one gradio_client each."""
    pool = [Client(url, verbose=False) for _ in range(clients)]
    latencies, errors = [], 0

    def one(i):
        endpoint, args = calls[i]
        start = time.perf_counter()
        pool[i % clients].predict(*args, api_name=endpoint)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        for future in [executor.submit(one, i) for i in range(len(calls))]:
            try:
                latencies.append(future.result() * 1000)
            except Exception:  # an error is a result here: counted, not raised
                errors += 1
    return latencies, errors, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=48, help="requests per endpoint and client count")
    args = parser.parse_args()
    floor, floor_port = floor_app(), free_port()
    floor.launch(server_name="127.0.0.1", server_port=floor_port, prevent_thread_lock=True, quiet=True)
    app, port = create(ASSETS_DIR, provider="cpu"), free_port()
    launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    url, floor_url = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{floor_port}/"
    cell_lines = ["A549", "MCF7", "HT-29", "PC-14"]
    endpoints = {
        "/predict": lambda i: (cell_lines[i % 4], ["Cisplatin", "Docetaxel"]),
        "/rank_drugs": lambda i: (cell_lines[i % 4],),
        "/predict_profile": lambda i: (handle_file(str(EXAMPLE)),),
    }
    memory_before = rss_mb()
    records = []
    for clients in CLIENTS:
        floor_lat, _, _ = drive(floor_url, [("/noop", (f"x{i}",)) for i in range(args.requests)], clients)
        floor_p50 = float(np.median(floor_lat))
        for endpoint, make in endpoints.items():
            n = args.requests if endpoint != "/predict_profile" else max(clients, args.requests // 4)
            latencies, errors, seconds = drive(url, [(endpoint, make(i)) for i in range(n)], clients)
            records.append({"clients": clients, "endpoint": endpoint, "requests": n,
                            "p50_ms": round(float(np.median(latencies)), 1) if latencies else None,
                            "p99_ms": round(float(np.percentile(latencies, 99)), 1) if latencies else None,
                            "rps": round(len(latencies) / seconds, 1), "errors": errors,
                            "floor_p50_ms": round(floor_p50, 1)})
            print(records[-1], flush=True)
    memory_after = rss_mb()
    app.close()
    floor.close()
    payload = {"cores": os.cpu_count(), "server_rss_mb_before": round(memory_before, 1),
               "server_rss_mb_after": round(memory_after, 1), "records": records}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = ["| clients | endpoint | requests | p50 ms | p99 ms | requests/s | errors | floor p50 ms |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clients']} | {r['endpoint']} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['rps']} | "
              f"{r['errors']} | {r['floor_p50_ms']} |" for r in records]
    lines += ["", f"Server and clients in one process on {os.cpu_count()} cores; resident memory "
              f"{memory_before:.0f} MB before the rounds, {memory_after:.0f} MB after."]
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
