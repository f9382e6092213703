"""The app's own two layouts, read chunk by chunk into a sample's model inputs.

- long: columns ``sample, gene, modality, value``, one row per measurement; ``modality`` is ``expression``,
  ``mutation``, ``copy_number`` or ``driver`` (then ``gene`` names the event);
- wide: a ``sample`` column, then one column per measurement named ``expression:GENE``, ``mutation:GENE``,
  ``copy_number:GENE`` or ``driver:EVENT``.

Column names are case-insensitive. Gene and event names go through the schema's resolvers (model names, case,
Ensembl IDs, HGNC symbols; event aliases); what the model does not know is counted and ignored.

Columns and rows given more than once follow the rule of genes-as-rows tables (``gene_tables.combine``): names the
model does not know are ignored however often they appear; expression for one model gene given more than once (by
different names of one gene, a retired and a current symbol, KIAA1324 and ELAPOR1; or, in the long layout, in
several rows of one sample) is combined, summed for a sample on a linear scale and averaged on a log scale, and
reported. In the app's wide layout the same column name of a model gene twice is refused (a column pasted twice),
unless the caller asks to combine it (``combine_repeated``, meant for genes-as-columns tables, where RNA-seq outputs
list some gene names twice). Other inputs given twice for one feature are refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from .cells import encode_names, line_of, parse_numbers, text_column
from .gene_tables import combine
from .identifiers import UNKNOWN, Resolution
from .limits import Limits
from .samples import SampleArrays
from .schema import ProfileSchema

MODALITY_NAMES = {"expression": "expression", "mutation": "mutation", "copy_number": "copy_number",
                  "driver": "drivers", "drivers": "drivers"}
ACCEPTED = "expression, mutation, copy_number or driver"
LONG_COLUMNS = ("sample", "gene", "modality", "value")
UNKNOWN_NAMES_KEPT = 50_000  # distinct unknown names remembered for the count (a file can invent millions)


def layout_of(header: list[str]) -> str | None:
    """``long``, ``wide``, or None when the header is not one of the app's own layouts."""
    lower = {c.strip().lower() for c in header}
    if set(LONG_COLUMNS) <= lower:
        return "long"
    if "sample" in lower and any(":" in c and c.split(":", 1)[0].strip().lower() in MODALITY_NAMES for c in header):
        return "wide"
    return None


def check_header(columns: list[str], allowed: set[str] = frozenset()) -> None:
    """Refuse a header that names a column twice (a reader would silently rename one), except the ``allowed`` names
    (lower case), whose repeats the caller handles."""
    seen = set()
    for column in columns:
        key = column.strip().lower()
        if key in seen and key not in allowed:
            raise UserError(f"column {column.strip()!r} appears more than once in the header; give each column once.")
        seen.add(key)


@dataclass
class Reading:
    """What reading a file found besides the values: names ignored, names renamed, per modality."""

    unknown: dict[str, set] = field(default_factory=lambda: {m: set() for m in MODALITIES})  # not ambiguous ones
    resolved: dict[str, Resolution] = field(default_factory=dict)
    ignored_inputs: Counter = field(default_factory=Counter)  # mutation:GENE given though the model reads events
    duplicates: dict[str, int] = field(default_factory=dict)  # model gene -> expression values combined into it
    repeated_in: str = "column"  # where those values were: columns (wide layouts), or one sample's rows (long)

    def note(self, modality: str, names, resolution: Resolution) -> None:
        unknown = self.unknown[modality]
        if len(unknown) < UNKNOWN_NAMES_KEPT:  # ambiguous names are reported as such, not as unknown
            unknown.update(np.asarray(names, dtype=object)[resolution.indices == UNKNOWN][:UNKNOWN_NAMES_KEPT].tolist())
            unknown.update(list(resolution.unknown_names)[:UNKNOWN_NAMES_KEPT])
        if modality in self.resolved:
            self.resolved[modality].merge(resolution)
        else:
            self.resolved[modality] = resolution


def resolve(schema: ProfileSchema, modality: str, names: list[str]) -> Resolution:
    if modality == "drivers":
        return schema.events.resolve(names, schema.genes)
    return schema.genes.resolve(names, set(schema.features_read[modality]))


