"""Read users' own sample profiles (CSV or parquet), validate them, and lay them out as model inputs.

Two layouts are accepted (column names are case-insensitive):

- long: columns ``sample, gene, modality, value``, one row per measurement; ``modality`` is
  ``expression``, ``mutation``, ``copy_number`` or ``driver`` (then ``gene`` names the event, e.g. ``BRAF_mut``);
- wide: a ``sample`` column, then one column per measurement named ``expression:GENE``,
  ``mutation:GENE``, ``copy_number:GENE`` or ``driver:EVENT``.

Values: expression on the log scale of one sample's own profile (log2 TPM/FPKM, microarray log
intensities or within-sample z-scores; each sample is normalised inside the model against where its
measured genes sit in a typical GDSC line); mutation 0/1; copy number -1 (loss), 0 (neutral), 1 (gain);
driver events 0/1 (GDSC's cancer functional events: ``BRAF_mut``, ``TP53_mut``, ``BCR-ABL_mut``,
``gain_cnaPANCAN301_(CDK12,ERBB2,MED24)``, ``MSI_FACTOR``...). A panel result is enough for drivers:
give the events you know (``BRAF_mut`` = 1, ``TP53_mut`` = 0); an event you leave out is unknown, which
the model never reads as absent. Features the model does not know are ignored and counted; features it
reads but the file lacks are imputed inside the model (training mean) and counted. An empty cell (or NA,
NaN, N/A, null) is a missing value. Samples keep the file's order; a sample needs expression for at least half of the
model's expression genes, and one with fewer than 90% of them is flagged in the results.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .runtime import MODALITIES

MAX_BYTES = 50_000_000  # 50 MB, as the messages and the README say
MAX_SAMPLES = 500
# Share of the model's own expression genes a sample must measure (see benchmarks/partial_profiles.py for
# how far predictions move as that share falls): below REFUSE_BELOW a prediction is mostly imputation and is
# refused; below FLAG_BELOW it is returned with a flag.
REFUSE_BELOW = 0.5
FLAG_BELOW = 0.9
RAW_COUNT_MAX = 100.0  # log-scale expression stays far below this; raw counts or linear TPM do not
ALLOWED = {"mutation": {0.0, 1.0}, "copy_number": {-1.0, 0.0, 1.0}, "drivers": {0.0, 1.0}}
MODALITY_NAMES = {"expression": "expression", "mutation": "mutation", "copy_number": "copy_number",
                  "driver": "drivers", "drivers": "drivers"}
ACCEPTED = "expression, mutation, copy_number or driver"
MISSING = ["", "na", "nan", "n/a", "null", "none"]  # cells read as a missing value (case-insensitive)


@dataclass(frozen=True)
class ProfileSchema:
    """What a model takes: the features of each input and the ones it reads."""

    features: dict[str, list[str]]  # modality -> column names in input order
    features_read: dict[str, list[str]]

    @classmethod
    def of(cls, runtime) -> "ProfileSchema":
        return cls({m: runtime.features(m) for m in MODALITIES}, runtime.features_read)

    @property
    def read_columns(self) -> dict[str, np.ndarray]:
        """Column indices of the features the model reads, per modality."""
        if "_read_columns" not in self.__dict__:  # computed once: validation runs for every chunk of a cohort
            position = {m: {f: j for j, f in enumerate(self.features[m])} for m in MODALITIES}
            object.__setattr__(self, "_read_columns", {m: np.array([position[m][f] for f in self.features_read[m]],
                                                                   dtype=np.int64) for m in MODALITIES})
        return self.__dict__["_read_columns"]


@dataclass
class UploadReport:
    samples: list[str]
    profiles: dict[str, np.ndarray]  # float32 [samples, features], NaN where missing
    unknown_features: dict[str, int] = field(default_factory=dict)  # per modality: names the model does not know
    imputed: dict[str, list[int]] = field(default_factory=dict)  # per modality, per sample: read features missing
    read: dict[str, int] = field(default_factory=dict)  # per modality: features the model reads
    flags: list[str] = field(default_factory=list)  # per sample: why its result is less trustworthy, or ""

    def summary(self) -> str:
        lines = [f"{len(self.samples)} sample(s): {', '.join(self.samples[:10])}{' …' if len(self.samples) > 10 else ''}"]
        for m in MODALITIES:
            imputed = self.imputed.get(m, [])
            if not self.read.get(m):
                lines.append(f"- {m}: not read by this model" + (" (values ignored)" if self._given(m) else ""))
                continue
            lines.append(f"- {m}: {self.unknown_features.get(m, 0)} unknown name(s) ignored; of the "
                         f"{self.read[m]} {m} features the model reads, missing (imputed) per sample: "
                         f"{', '.join(str(n) for n in imputed[:10])}{' …' if len(imputed) > 10 else ''}")
        flagged = [f"{s}: {f}" for s, f in zip(self.samples, self.flags) if f]
        if flagged:
            lines.append("- flagged: " + "; ".join(flagged[:10]) + (" …" if len(flagged) > 10 else ""))
        return "\n".join(lines)

    def _given(self, modality: str) -> bool:
        return bool(np.isfinite(self.profiles[modality]).any())


def read_csv_bytes(data: bytes) -> pl.DataFrame:
    """The CSV as strings (we check numbers ourselves), refusing empty or oversized files."""
    if len(data) == 0:
        raise UserError("the file is empty; expected a CSV of sample profiles (see the format above).")
    if len(data) > MAX_BYTES:
        raise UserError(f"the file is {len(data) / 1e6:.1f} MB; at most {MAX_BYTES / 1e6:.0f} MB is accepted.")
    check_header(next(csv.reader(io.StringIO(data.split(b"\n", 1)[0].decode("utf-8", "replace")))))
    try:
        table = pl.read_csv(io.BytesIO(data), infer_schema_length=0)
    except pl.exceptions.PolarsError as exc:
        raise UserError(f"the file is not a readable CSV: {exc}".split("\n")[0]) from exc
    if table.height == 0:
        raise UserError("the CSV has a header but no rows; expected at least one sample.")
    return table


def check_header(columns: list[str]) -> None:
    """Refuse a header that names a column twice (a reader would silently rename one)."""
    seen = set()
    for column in columns:
        key = column.strip().lower()
        if key in seen:
            raise UserError(f"column {column.strip()!r} appears more than once in the header; give each column once.")
        seen.add(key)


def layout_of(columns: list[str]) -> str:
    """``long`` or ``wide``, or a clear refusal."""
    lower = {c.strip().lower() for c in columns}
    if {"sample", "gene", "modality", "value"} <= lower:
        return "long"
    if "sample" in lower and any(":" in c for c in columns):
        return "wide"
    raise UserError("unrecognised layout: expected long columns sample,gene,modality,value or wide columns "
                    "sample,expression:GENE,mutation:GENE,copy_number:GENE,driver:EVENT.")


def _line(first_line: int | np.ndarray, i: int) -> int:
    """The file line of a chunk's row ``i``: ``first_line + i``, or looked up when the chunk's rows are scattered."""
    return int(first_line[i]) if isinstance(first_line, np.ndarray) else first_line + i


def _parse_numbers(block: pl.DataFrame, first_line: int | np.ndarray, what: str | None = None) -> np.ndarray:
    """float32 [rows, columns] (NaN for empty cells); refuse text or infinities, naming the line and column."""
    if all(dtype.is_numeric() for dtype in set(block.dtypes)):  # set: a cohort has thousands of same-typed columns
        values = block.to_numpy().astype(np.float32, copy=False)
        bad = np.isinf(values)
    else:
        text = block.select(pl.all().cast(pl.String).str.strip_chars())
        parsed = text.select(pl.all().cast(pl.Float32, strict=False))
        values = parsed.to_numpy()
        blank = text.select(pl.all().is_null() | pl.all().str.to_lowercase().is_in(MISSING)).to_numpy()
        bad = (np.isnan(values) & ~blank) | np.isinf(values)
        values = values.astype(np.float32, copy=False)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise UserError(f"line {_line(first_line, i)}: {what or block.columns[j]} value {block[i, j]!r} is not a number.")
    return values


def _sample_names(values: pl.Series, first_line: int | np.ndarray) -> pl.Series:
    names = values.cast(pl.String).str.strip_chars()
    empty = names.is_null() | (names == "")
    if empty.any():
        raise UserError(f"line {_line(first_line, int(empty.arg_true()[0]))}: the row has no sample name; every row "
                        "needs one.")
    return names


class Layout:
    """Turns one chunk of a table (all its rows belong to whole samples) into model inputs."""

    def __init__(self, schema: ProfileSchema):
        self.schema = schema
        self.index = {m: {name: j for j, name in enumerate(schema.features[m])} for m in MODALITIES}
        self._blocks: dict[tuple[str, int], np.ndarray] = {}
        self._placements: dict[tuple[str, ...], tuple[str, dict, dict]] = {}

    def _empty(self, n: int) -> dict[str, np.ndarray]:
        return {m: np.full((n, len(self.schema.features[m])), np.nan, dtype=np.float32) for m in MODALITIES}

    def _unknown(self, modality: str, n: int) -> np.ndarray:
        """A read-only all-NaN block for a modality the file does not give (reused across a cohort's chunks)."""
        key = (modality, n)
        if key not in self._blocks:
            block = np.full((n, len(self.schema.features[modality])), np.nan, dtype=np.float32)
            block.flags.writeable = False
            self._blocks = {key: block, **{k: v for k, v in self._blocks.items() if k[1] == n}}
        return self._blocks[key]

    def wide(self, table: pl.DataFrame, first_line: int | np.ndarray = 2) -> tuple[list[str], dict, dict]:
        sample_col, placed, unknown = self._placement(tuple(table.columns))
        names = _sample_names(table[sample_col], first_line)
        repeated = names.is_duplicated()
        if repeated.any():
            raise UserError(f"sample {names.filter(repeated)[0]!r} has more than one row; in the wide layout each "
                            "sample is one row.")
        profiles = {}
        for modality, (columns, indices) in placed.items():
            if not columns:
                profiles[modality] = self._unknown(modality, table.height)
                continue
            values = np.full((table.height, len(self.schema.features[modality])), np.nan, dtype=np.float32)
            # one bulk conversion per modality: a cohort file has tens of thousands of columns
            values[:, indices] = _parse_numbers(table.select(pl.col(columns)), first_line)
            profiles[modality] = values
        return names.to_list(), profiles, dict(unknown)

    def _placement(self, header: tuple[str, ...]) -> tuple[str, dict, dict]:
        """(sample column, modality -> (columns, model indices), unknown names per modality) for a wide header;
        a cohort's chunks share one header, so it is placed once."""
        if header not in self._placements:
            self._placements = {header: self._place(header)}
        return self._placements[header]

    def _place(self, header: tuple[str, ...]) -> tuple[str, dict, dict]:
        sample_col = next(c for c in header if c.strip().lower() == "sample")
        unknown = {m: 0 for m in MODALITIES}
        placed: dict[str, tuple[list[str], list[int]]] = {m: ([], []) for m in MODALITIES}
        seen: set[tuple[str, int]] = set()
        for column in header:
            if column == sample_col:
                continue
            prefix, _, name = column.partition(":")
            modality = MODALITY_NAMES.get(prefix.strip().lower())
            if not name.strip() or modality is None:
                raise UserError(f"column {column!r} is not of the form modality:NAME with modality one of {ACCEPTED}.")
            j = self.index[modality].get(name.strip())
            if j is None:
                unknown[modality] += 1
            elif (modality, j) in seen:
                raise UserError(f"{modality} {name.strip()!r} has more than one column; give each once.")
            else:
                seen.add((modality, j))
                placed[modality][0].append(column)
                placed[modality][1].append(j)
        return sample_col, placed, unknown

    def long(self, table: pl.DataFrame, first_line: int | np.ndarray = 2) -> tuple[list[str], dict, dict]:
        cols = {c.strip().lower(): c for c in table.columns}
        table = table.select(*(pl.col(cols[c]).alias(c) for c in ("sample", "gene", "modality", "value")))
        names = _sample_names(table["sample"], first_line)
        modality = table["modality"].cast(pl.String).str.strip_chars().str.to_lowercase()
        bad = ~modality.is_in(list(MODALITY_NAMES)) | modality.is_null()
        if bad.any():
            i = int(bad.arg_true()[0])
            raise UserError(f"line {_line(first_line, i)}: modality {table['modality'][i]!r} is not one of {ACCEPTED}.")
        keys = pl.DataFrame({"sample": names, "modality": modality.replace_strict(MODALITY_NAMES),
                             "gene": table["gene"].cast(pl.String).str.strip_chars()})
        repeated = keys.select(~pl.struct(pl.all()).is_first_distinct()).to_series()  # the second and later copies
        if repeated.any():
            i = int(repeated.arg_true()[0])
            raise UserError(f"line {_line(first_line, i)}: sample {keys['sample'][i]!r} has {keys['modality'][i]} for "
                            f"{keys['gene'][i]!r} more than once; give each measurement once.")
        values = _parse_numbers(table.select("value"), first_line, "the")[:, 0]
        samples = names.unique(maintain_order=True).to_list()
        rows = names.replace_strict({s: i for i, s in enumerate(samples)}, return_dtype=pl.Int64).to_numpy()
        profiles, unknown = self._empty(len(samples)), {}
        for m in MODALITIES:
            part = (keys["modality"] == m).to_numpy()
            columns = keys["gene"].filter(part).replace_strict(self.index[m], default=-1,
                                                                 return_dtype=pl.Int64).to_numpy()
            known = columns >= 0
            unknown[m] = int(keys["gene"].filter(part).filter(pl.Series(~known)).n_unique())
            profiles[m][rows[part][known], columns[known]] = values[part][known]
        return samples, profiles, unknown


def _check_values(samples: list[str], profiles: dict[str, np.ndarray]) -> None:
    for modality, allowed in ALLOWED.items():
        values = profiles[modality]
        if not values.flags.writeable:  # a block of unknowns the file did not give: nothing to check
            continue
        bad = ~np.isnan(values)
        for value in allowed:  # cheaper than np.isin on a cohort's worth of values
            bad &= values != value
        if bad.any():
            s, g = np.argwhere(bad)[0]
            raise UserError(f"sample {samples[s]!r}: {modality} value {values[s, g]:g} is not allowed; expected "
                            f"{', '.join(f'{v:g}' for v in sorted(allowed))}.")
    expression = profiles["expression"]
    largest = np.fmax.reduce(np.abs(expression), axis=1)  # fmax skips NaN; an all-missing sample gives NaN
    if (largest > RAW_COUNT_MAX).any():
        s = int(np.argmax(largest > RAW_COUNT_MAX))
        raise UserError(f"sample {samples[s]!r}: expression reaches {largest[s]:g}, which looks like raw counts or "
                        f"linear TPM; expected log-scale values (e.g. log2(TPM + 1)).")


def validate(samples: list[str], profiles: dict[str, np.ndarray], unknown: dict[str, int],
             schema: ProfileSchema) -> UploadReport:
    """Check values and coverage; refuse what cannot be predicted, flag what is less trustworthy."""
    _check_values(samples, profiles)
    index = schema.read_columns
    imputed = {m: np.isnan(profiles[m][:, index[m]]).sum(axis=1).astype(int).tolist() for m in MODALITIES}
    n_genes = len(index["expression"])
    present = n_genes - np.asarray(imputed["expression"])
    if (present < REFUSE_BELOW * n_genes).any():
        s = int(np.argmax(present < REFUSE_BELOW * n_genes))
        raise UserError(f"sample {samples[s]!r} has expression for {present[s]} of the {n_genes} genes the model "
                        f"reads; at least {REFUSE_BELOW:.0%} are needed for a prediction that is not mostly "
                        f"imputation.")
    flags = [f"expression for {p} of the model's {n_genes} genes (fewer than {FLAG_BELOW:.0%}): the rest are "
             f"imputed, so predictions are less certain" if p < FLAG_BELOW * n_genes else "" for p in present]
    return UploadReport(samples, profiles, unknown, imputed, {m: len(index[m]) for m in MODALITIES}, flags)


def parse_profiles(data: bytes, schema: ProfileSchema) -> UploadReport:
    """Validate a CSV upload (at most ``MAX_SAMPLES`` samples) and return model inputs in the model's order."""
    table = read_csv_bytes(data)
    layout = Layout(schema)
    samples, profiles, unknown = getattr(layout, layout_of(table.columns))(table)
    if len(samples) > MAX_SAMPLES:
        raise UserError(f"{len(samples)} samples; at most {MAX_SAMPLES} are accepted per file (for more, use "
                        "`drugresponse predict`).")
    return validate(samples, profiles, unknown, schema)
