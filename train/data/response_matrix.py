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


SCREENS = ("GDSC2", "GDSC1")  # GDSC2 first: the newer assay, whose answer leads where both screens measured a drug
BOTH = "BOTH"  # both screens as one matrix: GDSC2's drugs, then GDSC1's, each named by ``screen_column``


def screen_column(drug: str, screen: str) -> str:
    """A drug's column in a matrix or model that holds both screens: GDSC2's drugs by name, GDSC1's marked, because
    122 drugs were screened by both assays and their ln IC50 differ (the screens are two measurements)."""
    return drug if screen == "GDSC2" else f"{drug} [{screen}]"


def load_matrix(bundle: Bundle, dataset: str = "GDSC2", exclude_cell_lines: set[str] | None = None) -> ResponseMatrix:
    """The dataset's response matrix over the cell lines it measured, minus any excluded."""
    if dataset.upper() == BOTH:
        return _both_screens(bundle, exclude_cell_lines)
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


def _both_screens(bundle: Bundle, exclude_cell_lines: set[str] | None) -> ResponseMatrix:
    """GDSC2 and GDSC1 side by side over the lines either measured (a line one screen did not measure is NaN there)."""
    screens = [load_matrix(bundle, screen, exclude_cell_lines) for screen in SCREENS]
    lines = set().union(*(m.cell_lines for m in screens))
    table = bundle.cell_lines.with_row_index("row").filter(pl.col("cell_line").is_in(list(lines)))
    cell_lines = table["cell_line"].to_list()
    ln_ic50 = []
    for m in screens:
        block = np.full((len(cell_lines), len(m.drugs)), np.nan, dtype=np.float32)
        index = {c: i for i, c in enumerate(m.cell_lines)}
        rows = [i for i, c in enumerate(cell_lines) if c in index]
        block[rows] = m.ln_ic50[[index[cell_lines[i]] for i in rows]]
        ln_ic50.append(block)
    source_rows = table["row"].to_numpy()
    return ResponseMatrix(BOTH, cell_lines, [screen_column(d, m.dataset) for m in screens for d in m.drugs],
                          table["tissue"].to_numpy().astype(str), np.hstack(ln_ic50),
                          {m: bundle.profiles[m][source_rows] for m in MODALITIES},
                          {m: bundle.feature_names(m) for m in MODALITIES}, bundle.manifest["content_sha256"])
