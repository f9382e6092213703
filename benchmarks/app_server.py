"""The real app (or a bare Gradio app, the floor) in its own server process, and the memory of that process.

    python benchmarks/app_server.py --serve app|floor --port PORT     # what ``start`` runs

Used by ``load.py`` and ``upload_memory.py``: a server in its own process keeps the clients from sharing its
interpreter, and its memory (with its upload worker's) can be read from ``/proc`` and its peaks reset.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"


def serve(kind: str, port: int, hourly_mb: float | None = None) -> None:
    """The server process: the real app or the floor, until killed; ``hourly_mb``: the upload route's hourly budget
    (default: the app's own)."""
    import gradio as gr

    from drugresponse.serve.app import CONCURRENCY, create, launch

    if kind == "app":
        app = create(ASSETS, provider="cpu")
    else:
        with gr.Blocks() as app:
            box = gr.Textbox()
            box.change(lambda x: x, box, box, api_name="noop")
        app.queue(default_concurrency_limit=CONCURRENCY)
    launch(app, "127.0.0.1", port, hourly_bytes=None if hourly_mb is None else int(hourly_mb * 1e6), quiet=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, hourly_mb: float | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    budget = [] if hourly_mb is None else ["--hourly-mb", str(hourly_mb)]
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), *budget],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}/", time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {kind} server exited with status {process.returncode}")
        try:
            urllib.request.urlopen(url + "config", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the {kind} server did not answer within 180 s")


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (the app's upload worker)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def reset_peaks(pid: int) -> None:
    """Reset the peak-RSS counters of a process and its children (``/proc/PID/clear_refs``)."""
    for process in (pid, *children(pid)):
        Path(f"/proc/{process}/clear_refs").write_text("5")


def tree_memory_mb(pid: int) -> dict:
    """Resident and peak memory summed over a process and its children."""
    parts = [memory_mb(p) for p in (pid, *children(pid))]
    return {k: round(sum(part[k] or 0 for part in parts), 1) for k in ("rss_mb", "peak_mb")}


def memory_mb(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS"), "peak_mb": fields.get("VmHWM")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=["app", "floor"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hourly-mb", type=float, default=None)
    args = parser.parse_args()
    serve(args.serve, args.port, args.hourly_mb)
