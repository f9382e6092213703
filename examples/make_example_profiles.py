"""Cut the example upload files from the real bundle, in both accepted layouts.

    python examples/make_example_profiles.py [--data-dir DIR]

Writes examples/profile_wide.csv (two samples, one row each, every modality), examples/profile_long.csv (one
sample, one row per gene and modality) and examples/profile_panel.csv (one sample: expression plus a clinical
panel's worth of driver events, the rest unknown). Expression is the bundle's (z-scored within the sample).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.atomic_files import atomic_path
from drugresponse.paths import default_data_dir
from drugresponse.train.data.bundle import MODALITIES, Bundle, bundle_dir

HERE = Path(__file__).resolve().parent
CELL_LINES = ("A549", "MCF7")
PANEL_LINE = "A375"  # BRAF V600E melanoma, TP53 wild type
PANEL = ("BRAF_mut", "NRAS_mut", "KRAS_mut", "TP53_mut", "PIK3CA_mut", "EGFR_mut", "PTEN_mut", "CDKN2A_mut")
PREFIX = {"expression": "expression", "mutation": "mutation", "copy_number": "copy_number", "drivers": "driver"}


def _wide(bundle: Bundle, rows: list[int], names: list[str], modalities) -> dict:
    wide = {"sample": names}
    for modality in modalities:
        values = bundle.profiles[modality]
        for j, feature in enumerate(bundle.feature_names(modality)):
            wide[f"{PREFIX[modality]}:{feature}"] = [None if np.isnan(values[r, j]) else round(float(values[r, j]), 4)
                                                    for r in rows]
    return wide


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    bundle = Bundle.open(bundle_dir(args.data_dir))
    names = bundle.cell_lines["cell_line"].to_list()
    rows = [names.index(c) for c in CELL_LINES]
    write_csv(pl.DataFrame(_wide(bundle, rows, list(CELL_LINES), MODALITIES)), HERE / "profile_wide.csv")
    long = [(CELL_LINES[0], feature, PREFIX[modality], round(float(bundle.profiles[modality][rows[0], j]), 4))
            for modality in MODALITIES for j, feature in enumerate(bundle.feature_names(modality))
            if not np.isnan(bundle.profiles[modality][rows[0], j])]
    write_csv(pl.DataFrame(long, schema=["sample", "gene", "modality", "value"], orient="row"),
              HERE / "profile_long.csv")
    panel_row = names.index(PANEL_LINE)
    panel = _wide(bundle, [panel_row], [f"{PANEL_LINE} (expression + panel)"], ["expression"])
    events = bundle.feature_names("drivers")
    for event in PANEL:
        panel[f"driver:{event}"] = [int(bundle.profiles["drivers"][panel_row, events.index(event)])]
    write_csv(pl.DataFrame(panel), HERE / "profile_panel.csv")
    print(f"wrote {HERE / 'profile_wide.csv'}, {HERE / 'profile_long.csv'} and {HERE / 'profile_panel.csv'}")


if __name__ == "__main__":
    main()
