"""One dataset as arrays: cell lines x drugs responses and cell lines x features profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .bundle import MODALITIES, Bundle, is_valid_bundle


@dataclass
class ResponseMatrix:
    """``ln_ic50[i, j]`` is cell line i's natural-log IC50 (µM) for drug j; NaN where not measured.

    ``profiles[modality][i]`` is cell line i's raw profile as the bundle stores it (NaN = unknown);
    ``features[modality]`` names its columns (genes for the omics, event names for drivers).
    """

    dataset: str
    cell_lines: list[str]
    drugs: list[str]
    tissues: np.ndarray  # str per cell line
    ln_ic50: np.ndarray  # float32 [cell lines, drugs]
    profiles: dict[str, np.ndarray]
    features: dict[str, list[str]]
    data_sha256: str

    @property
    def genes(self) -> list[str]:
        return self.features["expression"]

    @property
    def measured(self) -> np.ndarray:
        return ~np.isnan(self.ln_ic50)

    def subset_cell_lines(self, rows: np.ndarray) -> "ResponseMatrix":
        return ResponseMatrix(self.dataset, [self.cell_lines[i] for i in rows], self.drugs, self.tissues[rows],
                              self.ln_ic50[rows], {m: p[rows] for m, p in self.profiles.items()}, self.features,
                              self.data_sha256)


def drug_means(ln_ic50: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each drug's mean ln IC50 over the pairs in ``mask`` (float32); a drug with none gets the mean of all of them.

    The one place a training drug mean is computed: the naive baselines, the model's target standardisation and
    the trees' fallback all read it.
    """
    counts = mask.sum(axis=0)
    sums = np.where(mask, ln_ic50, 0.0).sum(axis=0)
    overall = sums.sum() / max(counts.sum(), 1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), overall).astype(np.float32)


def open_matrix(bundle_path, dataset: str = "GDSC2") -> ResponseMatrix:
    """The screen's response matrix from the bundle at ``bundle_path``; a clear refusal when there is none."""
    if not is_valid_bundle(bundle_path):
        raise UserError(f"no valid data bundle at {bundle_path}. Build it first with `drugresponse data build`.")
    return load_matrix(Bundle.open(bundle_path), dataset)


def load_matrix(bundle: Bundle, dataset: str = "GDSC2", exclude_cell_lines: set[str] | None = None) -> ResponseMatrix:
    """The dataset's response matrix over the cell lines it measured, minus any excluded."""
    responses = bundle.dataset_responses(dataset)
    exclude = exclude_cell_lines or set()
    cells_table = bundle.cell_lines.with_row_index("row")
    measured_cells = set(responses["cell_line"].unique().to_list()) - exclude
    cells_table = cells_table.filter(pl.col("cell_line").is_in(list(measured_cells)))
    cell_lines = cells_table["cell_line"].to_list()
    drugs = sorted(responses["drug"].unique().to_list())
    cell_index = {c: i for i, c in enumerate(cell_lines)}
    drug_index = {d: j for j, d in enumerate(drugs)}
    responses = responses.filter(pl.col("cell_line").is_in(cell_lines))
    ln_ic50 = np.full((len(cell_lines), len(drugs)), np.nan, dtype=np.float32)
    rows = np.array([cell_index[c] for c in responses["cell_line"]], dtype=np.int64)
    cols = np.array([drug_index[d] for d in responses["drug"]], dtype=np.int64)
    ln_ic50[rows, cols] = responses["ln_ic50"].to_numpy()
    source_rows = cells_table["row"].to_numpy()
    profiles = {m: bundle.profiles[m][source_rows] for m in MODALITIES}
    return ResponseMatrix(dataset.upper(), cell_lines, drugs, cells_table["tissue"].to_numpy().astype(str),
                          ln_ic50, profiles, {m: bundle.feature_names(m) for m in MODALITIES},
                          bundle.manifest["content_sha256"])
