"""Throughput of ``drugresponse screen`` against RDKit featurisation alone, on a library of real GDSC structures.

    python benchmarks/screen_throughput.py [--copies 25] [--repeats 3]

The library is the 414 GDSC SMILES of tests/fixtures/gdsc_smiles.json, repeated ``--copies`` times (10,350
compounds by default), written as a .smi file. Timings in one run, each the median of ``--repeats``:
featurisation alone (read the file, standardise and fingerprint every compound in this process, as ``screen``
does), then ``screen`` end to end against every GDSC line (916) writing parquet: every row, and the 10 most
sensitive lines per compound. Writes ``screen_throughput.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402


def featurise_only(library: Path, meta: dict) -> int:
    from drugresponse.compound_structure import morgan_bits, standardise
    from drugresponse.serve.screening import library_entries

    n = 0
    for _, _, smiles in library_entries(library):
        morgan_bits(standardise(smiles), meta["fingerprint"]["radius"], meta["fingerprint"]["size"])
        n += 1
    return n


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import rdkit

    from drugresponse.cli import main as cli
    from drugresponse.paths import ASSETS_DIR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    smiles = json.loads((ROOT / "tests" / "fixtures" / "gdsc_smiles.json").read_text())["smiles"]
    meta = json.loads((ASSETS_DIR / "compound.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "library.smi"
        library.write_text("".join(f"{s} {name}_{k}\n" for k in range(args.copies) for name, s in smiles.items()))
        n = featurise_only(library, meta)
        featurise = timed(lambda: featurise_only(library, meta), args.repeats)
        runs = {}
        for label, extra in (("every line", []), ("top 10 lines", ["--top", "10"])):
            out = Path(tmp) / "ranked.parquet"
            runs[label] = timed(lambda: cli(["screen", str(library), "-o", str(out), "--quiet", *extra]),
                                args.repeats)
    payload = {"compounds": n, "lines": 916, "featurise_s": featurise,
               "screen_s": runs, "ratio": {k: v / featurise for k, v in runs.items()},
               "goal_ratio": 1.5, "machine": describe(rdkit=rdkit.__version__)}
    rows = [f"| featurisation alone (standardise + Morgan bits) | {featurise:.2f} s | {n / featurise:,.0f} | 1.00× |"]
    rows += [f"| `screen`, {label} (parquet) | {s:.2f} s | {n / s:,.0f} | {s / featurise:.2f}× |"
             for label, s in runs.items()]
    m = payload["machine"]
    text = "\n".join([
        f"`drugresponse screen`, {n:,} compounds (the 414 GDSC structures × {args.copies}) against 916 GDSC lines, "
        f"one process; median of {args.repeats}.", "",
        "| stage | time | compounds/s | ratio to featurisation |", "|---|---|---|---|", *rows, "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, RDKit {m['rdkit']}. Goal: within 1.5× of "
        "featurisation alone."])
    write_outputs(args.out, "screen_throughput", payload, text)
    print(text)


if __name__ == "__main__":
    main()
