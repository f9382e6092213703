"""The seed study's input table: one row per (cell line, drug) with GDSC's descriptive columns.

Built from our pinned sources (the default), or read from the files a user of the study has
(``--from-dir``): a response table with ``COSMIC_ID, CELL_LINE_NAME, TCGA_DESC, DRUG_ID, DRUG_NAME,
LN_IC50, AUC, Z_SCORE`` and optional descriptor columns, beside a cell-line details file and a
compound annotation file (CSV or XLSX). The study's "genomic" inputs are Y/N flags saying whether a
cell line HAS whole-exome, copy-number, expression or methylation data — not the data itself.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from drugresponse.errors import UserError

from ..data.bundle import Bundle
from ..data.source_archives import read_gdsctools
from ..data.sources import PINNED, Sources, obtain

TARGET = "LN_IC50"
LEAKY = ("Z_SCORE", "AUC")  # both computed from the same dose-response curve as LN_IC50
CATEGORICAL = ("CELL_LINE_NAME", "DRUG_NAME", "TCGA_DESC", "GDSC_TISSUE_1", "GDSC_TISSUE_2", "CANCER_TYPE",
               "MSI", "SCREEN_MEDIUM", "GROWTH_PROPERTIES", "WES", "CNA", "GENE_EXPRESSION", "METHYLATION")
NUMERIC = ("COSMIC_ID", "AUC", "Z_SCORE")
FLAG_COLUMNS = {"SEQUENCING": "WES", "CNA": "CNA", "GENE_EXPRESSION": "GENE_EXPRESSION", "METHYLATION": "METHYLATION"}


def with_z_score(table: pl.DataFrame) -> pl.DataFrame:
    """GDSC's Z_SCORE: LN_IC50 standardised within each drug, over every cell line screened."""
    return table.with_columns(((pl.col(TARGET) - pl.col(TARGET).mean().over("DRUG_NAME"))
                               / pl.col(TARGET).std().over("DRUG_NAME")).alias("Z_SCORE"))


def from_bundle(bundle: Bundle, data_dir: Path, dataset: str = "GDSC2", sources: Sources = PINNED) -> pl.DataFrame:
    """The study's table rebuilt from our pinned GDSC files."""
    paths = obtain(sources, Path(data_dir) / "downloads")
    cosmic = read_gdsctools(paths[sources.gdsctools.filename])["cosmic_info"]
    flags = cosmic.select(pl.col("COSMIC_ID").cast(pl.Int64, strict=False).alias("cosmic_id"),
                          *(pl.when(pl.col(src) == "1").then(pl.lit("Y")).otherwise(pl.lit("N")).alias(dst)
                            for src, dst in FLAG_COLUMNS.items())).unique("cosmic_id")
    cells = bundle.cell_lines.join(flags, on="cosmic_id", how="left")
    table = bundle.dataset_responses(dataset).join(cells, on="cell_line", how="inner").select(
        pl.col("cosmic_id").alias("COSMIC_ID"), pl.col("cell_line").alias("CELL_LINE_NAME"),
        pl.col("tcga_type").alias("TCGA_DESC"), pl.col("drug").alias("DRUG_NAME"),
        pl.col("ln_ic50").cast(pl.Float64).alias(TARGET), pl.col("auc").cast(pl.Float64).alias("AUC"),
        pl.col("tissue").alias("GDSC_TISSUE_1"), pl.col("tissue_subtype").alias("GDSC_TISSUE_2"),
        pl.col("tcga_type").alias("CANCER_TYPE"), pl.col("msi_status").alias("MSI"),
        pl.col("screen_medium").alias("SCREEN_MEDIUM"), pl.col("growth_properties").alias("GROWTH_PROPERTIES"),
        *(pl.col(c) for c in FLAG_COLUMNS.values()))
    return with_z_score(table.filter(pl.col("AUC").is_not_null()))


def _read_any(path: Path) -> pl.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xls"):
        try:
            return pl.read_excel(path)
        except ImportError as exc:
            raise UserError(f"reading {path.name} needs an Excel reader: pip install fastexcel") from exc
    return pl.read_csv(path, infer_schema_length=10000)


def _find(folder: Path, words: tuple[str, ...], what: str) -> Path:
    for path in sorted(folder.iterdir()):
        name = path.name.lower()
        if path.suffix.lower() in (".csv", ".xlsx", ".xls") and all(w in name for w in words):
            return path
    raise UserError(f"no {what} file in {folder}: expected a CSV/XLSX whose name contains {' and '.join(words)}.")


def from_study_files(folder: Path) -> pl.DataFrame:
    """Read the three-file layout the study used (response table, cell-line details, compound annotation)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--from-dir {folder} is not a folder.")
    responses = _read_any(_find(folder, ("gdsc",), "response (GDSC...)"))
    required = {"COSMIC_ID", "CELL_LINE_NAME", "DRUG_NAME", TARGET, "AUC"}
    missing = required - set(responses.columns)
    if missing:
        raise UserError(f"the response table lacks {sorted(missing)}; expected the study's GDSC layout.")
    details = _read_any(_find(folder, ("cell", "line"), "cell-line details"))
    details = details.rename({c: " ".join(c.split()) for c in details.columns})  # headers wrap over lines
    wanted = {"COSMIC identifier": "COSMIC_ID", "Whole Exome Sequencing (WES)": "WES",
              "Copy Number Alterations (CNA)": "CNA", "Gene Expression": "GENE_EXPRESSION",
              "Methylation": "METHYLATION", "GDSC Tissue descriptor 1": "GDSC_TISSUE_1",
              "GDSC Tissue descriptor 2": "GDSC_TISSUE_2", "Cancer Type (matching TCGA label)": "CANCER_TYPE",
              "Microsatellite instability Status (MSI)": "MSI", "Screen Medium": "SCREEN_MEDIUM",
              "Growth Properties": "GROWTH_PROPERTIES"}
    present = {k: v for k, v in wanted.items() if k in details.columns}
    details = details.select(*(pl.col(k).alias(v) for k, v in present.items())).with_columns(
        pl.col("COSMIC_ID").cast(pl.Int64, strict=False))
    table = responses.with_columns(pl.col("COSMIC_ID").cast(pl.Int64, strict=False)).drop(
        [v for v in present.values() if v != "COSMIC_ID" and v in responses.columns])
    table = table.join(details, on="COSMIC_ID", how="left")
    for column in CATEGORICAL:
        if column not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    if "Z_SCORE" not in table.columns:
        table = with_z_score(table)
    return table.with_columns(pl.col(TARGET, "AUC", "Z_SCORE").cast(pl.Float64))
