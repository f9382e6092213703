"""Cut the example upload files from the real bundle: two GDSC cell lines, in both accepted layouts.

    python examples/make_example_profiles.py [--data-dir DIR]

Writes examples/profile_wide.csv (two samples, one row each) and examples/profile_long.csv (one
sample, one row per gene and modality). Expression is the bundle's (z-scored within the sample).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from drugresponse.paths import default_data_dir
from drugresponse.train.bundle import MODALITIES, Bundle, bundle_dir

HERE = Path(__file__).resolve().parent
CELL_LINES = ("A549", "MCF7")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    bundle = Bundle.open(bundle_dir(args.data_dir))
    names = bundle.cell_lines["cell_line"].to_list()
    rows = [names.index(c) for c in CELL_LINES]
    wide = {"sample": list(CELL_LINES)}
    for modality in MODALITIES:
        values = bundle.profiles[modality]
        for j, gene in enumerate(bundle.genes):
            wide[f"{modality}:{gene}"] = [round(float(values[r, j]), 4) for r in rows]
    pl.DataFrame(wide).write_csv(HERE / "profile_wide.csv")
    long = [(CELL_LINES[0], gene, modality, round(float(bundle.profiles[modality][rows[0], j]), 4))
            for modality in MODALITIES for j, gene in enumerate(bundle.genes)]
    pl.DataFrame(long, schema=["sample", "gene", "modality", "value"], orient="row").write_csv(
        HERE / "profile_long.csv")
    print(f"wrote {HERE / 'profile_wide.csv'} and {HERE / 'profile_long.csv'}")


if __name__ == "__main__":
    main()
