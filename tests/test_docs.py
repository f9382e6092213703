"""The README and docs/: every generated table is the benchmark's own output, and every relative link resolves."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_generated_tables_are_the_benchmarks_output(document):
    from benchmarks.update_readme import BLOCK, fill

    text = document.read_text()
    assert fill(text, document) == text, f"{document.name}: a generated table differs from benchmarks/results; run " \
                                         "python benchmarks/update_readme.py"
    for match in BLOCK.finditer(text):
        assert (ROOT / "benchmarks" / "results" / f"{match['name']}.md").is_file(), match["name"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_relative_links_resolve(document):
    for target in LINK.findall(document.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (document.parent / target).exists(), f"{document.name} links to {target}, which does not exist"
