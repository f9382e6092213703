"""The tidy data bundle: what every later stage reads, never the raw source files.

Layout of ``<data dir>/bundle-v<N>/``::

    responses.parquet    dataset, cell_line, drug, ln_ic50 (natural log of IC50 in µM), auc, n_measurements
    cell_lines.parquet   cell_line (GDSC spelling), key, cosmic_id, tissue, tissue_subtype, tcga_type,
                         msi_status, screen_medium, growth_properties
    expression.parquet   cell_line + one float32 column per gene (z-scored within each cell line)
    mutation.parquet     cell_line + one int8 column per gene (0/1)
    copy_number.parquet  cell_line + one int8 column per gene (-1/0/1)
    drivers.parquet      cell_line + one int8 column per GDSC cancer functional event (0/1; null where GDSC's
                         feature table does not cover the line): driver mutations, recurrent copy-number regions,
                         fusions (BCR-ABL, EWSR1-FLI1), MSI; with the curated corrections of driver_overrides.csv
    drugs.parquet        drug, datasets, smiles, target
    genes.txt            the gene order shared by the three per-gene omics files
    manifest.json        source checksums, file checksums, counts, name-matching and duplicate-profile report
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .driver_overrides import file_sha256 as overrides_sha256
from .sources import sha256_of

BUNDLE_VERSION = "3"  # 3: curated driver-event overrides (driver_overrides.csv)
OMICS = ("expression", "mutation", "copy_number")  # one value per gene of genes.txt
MODALITIES = (*OMICS, "drivers")  # drivers: one value per event, names in drivers.parquet's columns


def bundle_dir(data_dir: Path) -> Path:
    return Path(data_dir) / f"bundle-v{BUNDLE_VERSION}"


def is_valid_bundle(path: Path, sources=None) -> bool:
    """True if ``path`` holds a complete bundle of this version whose files match the manifest."""
    manifest_path = Path(path) / "manifest.json"
    if not manifest_path.is_file():
        return False
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError:
        return False
    if manifest.get("bundle_version") != BUNDLE_VERSION:
        return False
    if sources is not None and {s["sha256"] for s in manifest.get("sources", [])} != {s.sha256 for s in sources.all()}:
        return False
    if manifest.get("driver_overrides", {}).get("sha256") != overrides_sha256():  # the curated file was edited
        return False
    files = manifest.get("files", {})
    return bool(files) and all((Path(path) / f).is_file() and sha256_of(Path(path) / f) == sha
                               for f, sha in files.items())


@dataclass
class Bundle:
    """A built bundle, read lazily. Omics rows follow ``cell_lines`` order."""

    path: Path

    @classmethod
    def open(cls, path: Path) -> "Bundle":
        path = Path(path)
        if not (path / "manifest.json").is_file():
            raise UserError(f"no data bundle at {path}. Build it first with `drugresponse data build`.")
        return cls(path)

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    @cached_property
    def genes(self) -> list[str]:
        return (self.path / "genes.txt").read_text().split()

    @cached_property
    def cell_lines(self) -> pl.DataFrame:
        return pl.read_parquet(self.path / "cell_lines.parquet")

    @cached_property
    def drugs(self) -> pl.DataFrame:
        return pl.read_parquet(self.path / "drugs.parquet")

    @cached_property
    def responses(self) -> pl.DataFrame:
        return pl.read_parquet(self.path / "responses.parquet")

    @cached_property
    def driver_names(self) -> list[str]:
        return pl.read_parquet_schema(self.path / "drivers.parquet").names()[1:]

    def feature_names(self, modality: str) -> list[str]:
        """Column order of one modality: the genes for the omics, the event names for drivers."""
        return self.driver_names if modality == "drivers" else self.genes

    def omics(self, modality: str) -> np.ndarray:
        """float32 [cell lines, features] for one modality, rows in ``cell_lines`` order, NaN where unknown."""
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}; expected one of {MODALITIES}")
        frame = pl.read_parquet(self.path / f"{modality}.parquet")
        return frame.drop("cell_line").cast(pl.Float32).to_numpy().astype(np.float32, copy=False)

    @cached_property
    def profiles(self) -> dict[str, np.ndarray]:
        return {m: self.omics(m) for m in MODALITIES}

    def dataset_responses(self, dataset: str) -> pl.DataFrame:
        dataset = dataset.upper()
        table = self.responses.filter(pl.col("dataset") == dataset)
        if table.is_empty():
            known = sorted(self.responses["dataset"].unique().to_list())
            raise UserError(f"dataset {dataset!r} is not in the bundle; expected one of {known}.")
        return table


def info(path: Path) -> dict:
    """The manifest plus the summary counts `drugresponse data info` shows."""
    manifest = Bundle.open(path).manifest
    return {
        "path": str(path),
        "bundle_version": manifest["bundle_version"],
        "built_at": manifest["built_at"],
        "content_sha256": manifest["content_sha256"],
        "content_sha256_before_overrides": manifest["content_sha256_before_overrides"],
        "driver_overrides": manifest["driver_overrides"],
        "genes": manifest["genes"],
        "cell_lines": manifest["cell_lines"],
        "datasets": {d: {"cell_lines": s["cell_lines"], "drugs": s["drugs"], "pairs": s["pairs"],
                         "duplicate_rows_aggregated": s["duplicate_rows_aggregated"],
                         "rows_without_profile_left_out": s["rows_without_profile_left_out"]}
                     for d, s in manifest["datasets"].items()},
        "modalities": manifest["modalities"],
        "sources": manifest["sources"],
        "name_matching": manifest["name_matching"],
        "duplicate_profiles": manifest["duplicate_profiles"],
    }