class WideLayout:
    """``sample`` + ``modality:NAME`` columns; the header is placed once for a whole file. ``combine_repeated``: the
    same expression name twice is combined, not refused (a genes-as-columns table; see the module docstring)."""

    def __init__(self, header: list[str], schema: ProfileSchema, reading: Reading, combine_repeated: bool = False):
        check_header(header, _repeats_allowed(header, schema, combine_repeated))
        lower = [c.strip().lower() for c in header]
        self.sample = lower.index("sample")
        self.placed: dict[str, tuple[list[int], np.ndarray]] = {}
        by_modality: dict[str, tuple[list[int], list[str]]] = {m: ([], []) for m in MODALITIES}
        for position, column in enumerate(header):
            if position == self.sample:
                continue
            prefix, _, name = column.partition(":")
            modality = MODALITY_NAMES.get(prefix.strip().lower())
            if not name.strip() or modality is None:
                raise UserError(f"column {column!r} is not of the form modality:NAME with modality one of {ACCEPTED}.")
            by_modality[modality][0].append(position)
            by_modality[modality][1].append(name.strip())
        self.repeats: tuple[list[int], np.ndarray] = ([], np.zeros(0, np.int64))  # expression columns to combine
        for modality, (positions, names) in by_modality.items():
            resolution = resolve(schema, modality, names)
            reading.note(modality, names, resolution)
            known = np.flatnonzero(resolution.indices >= 0)
            first: dict[int, str] = {}
            placed, repeats = [], []
            for k in known.tolist():
                j, name = int(resolution.indices[k]), names[k]
                if j in first and modality != "expression":
                    raise UserError(f"{modality} columns {first[j]!r} and {name!r} are the same model feature "
                                    f"{schema.features[modality][j]!r}; give each once.")
                (repeats if j in first else placed).append(k)
                first.setdefault(j, name)
            self.placed[modality] = ([positions[k] for k in placed], resolution.indices[placed])
            if repeats:
                self.repeats = ([positions[k] for k in repeats], resolution.indices[repeats])
                counts = Counter(resolution.indices[known].tolist())
                reading.duplicates.update({schema.features[modality][j]: n for j, n in counts.items() if n > 1})
        self.header = header
        # every value column read in one block: placed columns by modality, then the repeats
        self.positions = [p for positions, _ in self.placed.values() for p in positions] + self.repeats[0]
        self.needed = sorted({self.sample, *self.positions})  # the columns read: a file's other columns never are

    def read(self, chunk: pl.DataFrame, first_line: int, arrays: SampleArrays, limits: Limits,
             seen: set | None = None) -> list[str]:
        names = text_column(chunk.get_column(f"c{self.sample}"), first_line, "sample name", limits).to_list()
        repeated = [n for n in names if n in arrays.index or (seen is not None and n in seen)]
        if repeated or len(set(names)) < len(names):
            name = repeated[0] if repeated else next(n for n, c in Counter(names).items() if c > 1)
            raise UserError(f"sample {name!r} has more than one row; in the wide layout each sample is one row.")
        rows = arrays.rows(names)
        if not self.positions:
            return names
        # every value column in one selection and one conversion: a cohort has thousands of columns
        values = parse_numbers(chunk.select([f"c{p}" for p in self.positions]), first_line,
                               [self.header[p] for p in self.positions])
        if self.repeats[0]:
            self._combine(values)
        start = 0
        contiguous = len(rows) and rows[-1] - rows[0] == len(rows) - 1  # new samples, in order: a slice of rows
        for modality, (positions, columns) in self.placed.items():
            if positions:
                part = values[:, start:start + len(positions)]
                if contiguous:
                    arrays.values[modality][rows[0]:rows[-1] + 1, columns] = part
                else:
                    arrays.values[modality][np.ix_(rows, columns)] = part
                start += len(positions)
        return names

    def _combine(self, values: np.ndarray) -> None:
        """Fold the repeated expression columns (the last block of ``values``) into their first column, per sample, by
        ``gene_tables.combine``: the sum on a linear scale, the mean on a log scale."""
        before = sum(len(p) for m, (p, _) in self.placed.items() if MODALITIES.index(m) < MODALITIES.index("expression"))
        placed = self.placed["expression"][1]
        expression = values[:, before:before + len(placed)]
        repeated = values[:, values.shape[1] - len(self.repeats[0]):]
        at = {j: i for i, j in enumerate(placed.tolist())}
        targets = np.array([at[j] for j in self.repeats[1].tolist()], np.int64)
        largest = np.fmax(np.fmax.reduce(expression, axis=1), np.fmax.reduce(repeated, axis=1))
        total, given = np.nan_to_num(expression).astype(np.float64), (~np.isnan(expression)).astype(np.int64)
        np.add.at(total.T, targets, np.nan_to_num(repeated).T)
        np.add.at(given.T, targets, (~np.isnan(repeated)).T)
        touched = np.unique(targets)
        expression[:, touched] = combine(total[:, touched], given[:, touched], largest)


