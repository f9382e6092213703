"""Carry the committed evaluations across the curated driver-event overrides (bundle 2 -> bundle 3).

Bundle 3 differs from bundle 2 in ``drivers.parquet`` alone: its manifest's ``content_sha256_before_overrides`` is the
content checksum the same build gives without the overrides, and it equals bundle 2's. A model that reads no driver
event (``registry.READS_NO_DRIVER_EVENTS``) therefore saw byte-identical inputs, and its bundle-2 record is its
bundle-3 record: it is restamped with the new checksum and ``carried_over_from`` the old one. Every other record
(the networks, the driver-aware ridge, the trees) is removed from the main tables, to be re-run on bundle 3.

Before anything is changed, every affected file is copied to ``<results>/before_overrides/``: those tables stay the
previous release's figures (and the "without overrides" side of the ablation). Run once:

    python benchmarks/carry_over_records.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import polars as pl

from drugresponse.atomic_files import write_json_atomic, write_parquet_atomic, write_text_atomic
from drugresponse.paths import default_data_dir
from drugresponse.train.data.bundle import Bundle, bundle_dir
from drugresponse.train.evaluation.registry import READS_NO_DRIVER_EVENTS
from drugresponse.train.evaluation.results import PARQUET, markdown_table

SPLITS = ("lco", "lto", "lpo")


def carry(results: Path, old: str, new: str) -> dict:
    archive = results / "before_overrides"
    archive.mkdir(exist_ok=True)
    report = {}
    for path in sorted(p for s in ("GDSC2", "GDSC1", "BOTH") for p in results.glob(f"{s}_l[cpt]o.json")):
        stem = path.stem
        records = json.loads(path.read_text())
        if not records or records[0]["data_sha256"] != old:
            continue
        for part in sorted(results.glob(f"{stem}*")):
            if part.is_file():
                shutil.copy2(part, archive / part.name)
        kept = [{**r, "data_sha256": new, "carried_over_from": old} for r in records
                if r["model"] in READS_NO_DRIVER_EVENTS]
        dropped = sorted(r["model"] for r in records if r["model"] not in READS_NO_DRIVER_EVENTS)
        report[stem] = {"carried": [r["model"] for r in kept], "set_aside": dropped}
        if not kept:  # nothing of this table survives (the both-screens networks' own files)
            for part in results.glob(f"{stem}*"):
                part.unlink()
            continue
        header = (results / f"{stem}.md").read_text().split("\n\n", 1)[0]
        write_json_atomic(path, kept)
        write_text_atomic(results / f"{stem}.md", f"{header}\n\n" + markdown_table(kept))
        predictions = pl.read_parquet(results / f"{stem}_predictions.parquet")
        write_parquet_atomic(results / f"{stem}_predictions.parquet",
                             predictions.filter(pl.col("model").is_in(list(READS_NO_DRIVER_EVENTS))), **PARQUET)
        for part in [results / f"{stem}_history.json", *results.glob(f"{stem}_mlp_ensemble*")]:  # networks' only
            part.unlink(missing_ok=True)
    ldo = results / "GDSC2_ldo.json"  # the compound model reads expression and structures, never an event
    if ldo.is_file() and json.loads(ldo.read_text())["data_sha256"] == old:
        for part in results.glob("GDSC2_ldo*"):
            shutil.copy2(part, archive / part.name)
        write_json_atomic(ldo, {**json.loads(ldo.read_text()), "data_sha256": new, "carried_over_from": old})
        render_ldo(results)
        report["GDSC2_ldo"] = {"carried": ["all (no driver event read)"], "set_aside": []}
    return report


def render_ldo(results: Path) -> None:
    """The leave-drug-out tables, rendered again from the carried record (they name the bundle)."""
    from drugresponse.train.compounds.external import markdown as external_markdown
    from drugresponse.train.compounds.ldo_report import headline, markdown

    r = json.loads((results / "GDSC2_ldo.json").read_text())
    text = markdown(r["records"], r["comparisons"], r["settings"], r["data_sha256"], r["seed"], r["by_similarity"])
    if r.get("external_gdsc1"):
        text += "\n" + external_markdown(r["external_gdsc1"])
    write_text_atomic(results / "GDSC2_ldo.md", text)
    write_text_atomic(results / "GDSC2_ldo_headline.md", headline(r["records"], r["comparisons"],
                                                                 r["drugs_with_structure"], r["data_sha256"], r["seed"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="benchmarks/results")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    manifest = Bundle.open(bundle_dir(Path(args.data_dir) if args.data_dir else default_data_dir())).manifest
    report = carry(Path(args.results), manifest["content_sha256_before_overrides"], manifest["content_sha256"])
    write_json_atomic(Path(args.results) / "before_overrides" / "carried_over.json",
                      {"from": manifest["content_sha256_before_overrides"], "to": manifest["content_sha256"],
                       "tables": report})
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
