"""What a benchmark ran on, for the line under its table, and how a benchmark writes its result files."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from drugresponse.atomic_files import write_text_atomic


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def l3_cache_bytes() -> int | None:
    """The last-level (L3) cache of CPU 0 as the kernel reports it, or None where it does not say."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() == "3":
                size = (index / "size").read_text().strip()  # e.g. "32768K"
                units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
                return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        except (OSError, ValueError):
            return None
    return None


def describe(**versions: str) -> dict:
    """CPU model, core count, L3 cache, Python and the given library versions."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "l3_cache_bytes": l3_cache_bytes(),
            "python": platform.python_version(), **versions}


def write_outputs(out_dir: Path, stem: str, payload, markdown: str, indent: int = 1) -> None:
    """``<stem>.json`` and ``<stem>.md`` in ``out_dir``, each whole or not at all."""
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / f"{stem}.json", json.dumps(payload, indent=indent) + "\n")
    write_text_atomic(out_dir / f"{stem}.md", markdown if markdown.endswith("\n") else markdown + "\n")
