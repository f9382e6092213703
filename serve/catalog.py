"""The GDSC cell lines the app offers: annotations, stored profiles, measured responses, evaluation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .calibration import read_held_out
from .runtime import MODALITIES
from .uploads.schema import read_identifiers

REQUIRED = ("cell_lines.parquet", "measured.parquet", *(f"profiles_{m}.parquet" for m in MODALITIES))


@dataclass
class Catalog:
    cell_lines: pl.DataFrame  # cell_line, tissue, tissue_subtype, tcga_type, msi_status, ...
    profiles: dict[str, np.ndarray]  # float32 [cell lines, features], rows in cell_lines order, NaN = unknown
    measured: pl.DataFrame  # cell_line, drug, ln_ic50, ...
    evaluation_dir: Path

    def held_out(self, drugs: list[str]) -> np.ndarray:
        """The LCO fold models' predictions [cell lines, drugs] for lines they never saw (NaN where a line was
        never held out, e.g. a line outside the training screen)."""
        lines, values = read_held_out(self.evaluation_dir, drugs)
        out = np.full((self.cell_lines.height, len(drugs)), np.nan, dtype=np.float32)
        rows = {c: i for i, c in enumerate(self.cell_lines["cell_line"])}
        index = np.array([rows.get(c, -1) for c in lines], dtype=np.int64)
        known = index >= 0
        out[index[known]] = values[known]
        return out

    @classmethod
    def load(cls, assets: Path) -> "Catalog":
        assets = Path(assets)
        missing = [f for f in REQUIRED if not (assets / f).is_file()]
        if missing:
            raise UserError(f"{assets} lacks {', '.join(missing)}; run `drugresponse export` to write the app's assets.")
        cell_lines = pl.read_parquet(assets / "cell_lines.parquet")
        order = cell_lines["cell_line"].to_list()
        profiles = {}
        for modality in MODALITIES:
            table = pl.read_parquet(assets / f"profiles_{modality}.parquet")
            if table["cell_line"].to_list() != order:
                raise UserError(f"profiles_{modality}.parquet and cell_lines.parquet disagree; re-run the export.")
            profiles[modality] = np.stack(table[modality].to_numpy()).astype(np.float32)
        return cls(cell_lines, profiles, pl.read_parquet(assets / "measured.parquet"), assets / "evaluation")

    @property
    def gene_identifiers(self) -> pl.DataFrame | None:
        """Ensembl IDs and HGNC symbols -> the model's gene names (written at export; None in older assets)."""
        return read_identifiers(self.evaluation_dir.parent)

    @property
    def drug_targets(self) -> dict[str, str]:
        """Targets the pinned GDSC files name (a handful of drugs); empty where unknown."""
        path = self.evaluation_dir.parent / "drugs.parquet"
        if not path.is_file():
            return {}
        table = pl.read_parquet(path).drop_nulls("target")
        return dict(zip(table["drug"], table["target"]))

    def drug_table_all(self) -> pl.DataFrame:
        """Every row of drugs.parquet that names a screen (empty for a one-screen model's assets)."""
        path = self.evaluation_dir.parent / "drugs.parquet"
        table = pl.read_parquet(path) if path.is_file() else pl.DataFrame()
        return table if "screen" in table.columns else pl.DataFrame({"drug": [], "name": [], "screen": []},
                                                                    schema={c: pl.String for c in ("drug", "name", "screen")})

    def drug_table(self, drugs: list[str]) -> pl.DataFrame:
        """Per model output, in output order: ``drug`` (the output's name), ``name``, ``screen`` and ``leads`` (the
        answer shown first where both screens measured the drug). Assets of a one-screen model have no screen
        columns: each output is then its own drug, of GDSC2."""
        table = self.drug_table_all()
        if table.is_empty():
            table = pl.DataFrame({"drug": drugs, "name": drugs, "screen": "GDSC2", "leads": True})
        ordered = pl.DataFrame({"drug": drugs}).join(table.select("drug", "name", "screen", "leads"), on="drug",
                                                      how="left", maintain_order="left")
        if ordered["screen"].null_count():
            raise UserError("drugs.parquet does not describe every drug the model predicts; re-run the export.")
        return ordered

    @property
    def tissues(self) -> list[str]:
        return sorted(self.cell_lines["tissue"].unique().to_list())

    def names(self, tissue: str | None = None) -> list[str]:
        table = self.cell_lines if not tissue else self.cell_lines.filter(pl.col("tissue") == tissue)
        return table["cell_line"].to_list()

    def row(self, cell_line: str) -> int:
        matches = np.flatnonzero(self.cell_lines["cell_line"].to_numpy() == cell_line)
        if len(matches) == 0:
            raise UserError(f"unknown cell line {cell_line!r}; choose one of the GDSC cell lines listed in the app.")
        return int(matches[0])

    def curated_events(self, cell_line: str) -> dict[str, str]:
        """Driver events of this GDSC line set by the curated overrides rather than GDSC's table, each with its note
        (GDSC's value and the source); empty for assets exported before the overrides."""
        if not {"curated_events", "curated_notes"} <= set(self.cell_lines.columns):
            return {}
        row = self.row(cell_line)
        return dict(zip(self.cell_lines["curated_events"][row], self.cell_lines["curated_notes"][row]))

    def evaluation(self, name: str):
        path = self.evaluation_dir / name
        if not path.is_file():
            return None
        return json.loads(path.read_text()) if path.suffix == ".json" else pl.read_parquet(path)