def _repeats_allowed(header: list[str], schema: ProfileSchema, combine_repeated: bool) -> set[str]:
    """Column names (lower case) that may appear more than once: names of nothing the model knows, and, with
    ``combine_repeated``, expression names of model genes."""
    counts = Counter(c.strip().lower() for c in header)
    repeated = [c.strip() for c in dict.fromkeys(header) if counts[c.strip().lower()] > 1]
    allowed = set()
    for column in repeated:
        prefix, _, name = column.partition(":")
        modality = MODALITY_NAMES.get(prefix.strip().lower())
        if modality is None or not name.strip():
            continue  # refused as a column that is not modality:NAME, or as a repeated "sample"
        j = resolve(schema, modality, [name.strip()]).indices[0]
        if j < 0 or (combine_repeated and modality == "expression"):  # unknown or ambiguous: ignored however often
            allowed.add(column.lower())
    return allowed


class LongLayout:
    """``sample, gene, modality, value`` rows, any order. A sample's expression for one model gene given in several
    rows is combined (see the module docstring); any other measurement given twice is refused."""

    def __init__(self, header: list[str], schema: ProfileSchema, reading: Reading):
        check_header(header)
        reading.repeated_in = "row"
        lower = [c.strip().lower() for c in header]
        self.positions = {c: lower.index(c) for c in LONG_COLUMNS}
        self.schema, self.reading = schema, reading
        self.cache: dict[str, dict[str, int]] = {m: {} for m in MODALITIES}  # name -> column, per modality

    def _columns(self, modality: str, names: list[str]) -> np.ndarray:
        """The model column of each name (-1: not a model feature), resolved once per distinct name."""
        cache = self.cache[modality]
        new = [n for n in dict.fromkeys(names) if n not in cache]
        if new:
            resolution = resolve(self.schema, modality, new)
            self.reading.note(modality, new, resolution)
            cache.update(zip(new, resolution.indices.tolist()))
        return np.array([cache[n] for n in names], dtype=np.int64)

    def read(self, chunk: pl.DataFrame, first_line: int, arrays: SampleArrays, limits: Limits) -> list[str]:
        # names are few and rows many: each text column is coded into its distinct values, which are checked,
        # resolved and placed once each; per row only integer codes are handled
        column = {c: chunk[:, p] for c, p in self.positions.items()}
        sample_code, samples = encode_names(column["sample"], first_line, "sample name", limits)
        first = column["modality"].arg_unique()
        distinct = column["modality"].gather(first)
        modality = distinct.cast(pl.String).str.strip_chars().str.to_lowercase()
        bad = ~modality.is_in(list(MODALITY_NAMES)) | modality.is_null()
        if bad.any():
            i = int(bad.arg_true()[0])
            raise UserError(f"line {line_of(first_line, int(first[i]))}: modality {str(distinct[i])[:40]!r} is not "
                            f"one of {ACCEPTED}.")
        modality_code = column["modality"].replace_strict(
            distinct, pl.Series([MODALITIES.index(MODALITY_NAMES[m]) for m in modality]), return_dtype=pl.Int64
        ).to_numpy()
        gene_code, genes = encode_names(column["gene"], first_line, "gene or event name", limits)
        values = parse_numbers(chunk.select(chunk.columns[self.positions["value"]]), first_line, ["the"])[:, 0]
        rows = arrays.rows(samples.to_list())[sample_code]
        lines = np.arange(first_line, first_line + chunk.height)
        gene_names = genes.to_list()
        for k, m in enumerate(MODALITIES):
            part = modality_code == k
            if not part.any():
                continue
            used = np.unique(gene_code[part])  # the distinct genes given for this modality
            lookup = np.full(len(gene_names), -1, np.int64)
            lookup[used] = self._columns(m, [gene_names[g] for g in used])
            columns = lookup[gene_code[part]]
            known = columns >= 0
            combined = arrays.put(m, rows[part][known], columns[known], values[part][known], lines[part][known],
                                  combine_repeats=m == "expression")
            for j, n in combined.items():  # reported as genes-as-rows tables report theirs
                name = self.schema.features[m][j]
                self.reading.duplicates[name] = max(n, self.reading.duplicates.get(name, 0))
        return list(dict.fromkeys(samples.to_list()))
