"""Copy the generated result tables into README.md between their markers (never typed by hand).

    python benchmarks/update_readme.py

Each ``<!-- generated:NAME -->`` ... ``<!-- /generated:NAME -->`` block is replaced by
``benchmarks/results/NAME.md`` as the benchmark wrote it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w.]+) -->\n)(.*?)(<!-- /generated:(?P=name) -->)", re.S)


def fill(text: str) -> str:
    def replace(match: re.Match) -> str:
        source = RESULTS / f"{match['name']}.md"
        body = source.read_text() if source.is_file() else f"_not yet generated: run the benchmark that writes {source.name}_\n"
        body = body.replace("](plots/", "](benchmarks/results/plots/")
        if body.startswith("# "):  # the README section has its own heading
            body = body.split("\n", 1)[1].lstrip("\n")
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, text)


def main() -> None:
    readme = ROOT / "README.md"
    updated = fill(readme.read_text())
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(updated)
    tmp.replace(readme)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
