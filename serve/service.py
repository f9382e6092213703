"""What the app does, as plain functions on a loaded model and catalog (no Gradio here)."""

from __future__ import annotations

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .catalog import Catalog
from .runtime import ModelRuntime
from .uploads import UploadReport, parse_profiles

SENSITIVE, RESISTANT = 20.0, 80.0  # percentile cut-offs for the plain-words call


class PredictionService:
    """Predictions for GDSC cell lines and uploaded profiles, with context for reading them."""

    def __init__(self, runtime: ModelRuntime, catalog: Catalog):
        if catalog.profiles["expression"].shape[1] != len(runtime.genes):
            raise UserError("the assets' profiles do not match the model's genes; re-run `drugresponse export`.")
        self.runtime, self.catalog = runtime, catalog
        self.drugs = runtime.drugs
        self._drug_index = {d: j for j, d in enumerate(self.drugs)}
        # Every GDSC cell line's prediction, once: the reference for percentiles and "typical" responses.
        self.reference = runtime.predict(catalog.profiles)
        self.reference_sorted = np.sort(self.reference, axis=0)
        self.typical = np.median(self.reference, axis=0)
        self.spread = self.reference.std(axis=0) + 1e-6
        self.reference_percentile = self._percentile(self.reference)  # per request, a row lookup
        conformal = catalog.evaluation("conformal.json") or {"drugs": {}}
        self.conformal = conformal
        self.interval = np.array([[conformal["drugs"].get(d, {}).get("lower", np.nan),
                                   conformal["drugs"].get(d, {}).get("upper", np.nan)] for d in self.drugs])
        measured = catalog.measured
        self._measured = {(c, d): v for c, d, v in zip(measured["cell_line"], measured["drug"], measured["ln_ic50"])}

    def _percentile(self, predictions: np.ndarray) -> np.ndarray:
        """Share of GDSC cell lines predicted more sensitive (lower ln IC50), per drug, in %."""
        n = self.reference_sorted.shape[0]
        ranks = np.stack([np.searchsorted(self.reference_sorted[:, j], predictions[:, j])
                          for j in range(len(self.drugs))], axis=1)
        return 100.0 * ranks / n

    def _call(self, percentile: float) -> str:
        return "sensitive" if percentile < SENSITIVE else "resistant" if percentile > RESISTANT else "intermediate"

    def _drug_columns(self, drugs: list[str]) -> np.ndarray:
        unknown = [d for d in drugs if d not in self._drug_index]
        if unknown:
            raise UserError(f"unknown drug(s): {', '.join(map(repr, unknown))}; choose from the model's "
                            f"{len(self.drugs)} GDSC2 drugs.")
        return np.array([self._drug_index[d] for d in drugs], dtype=int)

    def _table(self, sample: str, predictions: np.ndarray, columns: np.ndarray, with_measured: bool,
               percentile: np.ndarray | None = None) -> pl.DataFrame:
        predictions = predictions.astype(np.float64)  # float32 prints as 2.6649999618530273 in tables
        if percentile is None:
            percentile = self._percentile(predictions[None, :])[0]
        rows = {
            "drug": [self.drugs[j] for j in columns],
            "predicted ln IC50": predictions[columns].round(3),
            "IC50 (µM)": [float(f"{v:.4g}") for v in np.exp(predictions[columns])],
            "80% interval ln IC50": [f"{predictions[j] + self.interval[j, 0]:.2f} to {predictions[j] + self.interval[j, 1]:.2f}"
                                     if not np.isnan(self.interval[j, 0]) else "n/a" for j in columns],
            "percentile among GDSC cell lines": percentile[columns].round(1),
            "call": [self._call(p) for p in percentile[columns]],
        }
        if with_measured:
            measured = [self._measured.get((sample, self.drugs[j])) for j in columns]
            rows["measured ln IC50 (GDSC)"] = [None if v is None else round(float(v), 3) for v in measured]
        return pl.DataFrame(rows)

    def predict(self, cell_line: str, drugs: list[str]) -> pl.DataFrame:
        """One row per chosen drug for a GDSC cell line."""
        if not drugs:
            return pl.DataFrame()
        columns = self._drug_columns(drugs)
        row = self.catalog.row(cell_line)
        return self._table(cell_line, self.reference[row], columns, with_measured=True,
                           percentile=self.reference_percentile[row])

    def rank_drugs(self, cell_line: str) -> pl.DataFrame:
        """All drugs, most to least sensitive relative to each drug's typical (median) GDSC response."""
        row = self.catalog.row(cell_line)
        predictions = self.reference[row]
        table = self._table(cell_line, predictions, np.arange(len(self.drugs)), with_measured=True,
                            percentile=self.reference_percentile[row])
        relative = predictions.astype(np.float64) - self.typical
        return table.with_columns(
            pl.Series("ln IC50 vs typical", relative.round(3)),
            pl.Series("z vs typical", (relative / self.spread).round(2)),
        ).sort("z vs typical")

    def predict_profile(self, data: bytes) -> tuple[pl.DataFrame, UploadReport]:
        """Every drug for every sample of an uploaded CSV (validated first)."""
        report = parse_profiles(data, self.runtime.genes)
        predictions = self.runtime.predict(report.profiles)
        tables = [self._table(s, predictions[i], np.arange(len(self.drugs)), with_measured=False)
                  .insert_column(0, pl.Series("sample", [s] * len(self.drugs)))
                  for i, s in enumerate(report.samples)]
        return pl.concat(tables), report

    def model_info(self) -> dict:
        meta = self.runtime.metadata
        return {
            "model_version": meta.get("model_version"), "precision": meta.get("precision"), "units": meta.get("units"),
            "drugs": len(self.drugs), "genes": len(self.runtime.genes), "provider": self.runtime.provider,
            "data_sha256": meta.get("data_sha256"), "training": meta.get("training"), "metrics": meta.get("metrics"),
            "conformal_coverage": self.conformal.get("empirical_coverage"),
        }

