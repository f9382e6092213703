"""What a benchmark ran on, for the line under its table (imported by the benchmark scripts)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(**versions: str) -> dict:
    """CPU model, core count, Python and the given library versions."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(), **versions}
