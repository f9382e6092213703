"""Read a user's own sample profiles from CSV, validate them, and lay them out as model inputs.

Two layouts are accepted (column names are case-insensitive):

- long: columns ``sample, gene, modality, value``, one row per measurement; ``modality`` is
  ``expression``, ``mutation`` or ``copy_number``;
- wide: a ``sample`` column, then one column per measurement named ``expression:GENE``,
  ``mutation:GENE`` or ``copy_number:GENE``.

Values: expression on a log scale (log2 TPM/FPKM, microarray log intensities or z-scores: each
sample is z-scored inside the model, so any log scale works); mutation 0/1; copy number -1 (loss),
0 (neutral), 1 (gain). Genes the model does not know are ignored and counted; genes it needs but the
file lacks are imputed inside the model (training mean) and counted. An empty cell is a missing value.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .runtime import MODALITIES

MAX_BYTES = 50 * 1024 * 1024
MAX_SAMPLES = 500
MIN_EXPRESSION_FRACTION = 0.2  # below this share of the model's genes, a prediction is mostly imputation
RAW_COUNT_MAX = 100.0  # log-scale expression stays far below this; raw counts or TPM do not
ALLOWED = {"mutation": {0.0, 1.0}, "copy_number": {-1.0, 0.0, 1.0}}


@dataclass
class UploadReport:
    samples: list[str]
    profiles: dict[str, np.ndarray]  # float32 [samples, genes], NaN where missing
    unknown_genes: dict[str, int] = field(default_factory=dict)  # per modality
    imputed_genes: dict[str, list[int]] = field(default_factory=dict)  # per modality, per sample

    def summary(self) -> str:
        lines = [f"{len(self.samples)} sample(s): {', '.join(self.samples[:10])}{' …' if len(self.samples) > 10 else ''}"]
        for m in MODALITIES:
            imputed = self.imputed_genes.get(m, [])
            lines.append(f"- {m}: {self.unknown_genes.get(m, 0)} unknown gene(s) ignored; missing genes imputed "
                         f"per sample: {', '.join(str(n) for n in imputed[:10])}{' …' if len(imputed) > 10 else ''}")
        return "\n".join(lines)


def _read_csv(data: bytes) -> pl.DataFrame:
    if len(data) == 0:
        raise UserError("the file is empty; expected a CSV of sample profiles (see the format above).")
    if len(data) > MAX_BYTES:
        raise UserError(f"the file is {len(data) / 1e6:.1f} MB; at most {MAX_BYTES / 1e6:.0f} MB is accepted.")
    try:
        table = pl.read_csv(io.BytesIO(data), infer_schema_length=0)  # all strings: we check numbers ourselves
    except pl.exceptions.PolarsError as exc:
        raise UserError(f"the file is not a readable CSV: {exc}".split("\n")[0]) from exc
    if table.height == 0:
        raise UserError("the CSV has a header but no rows; expected at least one sample.")
    return table.rename({c: c.strip() for c in table.columns})


def _numbers(values: pl.Series, line_offset: int, what: str) -> np.ndarray:
    text = values.str.strip_chars()
    parsed = text.cast(pl.Float64, strict=False)
    bad = (parsed.is_null() & text.is_not_null() & (text != "")) | parsed.is_infinite()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise UserError(f"line {i + line_offset}: {what} value {values[i]!r} is not a number.")
    return parsed.to_numpy().astype(np.float64)


def _long_to_cells(table: pl.DataFrame) -> dict[tuple[str, str, str], float]:
    cols = {c.lower(): c for c in table.columns}
    table = table.select(*(pl.col(cols[c]).alias(c) for c in ("sample", "gene", "modality", "value")))
    values = _numbers(table["value"], 2, "the")
    modality = table["modality"].str.strip_chars().str.to_lowercase()
    unknown = ~modality.is_in(list(MODALITIES))
    if unknown.any():
        i = int(unknown.arg_true()[0])
        raise UserError(f"line {i + 2}: modality {table['modality'][i]!r} is not one of {', '.join(MODALITIES)}.")
    return {(s, m, g.strip()): v for s, m, g, v in zip(table["sample"], modality, table["gene"], values)}


def _wide_to_cells(table: pl.DataFrame) -> dict[tuple[str, str, str], float]:
    sample_col = next(c for c in table.columns if c.lower() == "sample")
    cells = {}
    for column in table.columns:
        if column == sample_col:
            continue
        modality, _, gene = column.partition(":")
        modality = modality.strip().lower()
        if not gene or modality not in MODALITIES:
            raise UserError(f"column {column!r} is not of the form modality:GENE with modality one of "
                            f"{', '.join(MODALITIES)}.")
        values = _numbers(table[column], 2, f"{column}")
        for sample, value in zip(table[sample_col], values):
            cells[(sample, modality, gene.strip())] = value
    return cells


def _check_scale(profiles: dict[str, np.ndarray], samples: list[str]) -> None:
    for modality, allowed in ALLOWED.items():
        values = profiles[modality]
        bad = ~np.isnan(values) & ~np.isin(values, list(allowed))
        if bad.any():
            s, g = np.argwhere(bad)[0]
            raise UserError(f"sample {samples[s]!r}: {modality} value {values[s, g]:g} is not allowed; expected "
                            f"{', '.join(f'{v:g}' for v in sorted(allowed))}.")
    expression = profiles["expression"]
    for s, sample in enumerate(samples):
        row = expression[s][~np.isnan(expression[s])]
        if row.size and np.max(np.abs(row)) > RAW_COUNT_MAX:
            raise UserError(f"sample {sample!r}: expression reaches {np.max(np.abs(row)):g}, which looks like raw "
                            f"counts or linear TPM; expected log-scale values (e.g. log2(TPM + 1)).")


def parse_profiles(data: bytes, genes: list[str]) -> UploadReport:
    """Validate a CSV upload and return model inputs in the model's gene order."""
    table = _read_csv(data)
    lower = {c.lower() for c in table.columns}
    if {"sample", "gene", "modality", "value"} <= lower:
        cells = _long_to_cells(table)
    elif "sample" in lower and any(":" in c for c in table.columns):
        cells = _wide_to_cells(table)
    else:
        raise UserError("unrecognised layout: expected long columns sample,gene,modality,value or wide columns "
                        "sample,expression:GENE,mutation:GENE,copy_number:GENE.")
    samples = sorted({s for s, _, _ in cells}, key=str)
    if any(s is None or str(s).strip() == "" for s in samples):
        raise UserError("some rows have no sample name; every row needs one.")
    if len(samples) > MAX_SAMPLES:
        raise UserError(f"{len(samples)} samples; at most {MAX_SAMPLES} are accepted per file.")
    sample_index = {s: i for i, s in enumerate(samples)}
    gene_index = {g: j for j, g in enumerate(genes)}
    profiles = {m: np.full((len(samples), len(genes)), np.nan, dtype=np.float32) for m in MODALITIES}
    unknown = {m: set() for m in MODALITIES}
    for (sample, modality, gene), value in cells.items():
        j = gene_index.get(gene)
        if j is None:
            unknown[modality].add(gene)
        elif not np.isnan(value):
            profiles[modality][sample_index[sample], j] = value
    _check_scale(profiles, samples)
    present = (~np.isnan(profiles["expression"])).sum(axis=1)
    too_few = present < MIN_EXPRESSION_FRACTION * len(genes)
    if too_few.any():
        s = int(np.argmax(too_few))
        raise UserError(f"sample {samples[s]!r} has expression for {present[s]} of the model's {len(genes)} genes; "
                        f"at least {int(MIN_EXPRESSION_FRACTION * 100)}% are needed for a meaningful prediction.")
    return UploadReport(
        samples=[str(s) for s in samples], profiles=profiles,
        unknown_genes={m: len(v) for m, v in unknown.items()},
        imputed_genes={m: [int(n) for n in np.isnan(profiles[m]).sum(axis=1)] for m in MODALITIES})
