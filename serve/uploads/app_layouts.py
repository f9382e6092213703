"""The app's own two layouts, read chunk by chunk into a sample's model inputs.

- long: columns ``sample, gene, modality, value``, one row per measurement; ``modality`` is ``expression``,
  ``mutation``, ``copy_number`` or ``driver`` (then ``gene`` names the event);
- wide: a ``sample`` column, then one column per measurement named ``expression:GENE``, ``mutation:GENE``,
  ``copy_number:GENE`` or ``driver:EVENT``.

Column names are case-insensitive. Gene and event names go through the schema's resolvers (model names, case,
Ensembl IDs, HGNC symbols; event aliases); what the model does not know is counted and ignored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from .cells import line_of, parse_numbers, text_column
from .identifiers import Resolution
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


def check_header(columns: list[str]) -> None:
    """Refuse a header that names a column twice (a reader would silently rename one)."""
    seen = set()
    for column in columns:
        key = column.strip().lower()
        if key in seen:
            raise UserError(f"column {column.strip()!r} appears more than once in the header; give each column once.")
        seen.add(key)


@dataclass
class Reading:
    """What reading a file found besides the values: names ignored, names renamed, per modality."""

    unknown: dict[str, set] = field(default_factory=lambda: {m: set() for m in MODALITIES})
    resolved: dict[str, Resolution] = field(default_factory=dict)
    ignored_inputs: Counter = field(default_factory=Counter)  # mutation:GENE given though the model reads events

    def note(self, modality: str, names, resolution: Resolution) -> None:
        unknown = self.unknown[modality]
        if len(unknown) < UNKNOWN_NAMES_KEPT:
            unknown.update(np.asarray(names, dtype=object)[resolution.indices < 0][:UNKNOWN_NAMES_KEPT].tolist())
        if modality in self.resolved:
            self.resolved[modality].merge(resolution)
        else:
            self.resolved[modality] = resolution


def resolve(schema: ProfileSchema, modality: str, names: list[str]) -> Resolution:
    if modality == "drivers":
        return schema.events.resolve(names, schema.genes)
    return schema.genes.resolve(names)


class WideLayout:
    """``sample`` + ``modality:NAME`` columns; the header is placed once for a whole file."""

    def __init__(self, header: list[str], schema: ProfileSchema, reading: Reading):
        check_header(header)
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
        for modality, (positions, names) in by_modality.items():
            resolution = resolve(schema, modality, names)
            reading.note(modality, names, resolution)
            known = resolution.indices >= 0
            columns = resolution.indices[known]
            first: dict[int, str] = {}
            for name, j in zip(np.asarray(names, dtype=object)[known], columns.tolist()):
                if j in first:
                    raise UserError(f"{modality} columns {first[j]!r} and {name!r} are the same model feature "
                                    f"{schema.features[modality][j]!r}; give each once.")
                first[j] = name
            self.placed[modality] = ([p for p, k in zip(positions, known) if k], columns)
        self.header = header

    def read(self, chunk: pl.DataFrame, first_line: int, arrays: SampleArrays, limits: Limits,
             seen: set | None = None) -> list[str]:
        names = text_column(chunk[:, self.sample], first_line, "sample name", limits).to_list()
        repeated = [n for n in names if n in arrays.index or (seen is not None and n in seen)]
        if repeated or len(set(names)) < len(names):
            name = repeated[0] if repeated else next(n for n, c in Counter(names).items() if c > 1)
            raise UserError(f"sample {name!r} has more than one row; in the wide layout each sample is one row.")
        rows = arrays.rows(names)
        for modality, (positions, columns) in self.placed.items():
            if positions:
                block = chunk.select(chunk.columns[p] for p in positions)
                values = parse_numbers(block, first_line, [self.header[p] for p in positions])
                arrays.values[modality][np.ix_(rows, columns)] = values
        return names


class LongLayout:
    """``sample, gene, modality, value`` rows, any order; a measurement given twice is refused."""

    def __init__(self, header: list[str], schema: ProfileSchema, reading: Reading):
        check_header(header)
        lower = [c.strip().lower() for c in header]
        self.positions = {c: lower.index(c) for c in LONG_COLUMNS}
        self.schema, self.reading = schema, reading
        self.cache: dict[str, dict[str, int]] = {m: {} for m in MODALITIES}  # name -> column, per modality

    def _columns(self, modality: str, names: pl.Series) -> np.ndarray:
        cache = self.cache[modality]
        new = [n for n in names.unique().to_list() if n not in cache]
        if new:
            resolution = resolve(self.schema, modality, new)
            self.reading.note(modality, new, resolution)
            cache.update(zip(new, resolution.indices.tolist()))
        return names.replace_strict(cache, return_dtype=pl.Int64).to_numpy()

    def read(self, chunk: pl.DataFrame, first_line: int, arrays: SampleArrays, limits: Limits) -> list[str]:
        column = {c: chunk[:, p] for c, p in self.positions.items()}
        names = text_column(column["sample"], first_line, "sample name", limits)
        modality = column["modality"].cast(pl.String).str.strip_chars().str.to_lowercase()
        bad = ~modality.is_in(list(MODALITY_NAMES)) | modality.is_null()
        if bad.any():
            i = int(bad.arg_true()[0])
            raise UserError(f"line {line_of(first_line, i)}: modality {column['modality'][i][:40]!r} is not one of "
                            f"{ACCEPTED}.")
        modality = modality.replace_strict(MODALITY_NAMES)
        genes = text_column(column["gene"], first_line, "gene or event name", limits)
        values = parse_numbers(chunk.select(chunk.columns[self.positions["value"]]), first_line, ["the"])[:, 0]
        rows = arrays.rows(names.to_list())
        lines = np.arange(first_line, first_line + chunk.height)
        for m in MODALITIES:
            part = (modality == m).to_numpy()
            if not part.any():
                continue
            columns = self._columns(m, genes.filter(pl.Series(part)))
            known = columns >= 0
            arrays.put(m, rows[part][known], columns[known], values[part][known], lines[part][known])
        return names.unique(maintain_order=True).to_list()
