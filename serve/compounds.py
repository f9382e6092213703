"""New compounds: a SMILES string in, predicted ln IC50 for every GDSC line (or uploaded sample) out, with context.

The structure model (``compound.onnx``, see ``train/compounds/two_tower.py``) reads the compound's Morgan bits and
each line's ln IC50 for the screened GDSC2 drugs (its anchors): a GDSC line brings its measurements (NaN where not
measured, as in training); a line outside GDSC2 and an uploaded sample bring the genomic model's predictions. Its
80% interval is ŷ ± q·σ̂ with q from leave-drug-out residuals: the known-line q for GDSC lines, the double-cold-start
q for samples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl

from drugresponse.compound_structure import Compound, morgan_bits, standardise
from drugresponse.errors import UserError

from .runtime import session_options

PREDICTED, LOW, HIGH = "predicted ln IC50 (ln µM)", "80% interval low", "80% interval high"
NEAREST = 5
MEASURED, NEW = "measured ln IC50, known drug", "predicted ln IC50, new compound"


@dataclass
class CompoundModel:
    session: ort.InferenceSession
    meta: dict

    @classmethod
    def load(cls, assets: Path) -> "CompoundModel | None":
        path, sidecar = Path(assets) / "compound.onnx", Path(assets) / "compound.json"
        if not path.is_file() or not sidecar.is_file():
            return None
        session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
        return cls(session, json.loads(sidecar.read_text()))

    def fingerprint(self, compound: Compound) -> np.ndarray:
        fp = self.meta["fingerprint"]
        return morgan_bits(compound, fp["radius"], fp["size"])[None, :]

    def run(self, fingerprints: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ln IC50 [compounds, lines], σ̂ [compounds], similarity [compounds, known drugs]."""
        return tuple(self.session.run(["ln_ic50", "scale", "similarity"],
                                      {"fingerprint": np.ascontiguousarray(fingerprints, dtype=np.float32),
                                       "anchor_ln_ic50": np.ascontiguousarray(anchors, dtype=np.float32)}))


def anchor_columns(model_drugs: list[str], anchors: list[str]) -> np.ndarray:
    """Where the structure model's anchor drugs (GDSC2's) sit among the genomic model's outputs."""
    index = {d: j for j, d in enumerate(model_drugs)}
    missing = [d for d in anchors if d not in index]
    if missing:
        raise UserError(f"the genomic model does not predict {len(missing)} of the structure model's anchor drugs (e.g. "
                        f"{missing[0]!r}); re-run `drugresponse export --compound` for this model.")
    return np.array([index[d] for d in anchors], dtype=np.int64)


