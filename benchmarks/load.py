"""The app under load: the real app and a bare Gradio app (the floor) driven the same way, in one run.

    python benchmarks/load.py [--requests 48]

Starts each app in its own server process (``app_server.py``) on a free loopback port (so the clients do not share the
server's interpreter), drives it with gradio_client from 1, 4 and 16 concurrent clients for a
bounded number of requests, measuring the floor before the app at each client count: /predict, /rank_drugs
and /predict_profile on the real app, each request with a different cell line, drug pair or uploaded
file (so the app's caches do not answer for it); a do-nothing endpoint on the floor app. Records
p50/p99 latency, requests per second and errors, and the app server's resident and peak memory
after start-up, after each round and after ``--repeat`` more 16-client /predict rounds (memory
that keeps growing there would be a leak). Then the attack, three times (the app as served with the attackers at the
lowest CPU priority; a server without the hourly upload budget, so that bodies arrive all minute, with the attackers
at the lowest and at normal priority): ``ATTACKERS`` clients send worst accepted uploads
(long-layout files just under the byte limit, each different, so no cache answers) to /predict_profile again and
again for ``--attack-seconds``, while one more client calls /predict one request after another; its p50 is compared with the
same client's p50 just before, with no attack, and the server's peak memory over its level before the attack is
recorded, app and upload worker together (budget: ``ATTACK_BUDGET_MB``). Then stops both servers. Writes benchmarks/results/load.json and load.md.
Measures; never asserts.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import memory_mb, reset_peaks, start, tree_memory_mb  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ASSETS = ROOT / "assets"
CLIENTS = (1, 4, 16)
ATTACKERS = 16
ATTACK_BUDGET_MB = 512  # uploads are read one at a time, so the attack may cost what one worst upload costs
EXAMPLE = ROOT / "examples" / "profile_long.csv"


def drive(url: str, calls: list[tuple], clients: int) -> tuple[list[float], int, float]:
    """Run ``calls`` (endpoint, args) from ``clients`` threads, one gradio_client each."""
    from gradio_client import Client

    pool = [Client(url, verbose=False) for _ in range(clients)]
    latencies, errors = [], collections.Counter()

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
            except Exception as exc:  # an error is a result here: counted by its reason, not raised
                errors[reason(exc)] += 1
    return latencies, errors, time.perf_counter() - start


def reason(exc: Exception) -> str:
    """What a refused or failed call was told, in a few words (the app's messages start with what happened; an HTTP
    refusal's text is in its response)."""
    response = getattr(exc, "response", None)
    text = getattr(response, "text", "") or str(exc)
    text = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    for known in ("receiving other uploads", "reading other uploads", "share of uploads", "queue is full"):
        if known in text:
            return known
    return text[:60]


def upload_variants(folder: Path, count: int) -> list[Path]:
    """``count`` different files (the example with renamed samples), so no upload repeats another."""
    table = pl.read_csv(EXAMPLE)
    paths = []
    for i in range(count):
        path = folder / f"profile_{i}.csv"
        table.with_columns(pl.col("sample") + f"_{i}").write_csv(path)
        paths.append(path)
    return paths


def worst_uploads(folder: Path, genes: list[str], count: int) -> list[Path]:
    """``count`` different long-layout files just under the byte limit: the most samples allowed, every model gene,
    and the rest of the bytes in rows of distinct names that are not model genes (each one looked up, then ignored),
    the most reading an accepted upload asks. Each file holds other values, so neither Gradio's upload cache (by
    content) nor the app's (by path) answers for a repeat."""
    from drugresponse.serve.uploads import APP

    model_rows = APP.max_samples * sum(len(f"S00,{g},expression,-0.123\n") for g in genes)
    filler = (int(APP.max_bytes * 0.98) - model_rows) // len("S00,NOTAGENE0000000,expression,-0.123\n")
    paths = []
    for k in range(count):
        values = np.random.default_rng(k).normal(size=(APP.max_samples, len(genes) + filler // APP.max_samples))
        path = folder / f"worst_long_{k}.csv"
        with open(path, "w") as handle:
            handle.write("sample,gene,modality,value\n")
            for s, row in enumerate(values):
                names = [*genes, *(f"NOTAGENE{s:02d}{i:05d}" for i in range(len(row) - len(genes)))]
                handle.writelines(f"S{s:02d},{g},expression,{v:.3f}\n" for g, v in zip(names, row))
        paths.append(path)
    return paths


def hostile(url: str, uploads: list[Path], seconds: float, niceness: int) -> None:
    """The attackers' process: ``ATTACKERS`` clients sending the ``uploads`` in turn to /predict_profile nonstop for
    ``seconds``; prints how many were answered and refused (in their own process, so their client-side work does not
    slow the bystander's client), at ``niceness``: at the lowest CPU priority (19) their own work on this machine
    (building and sending bodies of 24 MB) does not take the cores that, in a real attack, are on the attackers'
    machines; at 0 it does, and the benchmark measures both."""
    import threading

    os.nice(niceness)

    from gradio_client import Client, handle_file

    stop, outcomes, reasons = threading.Event(), {"answered": 0, "refused_or_failed": 0}, collections.Counter()

    def one(k: int) -> None:
        client = Client(url, verbose=False)
        while not stop.is_set():
            try:
                client.predict(handle_file(str(uploads[k % len(uploads)])), None, "not given",
                               api_name="/predict_profile")
                outcomes["answered"] += 1
            except Exception as exc:  # a refusal or a full queue is a result here
                outcomes["refused_or_failed"] += 1
                reasons[reason(exc)] += 1
            k += ATTACKERS

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(ATTACKERS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    print(json.dumps({**outcomes, "reasons": dict(reasons)}), flush=True)


def attack(url: str, pid: int, uploads: list[Path], cell_lines: list[str], drugs: list[str], seconds: float,
           niceness: int, route: str) -> dict:
    """The bystander's /predict latencies without and then with ``ATTACKERS`` clients sending ``uploads`` nonstop
    (at CPU priority ``niceness``; ``route`` says how the app's upload budget was set)."""
    from gradio_client import Client, handle_file

    bystander, failures = Client(url, verbose=False), []

    def timed_predictions(duration: float, offset: int) -> list[float]:
        latencies, end, k = [], time.time() + duration, offset
        while time.time() < end:
            start_time = time.perf_counter()
            try:
                bystander.predict(cell_lines[k % len(cell_lines)], [drugs[k % len(drugs)]], api_name="/predict")
            except Exception as exc:  # a bystander's failure is the worst result: kept, with its time
                failures.append(f"{type(exc).__name__} after {time.perf_counter() - start_time:.0f} s")
            latencies.append((time.perf_counter() - start_time) * 1000)
            k += 1
        return latencies

    Client(url, verbose=False).predict(handle_file(str(uploads[-1])), None, "not given",
                                       api_name="/predict_profile")  # the upload worker is up, as in service
    idle = timed_predictions(min(seconds, 30), 0)
    before = tree_memory_mb(pid)["rss_mb"]
    reset_peaks(pid)
    attackers = subprocess.Popen([sys.executable, __file__, "--hostile", url, "--uploads", *map(str, uploads[:-1]),
                                  "--attack-seconds", str(seconds + 10), "--niceness", str(niceness)],
                                 stdout=subprocess.PIPE, text=True)
    time.sleep(5)  # the uploads are in flight
    under_attack = timed_predictions(seconds, 1000)
    outcomes = json.loads(attackers.communicate(timeout=seconds + 300)[0].strip().splitlines()[-1])
    peak = tree_memory_mb(pid)["peak_mb"]
    return {"route": route, "niceness": niceness, "attackers": ATTACKERS, "upload_mb": round(uploads[0].stat().st_size / 1e6, 1), "files": len(uploads) - 1,
            "seconds": seconds,
            "idle_p50_ms": round(float(np.median(idle)), 1), "attack_p50_ms": round(float(np.median(under_attack)), 1),
            "attack_p99_ms": round(float(np.percentile(under_attack, 99)), 1), "bystander_requests": len(under_attack),
            "uploads_answered": outcomes["answered"], "uploads_refused_or_failed": outcomes["refused_or_failed"],
            "refusal_reasons": outcomes["reasons"],
            "bystander_failures": failures, "rss_before_mb": before, "peak_over_before_mb": round(peak - before, 1),
            "budget_mb": ATTACK_BUDGET_MB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=96, help="requests per endpoint and client count")
    parser.add_argument("--repeat", type=int, default=3, help="extra 16-client /predict rounds to watch memory")
    parser.add_argument("--attack-seconds", type=float, default=60, help="how long the hostile uploads last")
    parser.add_argument("--hostile", help=argparse.SUPPRESS)
    parser.add_argument("--uploads", type=Path, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--niceness", type=int, default=19, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hostile:
        return hostile(args.hostile, args.uploads, args.attack_seconds, args.niceness)

    from gradio_client import handle_file

    cell_lines = pl.read_parquet(ASSETS / "cell_lines.parquet")["cell_line"].to_list()
    drugs = json.loads((ASSETS / "model.json").read_text())["drugs"]
    servers = {}
    try:
        servers = {kind: start(kind) for kind in ("floor", "app")}
        app_pid, url, floor_url = servers["app"][0].pid, servers["app"][1], servers["floor"][1]
        memory = [{"after": "start-up", **memory_mb(app_pid)}]
        records, served = [], {"/predict": 0, "/rank_drugs": 0, "/predict_profile": 0}
        profile_requests = {c: max(c, args.requests // 4) for c in CLIENTS}
        with tempfile.TemporaryDirectory() as tmp:
            uploads = upload_variants(Path(tmp), sum(profile_requests.values()))
            endpoints = {
                "/predict": lambda k: (cell_lines[k % len(cell_lines)], [drugs[k % len(drugs)],
                                                                         drugs[(7 * k + 3) % len(drugs)]]),
                "/rank_drugs": lambda k: (cell_lines[k % len(cell_lines)],),
                "/predict_profile": lambda k: (handle_file(str(uploads[k % len(uploads)])), None, "not given"),
            }
            for clients in CLIENTS:
                floor_lat, _, _ = drive(floor_url, [("/noop", (f"x{i}",)) for i in range(args.requests)], clients)
                floor_p50 = float(np.median(floor_lat))
                for endpoint, make in endpoints.items():
                    n = args.requests if endpoint != "/predict_profile" else profile_requests[clients]
                    calls = [(endpoint, make(served[endpoint] + i)) for i in range(n)]
                    served[endpoint] += n
                    latencies, errors, seconds = drive(url, calls, clients)
                    records.append({"clients": clients, "endpoint": endpoint, "requests": n,
                                    "p50_ms": round(float(np.median(latencies)), 1) if latencies else None,
                                    "p99_ms": round(float(np.percentile(latencies, 99)), 1) if latencies else None,
                                    "rps": round(len(latencies) / seconds, 1), "errors": sum(errors.values()),
                                    "error_reasons": dict(errors),
                                    "floor_p50_ms": round(floor_p50, 1)})
                    print(records[-1], flush=True)
                memory.append({"after": f"the {clients}-client round", **memory_mb(app_pid)})
            # The same round again and again: memory that keeps growing here would be a leak.
            for round_ in range(args.repeat):
                calls = [("/predict", endpoints["/predict"](served["/predict"] + i)) for i in range(args.requests)]
                served["/predict"] += args.requests
                drive(url, calls, CLIENTS[-1])
                memory.append({"after": f"repeat {round_ + 1}", **memory_mb(app_pid)})
            genes = json.loads((ASSETS / "model.json").read_text())["genes"]
            worst = worst_uploads(Path(tmp), genes, 2 * ATTACKERS + 1)
            siege = [attack(url, app_pid, worst, cell_lines, drugs, args.attack_seconds, 19, "as served")]
            print(siege[-1], flush=True)
            # the same with the hour's budget out of the way: the route receives bodies for the whole minute
            servers["open"] = start("app", hourly_mb=1e9)
            for niceness in (19, 0):
                siege.append(attack(servers["open"][1], servers["open"][0].pid, worst, cell_lines, drugs,
                                    args.attack_seconds, niceness, "no hourly budget"))
                print(siege[-1], flush=True)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    import gradio
    import onnxruntime
    from machine import describe, write_outputs

    from drugresponse.serve.sample_tab import MAX_WAITING
    from drugresponse.serve.upload_route import HOURLY_UPLOADS, RECEIVING

    machine = describe(gradio=gradio.__version__, onnxruntime=onnxruntime.__version__)
    payload = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "requests": args.requests,
               "server_memory": memory, "records": records, "attack": siege}
    lines = ["| clients | endpoint | requests | p50 ms | p99 ms | requests/s | errors | floor p50 ms | p50 / floor |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['clients']} | {r['endpoint']} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['rps']} | "
              f"{r['errors']} | {r['floor_p50_ms']} | {r['p50_ms'] / r['floor_p50_ms']:.2f}x |" for r in records]
    lines += ["", f"{machine['cpu']}, {machine['cores']} cores, {payload['date']}; Python {machine['python']}, gradio "
              f"{machine['gradio']}, onnxruntime {machine['onnxruntime']}. Server and clients in separate processes. App server "
              "memory (resident / peak): " + "; ".join(f"after {m['after']} {m['rss_mb']:.0f} / {m['peak_mb']:.0f} MB"
                                                        for m in memory) + "."]
    failed = [r for r in records if r["errors"]]
    if failed:
        lines += ["", "Errors, by what the client was told: " + "; ".join(
            f"{r['clients']} clients {r['endpoint']}: " + ", ".join(f"{n} {why!r}" for why, n in r["error_reasons"].items())
            for r in failed) + "."]
    lines += ["", "| under attack: 16 clients uploading 32 different worst-case files nonstop | attackers' CPU priority | "
              "bystander /predict p50 ms | p99 ms | vs idle p50 | uploads answered / refused | server peak over its "
              "level before |", "|---|---|---|---|---|---|---|"]
    for a in siege:
        lines.append(f"| {a['upload_mb']} MB each for {a['seconds']:.0f} s, upload route {a['route']} | nice "
                     f"{a['niceness']} | {a['attack_p50_ms']} (idle {a['idle_p50_ms']}) | {a['attack_p99_ms']} | "
                     f"{a['attack_p50_ms'] / a['idle_p50_ms']:.2f}x | {a['uploads_answered']} / "
                     f"{a['uploads_refused_or_failed']} | {a['peak_over_before_mb']:.0f} MB (budget {a['budget_mb']} MB) |")
    lines += ["", "Refusals, by what the attackers were told: " + "; ".join(
        f"{a['route']}, nice {a['niceness']}: " + (", ".join(f"{n} {why[:40]!r}" for why, n in sorted(
            a["refusal_reasons"].items(), key=lambda x: -x[1])) or "none") for a in siege) + ".",
              "", f"Uploads are read one at a time (serve/sample_tab.py): beyond {MAX_WAITING} waiting, an upload is "
              f"refused at once, and so is one beyond {RECEIVING} bodies being received or, as served, the hour's "
              f"{HOURLY_UPLOADS} uploads at the byte limit (serve/upload_route.py); the last two rows are of a server "
              "without that budget, so that bodies arrive for the whole minute. At nice 19 the attackers' own client "
              "work on this 2-core machine yields to the server's, as it would on the attackers' own machines; at nice "
              "0 it competes for the same cores."]
    write_outputs(RESULTS, "load", payload, "\n".join(lines) + "\n", indent=2)


if __name__ == "__main__":
    main()
