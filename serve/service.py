"""What the app does, as plain functions on a loaded model and catalog (no Gradio here).

Honest numbers. The final model was trained on the GDSC cell lines the app lists, so its prediction for
one of them is in-sample (closer to the measured value than a new tumour's would be). For a GDSC line
the app therefore leads with the held-out prediction: the LCO fold model's, which never saw that line.
Percentiles, sensitive/resistant calls and intervals are calibrated on held-out predictions too, so a
new sample is ranked among predictions made the same way, not among in-sample ones.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .calibration import Calibration
from .catalog import Catalog
from .conformal import by_screen, exceptional_responders, references
from .runtime import MODALITIES, ModelRuntime
from .sample_context import Lineages, call_words, measured_range, similar_lines, unknown_event_effects
from .uploads import APP, Limits, ProfileSchema, UploadReport, parse_profiles

HELD_OUT = "ln IC50, held out"
CALL = "call (relative to GDSC lines, not a dose)"
RANGE = "GDSC measured ln IC50, 10th to 90th percentile (ln µM)"
LOW, HIGH = "80% interval low (ln µM)", "80% interval high (ln µM)"
IN_SAMPLE = "ln IC50, model trained on this line"
PREDICTED = "predicted ln IC50"
OTHER_SCREEN = "other screen's answer (z vs typical)"


class PredictionService:
    """Predictions for GDSC cell lines and uploaded profiles, with context for reading them."""

    def __init__(self, runtime: ModelRuntime, catalog: Catalog, limits: Limits = APP):
        for m in MODALITIES:
            if catalog.profiles[m].shape[1] != len(runtime.features(m)):
                raise UserError(f"the assets' {m} profiles do not match the model's inputs; re-run `drugresponse "
                                "export`.")
        self.runtime, self.catalog, self.limits = runtime, catalog, limits
        self.drugs = runtime.drugs
        self.schema = ProfileSchema.of(runtime, catalog.gene_identifiers)
        self._drug_index = {d: j for j, d in enumerate(self.drugs)}
        self.drug_table = catalog.drug_table(self.drugs)
        self.screens = self.drug_table["screen"].to_list()
        # each drug once, by its leading output (GDSC2's where both screens measured it), and its other output if any
        self.leading = np.flatnonzero(self.drug_table["leads"].to_numpy())
        outputs = {}
        for k, name in enumerate(self.drug_table["name"]):
            outputs.setdefault(name, []).append(k)
        self.other_output = {j: k for j in self.leading for k in outputs[self.drug_table["name"][int(j)]] if k != j}
        # Every GDSC line's prediction by the shipped model, once (in-sample for the lines it was trained on).
        self.final = runtime.predict(catalog.profiles)
        trained = set(runtime.metadata.get("trained_on", []))
        never_trained = ~np.isin(catalog.cell_lines["cell_line"].to_numpy(), list(trained))
        held_out = catalog.held_out(self.drugs)
        # a line the final model never saw (not in the training screen) is held out for it as well
        self.held_out = np.where(np.isnan(held_out) & never_trained[:, None], self.final, held_out)
        self.calibration = Calibration.load(catalog.evaluation_dir, self.drugs)
        self.held_out_percentile = self.calibration.percentile(self.held_out)
        measured = catalog.measured
        self._measured = {(c, d): v for c, d, v in zip(measured["cell_line"], measured["drug"], measured["ln_ic50"])}
        self.ranges = measured_range(measured, self.drugs)
        self.tissues = catalog.cell_lines["tissue"].to_numpy().astype(str)
        self.lineages = Lineages(self.held_out, self.tissues)
        held_out_pairs = catalog.evaluation("lco_predictions.parquet")
        self.exceptional = exceptional_responders(held_out_pairs) if held_out_pairs is not None else {}
        if self.exceptional:
            self.exceptional["by_screen"] = by_screen(held_out_pairs, catalog.drug_table_all())
            self.exceptional["references"] = references(catalog.evaluation("exceptional_responders.json"))

    @property
    def conformal(self) -> dict:
        return self.calibration.conformal

    def drug_columns(self, drugs: list[str]) -> np.ndarray:
        unknown = [d for d in drugs if d not in self._drug_index]
        hints = [f"{d} [GDSC1]" for d in unknown if f"{d} [GDSC1]" in self._drug_index]
        if hints and len(hints) == len(unknown):
            raise UserError(f"{', '.join(map(repr, unknown))}: only GDSC1 screened "
                            f"{'this drug' if len(hints) == 1 else 'these drugs'}; ask for {', '.join(map(repr, hints))}.")
        if unknown:
            shown = ", ".join(repr(d[:60]) for d in unknown[:5]) + (f" and {len(unknown) - 5:,} more" if len(unknown) > 5
                                                                    else "")
            raise UserError(f"unknown drug(s): {shown}; choose from the model's "
                            f"{len(self.drugs)} outputs (GDSC2 drugs by name, GDSC1's as 'name [GDSC1]').")
        return np.array([self._drug_index[d] for d in drugs], dtype=int)

    def _columns(self, predictions: np.ndarray, percentile: np.ndarray, columns: np.ndarray, name: str) -> dict:
        predictions = predictions.astype(np.float64)  # float32 prints as 2.6649999618530273 in tables
        lower, upper = self.calibration.interval(predictions)
        return {
            "drug": [self.drugs[j] for j in columns],
            "screen": [self.screens[j] for j in columns],
            name: predictions[columns].round(3),
            "IC50 (µM)": [float(f"{v:.4g}") if np.isfinite(v) else None for v in np.exp(predictions[columns])],
            LOW: lower[columns].round(2),
            HIGH: upper[columns].round(2),
            "percentile among GDSC lines (held out)": percentile[columns].round(1),
            CALL: [call_words(p) for p in percentile[columns]],
            RANGE: [f"{self.ranges[self.drugs[j]][0]:.2f} to {self.ranges[self.drugs[j]][1]:.2f}" for j in columns],
        }

    def _cell_line_table(self, cell_line: str, columns: np.ndarray) -> pl.DataFrame:
        row = self.catalog.row(cell_line)
        table = self._columns(self.held_out[row], self.held_out_percentile[row], columns, HELD_OUT)
        table[IN_SAMPLE] = self.final[row, columns].astype(np.float64).round(3)
        measured = [self._measured.get((cell_line, self.drugs[j])) for j in columns]
        table["measured ln IC50 (GDSC)"] = [None if v is None else round(float(v), 3) for v in measured]
        return pl.DataFrame(table)

    def predict(self, cell_line: str, drugs: list[str]) -> pl.DataFrame:
        """One row per chosen drug for a GDSC cell line: held-out prediction first, in-sample beside it."""
        if not drugs:
            return pl.DataFrame()
        return self._cell_line_table(cell_line, self.drug_columns(drugs))

    def rank_drugs(self, cell_line: str) -> pl.DataFrame:
        """Every drug once (its leading screen's answer, the other screen's beside it), most to least sensitive
        relative to each drug's typical held-out GDSC prediction."""
        row = self.catalog.row(cell_line)
        columns = self.leading
        table = self._cell_line_table(cell_line, columns)
        relative = (self.held_out[row].astype(np.float64) - self.calibration.typical) / self.calibration.spread
        other = [self.other_output.get(j) for j in columns]
        return table.with_columns(
            pl.Series("ln IC50 vs typical", (relative * self.calibration.spread)[columns].round(3)),
            pl.Series("z vs typical", relative[columns].round(2)),
            pl.Series(OTHER_SCREEN, [None if k is None else f"{self.screens[k]}: z {relative[k]:+.2f}" for k in other],
                      dtype=pl.String),
        ).sort("z vs typical", nulls_last=True)

    def score(self, report: UploadReport, tissue: str | None = None) -> pl.DataFrame:
        """One row per (sample, drug) for checked profiles: prediction, interval, percentile and relative call (also
        within ``tissue``'s GDSC lines when one is given), the drug's measured range, flag."""
        predictions = self.runtime.predict(report.profiles)
        percentile = self.calibration.percentile(predictions)
        columns = np.arange(len(self.drugs))
        if tissue and not self.lineages.lines(tissue):
            raise UserError(f"unknown tissue {tissue!r}; choose one of the GDSC tissues listed in the app.")
        tables = []
        for i, sample in enumerate(report.samples):
            part = self._columns(predictions[i], percentile[i], columns, PREDICTED)
            if tissue:
                within = self.lineages.percentile(predictions[i], tissue)
                among = f"{tissue} lines"
                part[f"percentile among {among} (held out)"] = within.round(1)
                part[f"call within {among}"] = [call_words(p, among) for p in within]
            tables.append(pl.DataFrame(part).insert_column(0, pl.Series("sample", [sample] * len(columns)))
                          .with_columns(pl.lit(report.flags[i] if report.flags else "").alias("flag")))
        return pl.concat(tables)

    def parse(self, source, name: str | None = None, mutations=None, mutations_name: str | None = None
              ) -> UploadReport:
        """Read and check an uploaded file (a path or its bytes), and an optional mutation file for the same samples,
        against this model's inputs, within the app's limits."""
        return parse_profiles(source, self.schema, self.limits, name, mutations, mutations_name)

    def predict_profile(self, source, name: str | None = None, mutations=None, tissue: str | None = None
                        ) -> tuple[pl.DataFrame, UploadReport]:
        """Every drug for every sample of an uploaded file (checked first), in the file's sample order."""
        report = self.parse(source, name, mutations)
        return self.score(report, tissue), report

    def context(self, report: UploadReport, sample: str, drug: str | None = None) -> dict:
        """For one uploaded sample: its unknown driver events that would move predictions, and the GDSC lines most
        like it (with their measured ln IC50 for ``drug``)."""
        row = report.samples.index(sample)
        effects = unknown_event_effects(self.runtime, report.profiles, row, self.schema.read_columns["drivers"],
                                        self.drugs)
        rows, r = similar_lines(report.profiles["expression"][row], self.catalog.profiles["expression"],
                                self.schema.read_columns["expression"])
        names = self.catalog.cell_lines["cell_line"].to_list()
        similar = [{"cell_line": names[i], "tissue": str(self.tissues[i]), "pearson_r": round(float(v), 3)}
                   for i, v in zip(rows, r)]
        if drug:
            for line in similar:
                measured = self._measured.get((line["cell_line"], drug))
                line[f"measured ln IC50, {drug}"] = None if measured is None else round(float(measured), 2)
        return {"unknown_events": effects, "similar_lines": similar}

    def provenance(self, source: str | None = None) -> str:
        """One line naming the model (and the input file) for the head of a download."""
        meta = self.runtime.metadata
        return (f"drugresponse model {meta.get('model_version')} ({meta.get('precision')}); ln IC50 in natural log of "
                f"µM; research use only" + (f"; input file: {source}" if source else ""))

    def model_info(self) -> dict:
        meta = self.runtime.metadata
        return {
            "model_version": meta.get("model_version"), "precision": meta.get("precision"), "units": meta.get("units"),
            "drugs": len(self.drugs), "genes": len(self.runtime.genes), "driver_events": len(self.runtime.driver_names),
            "reads": meta.get("reads"), "provider": self.runtime.provider,
            "data_sha256": meta.get("data_sha256"), "training": meta.get("training"), "metrics": meta.get("metrics"),
            "conformal_coverage": self.conformal.get("empirical_coverage"),
            "exceptional_responders": self.exceptional,
        }