def gdsc_line_anchors(catalog, runtime, anchors: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """[catalog lines, anchors]: each GDSC line's measured ln IC50 (NaN where not measured, as in training); a line
    with no measurement at all (outside the screen) gets the genomic model's predictions instead, and is marked in
    the second array (its interval is a new line's)."""
    index = {d: j for j, d in enumerate(anchors)}
    rows = {c: i for i, c in enumerate(catalog.cell_lines["cell_line"])}
    measured = np.full((catalog.cell_lines.height, len(anchors)), np.nan, dtype=np.float32)
    m = catalog.measured.filter(pl.col("drug").is_in(anchors) & pl.col("cell_line").is_in(list(rows)))
    measured[[rows[c] for c in m["cell_line"]], [index[d] for d in m["drug"]]] = m["ln_ic50"].to_numpy()
    unmeasured = np.flatnonzero(np.isnan(measured).all(axis=1))
    if len(unmeasured):
        predicted = runtime.predict({k: v[unmeasured] for k, v in catalog.profiles.items()})
        measured[unmeasured] = predicted[:, anchor_columns(runtime.drugs, anchors)]
    return measured, np.isin(np.arange(len(measured)), unmeasured)


class CompoundService:
    """What the "New compound" tab, ``/predict_compound`` and ``drugresponse screen`` do."""

    def __init__(self, model: CompoundModel, service):
        self.model, self.service = model, service
        catalog = service.catalog
        self.anchor_columns = anchor_columns(service.drugs, model.meta["anchors"])
        self.line_anchors, self.predicted_anchors = gdsc_line_anchors(catalog, service.runtime, model.meta["anchors"])
        self.lines = catalog.cell_lines.select("cell_line", "tissue")
        self.known = model.meta["known_drugs"]
        known_measured = catalog.measured.filter(pl.col("drug").is_in(self.known))
        self.known_summary = {d: g for (d,), g in known_measured.group_by("drug")}

    def read(self, smiles: str) -> tuple[Compound, np.ndarray]:
        compound = standardise(smiles)
        return compound, self.model.fingerprint(compound)

    def interval(self, predicted: np.ndarray, scale: float, new_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 80% interval per line: the known-line q where its anchors are measured, else the new-line q."""
        q = self.model.meta["intervals"]
        half = np.where(new_line, q["double"]["q"], q["single"]["q"]) * scale
        return predicted - half, predicted + half

    def predict_lines(self, smiles: str) -> tuple[Compound, pl.DataFrame, np.ndarray]:
        """Every GDSC line, most sensitive first; and the similarity to each known drug."""
        compound, fp = self.read(smiles)
        predicted, scale, similarity = self.model.run(fp, self.line_anchors)
        low, high = self.interval(predicted[0], scale[0], self.predicted_anchors)
        table = self.lines.with_columns(pl.Series(PREDICTED, predicted[0].astype(np.float64).round(3)),
                                        pl.Series(LOW, low.astype(np.float64).round(2)),
                                        pl.Series(HIGH, high.astype(np.float64).round(2)))
        return compound, table.sort(PREDICTED), similarity[0]

    def predict_samples(self, smiles: str, report) -> tuple[Compound, pl.DataFrame]:
        """Each uploaded sample: its anchors are the genomic model's predictions for the screened drugs."""
        compound, fp = self.read(smiles)
        anchors = self.service.runtime.predict(report.profiles)[:, self.anchor_columns]
        predicted, scale, _ = self.model.run(fp, anchors)
        low, high = self.interval(predicted[0], scale[0], np.ones(len(report.samples), dtype=bool))
        table = pl.DataFrame({"sample": report.samples, PREDICTED: predicted[0].astype(np.float64).round(3),
                              LOW: low.astype(np.float64).round(2), HIGH: high.astype(np.float64).round(2)})
        return compound, table

    @staticmethod
    def tissues(table: pl.DataFrame) -> pl.DataFrame:
        """Per tissue: lines and the median prediction, most sensitive tissue first."""
        return (table.group_by("tissue").agg(pl.len().alias("lines"), pl.col(PREDICTED).median().round(3)
                                             .alias(f"median {PREDICTED}"))
                .sort(f"median {PREDICTED}"))

    def nearest(self, similarity: np.ndarray, predicted: pl.DataFrame) -> pl.DataFrame:
        """The most similar known drugs by Tanimoto, their measured ln IC50 across GDSC lines, and how their measured
        profile correlates with this compound's predicted one."""
        order = np.argsort(-similarity, kind="stable")[:NEAREST]
        rows = []
        mine = dict(zip(predicted["cell_line"], predicted[PREDICTED]))
        for j in order:
            drug = self.known[j]
            measured = self.known_summary[drug]
            values = measured["ln_ic50"].to_numpy()
            paired = np.array([(v, mine[c]) for c, v in zip(measured["cell_line"], values) if c in mine])
            r = float(np.corrcoef(paired[:, 0], paired[:, 1])[0, 1]) if len(paired) > 2 else float("nan")
            rows.append({"known drug": drug, "Tanimoto similarity": round(float(similarity[j]), 3),
                         "lines measured": len(values), "measured median ln IC50": round(float(np.median(values)), 2),
                         "measured 10th-90th percentile": f"{np.quantile(values, 0.1):.2f} to "
                                                          f"{np.quantile(values, 0.9):.2f}",
                         "r with this prediction": round(r, 2)})
        return pl.DataFrame(rows)

    def nearest_profile(self, drug: str, predicted: pl.DataFrame) -> pl.DataFrame:
        """For a plot: the known drug's measured ln IC50 against this compound's prediction, line by line."""
        if drug not in self.known_summary:
            raise UserError(f"unknown known drug {drug!r}; choose one of the nearest drugs listed.")
        measured = self.known_summary[drug].select("cell_line", pl.col("ln_ic50").alias(MEASURED))
        return predicted.select("cell_line", "tissue", pl.col(PREDICTED).alias(NEW)).join(
            measured, on="cell_line")

    def accuracy(self) -> dict:
        return self.model.meta["leave_drug_out"]

    def caption(self) -> str:
        return accuracy_caption(self.model.meta)


def _record(meta: dict, setting: str, model: str) -> dict:
    return next(r for r in meta["leave_drug_out"]["records"] if r["setting"] == setting and r["model"] == model)


def accuracy_caption(meta: dict) -> str:
    """What leave-drug-out measured, in words, for the tab and the API."""
    ldo = meta["leave_drug_out"]
    mine, naive = _record(meta, "single", "two_tower"), _record(meta, "single", "cell_line_mean")
    shuffled = _record(meta, "single", "two_tower_shuffled")
    cold, cold_naive = _record(meta, "double", "two_tower"), _record(meta, "double", "cell_line_mean")
    vs = next(c for c in ldo["comparisons"] if c["setting"] == "single" and c["other"] == "two_tower_shuffled")
    vs_naive = next(c for c in ldo["comparisons"] if c["setting"] == "single" and c["other"] == "cell_line_mean")
    single, double = meta["intervals"]["single"], meta["intervals"]["double"]
    return (
        f"**How far to trust this.** Measured leave-drug-out on {ldo['drugs']} GDSC2 drugs with a structure "
        f"({ldo['folds']} folds by drug, seed {ldo['seed']}): for a drug the model never saw, RMSE "
        f"{mine['rmse']:.2f} ln µM, pooled R² {mine['r2']:.2f}, per-drug Pearson across lines {mine['per_drug_pearson']:.2f}. "
        f"The cell-line mean alone (no structure: each line's general sensitivity) gets {naive['rmse']:.2f}, "
        f"{naive['r2']:.2f} and {naive['per_drug_pearson']:.2f}; the same model with shuffled fingerprints "
        f"{shuffled['rmse']:.2f}, {shuffled['r2']:.2f}, {shuffled['per_drug_pearson']:.2f}. So the structure "
        f"contributes mainly the drug's overall potency (pooled R² +{vs['r2']['delta']:.2f}, 95% CI "
        f"[{vs['r2']['ci95'][0]:+.2f}, {vs['r2']['ci95'][1]:+.2f}] over drugs); which lines respond most comes mostly "
        f"from the lines' general sensitivity (per-drug Pearson +{vs['per_drug_pearson']['delta']:.3f} over shuffled "
        f"fingerprints, +{vs_naive['per_drug_pearson']['delta']:.3f} over the cell-line mean). For an "
        f"uploaded sample (new drug and new line) per-drug Pearson is {cold['per_drug_pearson']:.2f} (cell-line mean "
        f"{cold_naive['per_drug_pearson']:.2f}). "
        f"The 80% intervals hold for 80% of held-out pairs ({single['coverage_across_folds']:.1%} across folds; "
        f"{double['coverage_across_folds']:.1%} for new samples), but not per compound: when the potency is "
        f"mispredicted, most of a compound's lines fall outside together (for {single['per_drug_coverage']['below_half']} "
        f"of {single['per_drug_coverage']['drugs']} held-out drugs, fewer than half of their lines were inside)."
        + _external(ldo) + " **Only anticancer drugs were learned:** every GDSC drug is active against some lines, so "
        "a compound that is not (a sugar, a solvent) still gets a typical drug's potency; the model cannot tell an "
        "inactive compound from an active one. Research use only.")


def _external(ldo: dict) -> str:
    outside = ldo.get("external_gdsc1")
    if not outside:
        return ""
    r = outside["records"]
    return (f" On {outside['drugs']} GDSC1 drugs GDSC2 never screened, against GDSC1's measurements (another assay), "
            f"per-drug Pearson was {r['two_tower']['per_drug_pearson']:.2f} (cell-line mean "
            f"{r['cell_line_mean']['per_drug_pearson']:.2f}).")
