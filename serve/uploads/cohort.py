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
import polars as pl

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from . import gene_tables
from .app_layouts import LongLayout, Reading, WideLayout
from .limits import BATCH, Limits
from .reader import gene_columns_header, read_mutations, rows_per_chunk
from .recognise import MUTATIONS, recognise
from .samples import SampleArrays
from .schema import ProfileSchema
from .tables import Table, open_table
from .validate import UploadReport, validate


@dataclass
class Skipped:
    sample: str
    reason: str
    reported: bool = False  # listed in a chunk's skipped samples already


def _unknown_counts(reading: Reading) -> dict[str, int]:
    return {m: len(names) for m, names in reading.unknown.items()}


@dataclass
class Cohort:
    table: Table
    description: str  # what the file was read as
    samples: int | None  # known in advance (rows of a wide table, columns of a genes-as-rows one), for progress
    chunks: Iterator  # (report of checked samples, samples skipped)
    reading: Reading  # how names were mapped, complete once the chunks are read


def read_mutation_file(source: Path, schema: ProfileSchema, limits: Limits = BATCH):
    """A cohort's mutation list (VCF, MAF, gene and change table) read whole, within ``limits``: its events per
    sample are small beside the expression."""
    return read_mutations(open_table(source, limits), schema, limits)


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
        return Cohort(table, found.description, len(found.genes.sample_columns), chunks, reading)
    if found.kind == "long":
        chunks = _long_cohort(table, LongLayout(table.header, schema, reading), schema, chunk, skip_invalid, limits,
                              reading)
        return Cohort(table, found.description, None, chunks, reading)
    header = gene_columns_header(table.header) if found.kind == "gene columns" else table.header
    layout = WideLayout(header, schema, reading, combine_repeated=found.kind == "gene columns")
    chunks = _wide_cohort(table, layout, schema, chunk, skip_invalid, limits, reading)
    return Cohort(table, found.description, table.rows, chunks, reading)


def _gene_rows_cohort(table, spec, schema, chunk, skip_invalid, limits, reading):
    """One pass over the rows per chunk of sample columns (a cohort matrix has samples as columns)."""
    for start in range(0, len(spec.sample_columns), chunk):
        names, expression, resolution = gene_tables.read_gene_rows(table, spec, schema, limits, rows_per_chunk(table),
                                                                   slice(start, start + chunk))
        if start == 0:  # every chunk reads the same rows: their names are mapped once, for the report
            reading.note("expression", [], resolution)
            reading.duplicates.update(spec.duplicates)
            reading.repeated_in = "row"
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
    for frame, first_line in table.chunks(min(chunk, rows_per_chunk(table)) if table.text else chunk,
                                          keep=layout.needed):
        arrays, skipped = SampleArrays(schema, limits, capacity=frame.height), []
        try:
            layout.read(frame, first_line, arrays, limits, seen)
        except UserError:
            if not skip_invalid:
                raise
            arrays, skipped = _row_by_row(layout, frame, first_line, schema, limits, seen)
        seen.update(arrays.names)
        report, invalid = _checked(arrays.names, arrays.profiles(), schema, reading, skip_invalid)
        yield report, skipped + invalid


def _row_by_row(layout, frame, first_line, schema, limits, seen) -> tuple[SampleArrays, list[Skipped]]:
    """The rows of a wide chunk that can be read, and the others with their reasons."""
    arrays, skipped, taken = SampleArrays(schema, limits, capacity=frame.height), [], set(seen)
    for i in range(frame.height):
        one = SampleArrays(schema, limits, capacity=1)
        try:
            name = layout.read(frame.slice(i, 1), first_line + i, one, limits, taken)[0]
        except UserError as exc:
            skipped.append(Skipped(str(frame.get_column(f"c{layout.sample}")[i]), str(exc)))
            continue
        for m, values in one.values.items():  # the wide layout writes values without marking them: mark them
            one.given[m][0] = ~np.isnan(values[0])
        taken.add(name)
        _merge(arrays, name, one)
    return arrays, skipped


