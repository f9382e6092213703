"""Copy the generated result tables into README.md and docs/*.md between their markers (never typed by hand).

    python benchmarks/update_readme.py

Each ``<!-- generated:NAME -->`` ... ``<!-- /generated:NAME -->`` block is replaced by
``benchmarks/results/NAME.md`` as the benchmark wrote it, with its links to plots made relative to the document.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from drugresponse.atomic_files import write_text_atomic  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w./]+) -->\n)(.*?)(<!-- /generated:(?P=name) -->)", re.S)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fill(text: str, document: Path = ROOT / "README.md") -> str:
    plots = Path(os.path.relpath(RESULTS / "plots", document.parent)).as_posix()

    def replace(match: re.Match) -> str:
        source = RESULTS / f"{match['name']}.md"
        body = source.read_text() if source.is_file() else f"_not yet generated: run the benchmark that writes {source.name}_\n"
        body = body.replace("](plots/", f"]({plots}/")
        if body.startswith("# "):  # the document's section has its own heading
            body = body.split("\n", 1)[1].lstrip("\n")
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, text)


def main() -> None:
    for document in DOCUMENTS:
        text = document.read_text()
        updated = fill(text, document)
        if updated != text:
            write_text_atomic(document, updated)
            print(f"updated {document.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
