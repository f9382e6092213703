"""A cohort for ``drugresponse predict``: the app's readers and checks, in chunks of samples, in one pass.

Memory is bounded by the chunk: the wide layout and genes-as-columns tables yield their rows as they come; the long
layout yields samples once ``chunk`` are complete (so a sample's rows must stay together); genes-as-rows tables are
read once per chunk of sample columns. With ``skip_invalid`` a sample that fails the checks (or, in a wide table,
a row that cannot be read) is left out with its reason instead of stopping the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from . import gene_tables
from .app_layouts import LongLayout, Reading, WideLayout
from .limits import BATCH, Limits
from .reader import gene_columns_header, rows_per_chunk
from .recognise import MUTATIONS, recognise
from .samples import SampleArrays
from .schema import ProfileSchema
from .tables import Table, open_table
from .validate import UploadReport, validate


@dataclass
class Skipped:
    sample: str
    reason: str


def _unknown_counts(reading: Reading) -> dict[str, int]:
    return {m: len(names) for m, names in reading.unknown.items()}


@dataclass
class Cohort:
    table: Table
    description: str  # what the file was read as
    samples: int | None  # known in advance (rows of a wide table, columns of a genes-as-rows one), for progress
    chunks: Iterator  # (report of checked samples, samples skipped)


def read_cohort(source: Path, schema: ProfileSchema, chunk: int, skip_invalid: bool = False,
                limits: Limits = BATCH) -> Cohort:
    """Each chunk holds up to ``chunk`` checked samples and the samples skipped (with ``skip_invalid``; otherwise
    the first invalid sample stops the run with its message)."""
    table = open_table(source, limits)
    found = recognise(table, schema)
    reading = Reading()
    if found.kind in MUTATIONS:
        raise UserError(f"{table.name} holds mutations ({found.description}) but no expression; drugresponse predict "
                        "needs each sample's expression.")
    if found.kind == "gene rows":
        chunks = _gene_rows_cohort(table, found.genes, schema, chunk, skip_invalid, limits, reading)
        return Cohort(table, found.description, len(found.genes.sample_columns), chunks)
    if found.kind == "long":
        chunks = _long_cohort(table, LongLayout(table.header, schema, reading), schema, chunk, skip_invalid, limits,
                              reading)
        return Cohort(table, found.description, None, chunks)
    header = gene_columns_header(table.header) if found.kind == "gene columns" else table.header
    chunks = _wide_cohort(table, WideLayout(header, schema, reading), schema, chunk, skip_invalid, limits, reading)
    return Cohort(table, found.description, table.rows, chunks)


def _gene_rows_cohort(table, spec, schema, chunk, skip_invalid, limits, reading):
    """One pass over the rows per chunk of sample columns (a cohort matrix has samples as columns)."""
    for start in range(0, len(spec.sample_columns), chunk):
        names, expression, _ = gene_tables.read_gene_rows(table, spec, schema, limits, rows_per_chunk(table),
                                                          slice(start, start + chunk))
        profiles = {m: np.full((len(names), len(schema.features[m])), np.nan, np.float32) for m in MODALITIES}
        profiles["expression"] = expression
        yield _checked(names, profiles, schema, reading, skip_invalid)


def _checked(names: list[str], profiles: dict, schema: ProfileSchema, reading: Reading,
             skip_invalid: bool) -> tuple[UploadReport, list[Skipped]]:
    """The chunk's report; with ``skip_invalid``, samples that fail the checks are left out, each with its reason."""
    try:
        return validate(names, profiles, _unknown_counts(reading), schema), []
    except UserError:
        if not skip_invalid:
            raise
    keep, skipped = [], []
    for i, name in enumerate(names):
        try:
            validate([name], {m: v[i:i + 1].copy() for m, v in profiles.items()}, {}, schema)
            keep.append(i)
        except UserError as exc:
            skipped.append(Skipped(name, str(exc)))
    rows = np.array(keep, dtype=np.int64)
    report = validate([names[i] for i in keep], {m: v[rows] for m, v in profiles.items()},
                      _unknown_counts(reading), schema)
    return report, skipped


def _wide_cohort(table, layout, schema, chunk, skip_invalid, limits, reading):
    seen: set[str] = set()
    # text cells are strings, so a text chunk is bounded by cells; parquet cells are typed (8 bytes at most)
    for frame, first_line in table.chunks(min(chunk, rows_per_chunk(table)) if table.text else chunk):
        arrays, skipped = SampleArrays(schema, limits, capacity=frame.height), []
        try:
            layout.read(frame, first_line, arrays, limits, seen)
        except UserError:
            if not skip_invalid:
                raise
            arrays = SampleArrays(schema, limits, capacity=frame.height)
            for i in range(frame.height):  # row by row, to keep the rows that can be read
                one = SampleArrays(schema, limits, capacity=1)
                try:
                    name = layout.read(frame.slice(i, 1), first_line + i, one, limits, seen | set(arrays.names))[0]
                except UserError as exc:
                    skipped.append(Skipped(str(frame[i, layout.sample]), str(exc)))
                    continue
                row = arrays.rows([name])
                for m, values in one.profiles().items():
                    arrays.values[m][row] = values
        seen.update(arrays.names)
        report, invalid = _checked(arrays.names, arrays.profiles(), schema, reading, skip_invalid)
        yield report, skipped + invalid


def _long_cohort(table, layout, schema, chunk, skip_invalid, limits, reading):
    """One pass: a sample is complete once a later sample has started and ``chunk`` samples are waiting; a sample
    whose rows resume after it was written is refused (keep each sample's rows together)."""
    arrays, done = SampleArrays(schema, limits), set()
    # a parquet chunk's cells are typed, and each chunk costs a few dozen passes in polars: ten times as many rows
    for frame, first_line in table.chunks(rows_per_chunk(table) if table.text else 10 * rows_per_chunk(table)):
        names = layout.read(frame, first_line, arrays, limits)
        resumed = done.intersection(names)
        if resumed:
            raise UserError(f"sample {sorted(resumed)[0]!r} has rows after other samples' rows that follow its "
                            "own; for `drugresponse predict`, keep each sample's rows together (sort the file by "
                            "sample).")
        while len(arrays) > chunk:
            names, profiles = arrays.take(keep_last=len(arrays) - chunk)
            done.update(names)
            yield _checked(names, profiles, schema, reading, skip_invalid)
    if len(arrays):
        names, profiles = arrays.take()
        yield _checked(names, profiles, schema, reading, skip_invalid)