def _merge(arrays: SampleArrays, name: str, one: SampleArrays) -> None:
    """Add a one-sample read to ``arrays`` (the cells it gives; a sample already there keeps its other cells, and its
    repeated expression is combined with the read's, as repeats within one read are)."""
    arrays.absorb(arrays.rows([name])[0], one)


def _long_cohort(table, layout, schema, chunk, skip_invalid, limits, reading):
    """One pass: a sample is complete once a later sample has started and ``chunk`` samples are waiting; a sample
    whose rows resume after it was written is refused (keep each sample's rows together). A chunk of rows is read in
    slices that each start at most ``chunk`` samples, so a file of one-row samples never holds more than twice
    ``chunk`` samples' arrays, however many rows a chunk of the file has. With ``skip_invalid``, a slice that cannot
    be read is read again one sample at a time, and a sample whose rows cannot be read is left out, with the reason."""
    arrays, done, dropped = SampleArrays(schema, limits), set(), {}
    column = layout.positions["sample"]
    # a parquet chunk's cells are typed, and each chunk costs a few dozen passes in polars: ten times as many rows
    for frame, first_line in table.chunks(rows_per_chunk(table) if table.text else 10 * rows_per_chunk(table)):
        for part, line in _bounded_slices(frame, first_line, column, chunk):
            try:
                names = layout.read(part, line, arrays, limits)
            except UserError:
                if not skip_invalid:
                    raise
                names = _each_sample(layout, part, line, arrays, schema, limits, column, dropped)
            resumed = done.intersection(names)
            if resumed:
                raise UserError(f"sample {sorted(resumed)[0]!r} has rows after other samples' rows that follow its "
                                "own; for `drugresponse predict`, keep each sample's rows together (sort the file by "
                                "sample).")
            while len(arrays) > chunk:
                names, profiles = arrays.take(keep_last=len(arrays) - chunk)
                done.update(names)
                yield _without_dropped(names, profiles, dropped, schema, reading, skip_invalid)
    if len(arrays):
        names, profiles = arrays.take()
        yield _without_dropped(names, profiles, dropped, schema, reading, skip_invalid)


def _bounded_slices(frame: pl.DataFrame, first_line: int, column: int, chunk: int):
    """(slice, its first line): consecutive slices of ``frame`` that each bring at most ``chunk`` distinct samples."""
    distinct_so_far = frame[:, column].is_first_distinct().cast(pl.Int64).cum_sum().to_numpy()  # not UInt32: arange
    cuts = [0, *np.searchsorted(distinct_so_far, np.arange(chunk, distinct_so_far[-1], chunk), side="right").tolist(),
            frame.height] if frame.height else [0, 0]
    for start, end in zip(cuts, cuts[1:]):
        if end > start:
            yield frame.slice(start, end - start), first_line + start


def _each_sample(layout, part, line, arrays, schema, limits, column, dropped) -> list[str]:
    """Read a slice one sample at a time, keeping what can be read; the others go to ``dropped`` with their reason
    (the line named is that of the sample's first row in the slice, and its rows' lines where the message names one)."""
    names = []
    indexed = part.with_row_index("_row")
    for (value,), rows in indexed.group_by(part.columns[column], maintain_order=True):
        one = SampleArrays(schema, limits, capacity=1)
        first = int(rows["_row"][0])
        try:
            name = layout.read(rows.drop("_row"), line + first, one, limits)[0]
        except UserError as exc:
            key = str(value).strip()
            dropped.setdefault(key, Skipped(key, str(exc)))
            continue
        _merge(arrays, name, one)
        names.append(name)
    return names


def _without_dropped(names, profiles, dropped, schema, reading, skip_invalid):
    """The chunk's report without the samples whose rows could not be read, and the samples dropped since the last
    chunk (each reported once; ``dropped`` keeps their names, so later rows of theirs are left out too)."""
    keep = [i for i, n in enumerate(names) if n not in dropped]
    report, invalid = _checked([names[i] for i in keep], {m: v[keep] for m, v in profiles.items()}, schema, reading,
                               skip_invalid)
    gone = [skip for skip in dropped.values() if not skip.reported]
    for skip in gone:
        skip.reported = True
    return report, gone + invalid
