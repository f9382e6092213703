"""One upload, start to finish: open the file, recognise its layout, read it in chunks, check it, report.

``parse_profiles`` serves the app and its API (every sample of one file, within ``limits.APP``);
``read_cohort`` serves ``drugresponse predict`` (chunks of samples, one pass, memory bounded by the chunk).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drugresponse.errors import UserError

from .app_layouts import LongLayout, Reading, WideLayout, layout_of
from .limits import APP, BATCH, Limits
from .samples import SampleArrays
from .schema import ProfileSchema
from .tables import SUPPORTED, Table, open_table
from .validate import UploadReport, validate

CHUNK_ROWS = 50_000  # rows per chunk of a long or genes-as-rows table; wide tables read fewer (see _rows_per_chunk)
CHUNK_CELLS = 2_000_000  # cells per chunk: bounds the memory of one chunk of strings


def _rows_per_chunk(table: Table, rows: int = CHUNK_ROWS) -> int:
    return max(1, min(rows, CHUNK_CELLS // max(len(table.header), 1)))


def _layout(table: Table, schema: ProfileSchema, reading: Reading):
    kind = layout_of(table.header)
    if kind == "long":
        return "long", LongLayout(table.header, schema, reading)
    if kind == "wide":
        return "wide", WideLayout(table.header, schema, reading)
    raise UserError(f"{table.name}: unrecognised layout. Accepted: the app's long layout (columns "
                    "sample,gene,modality,value) or wide layout (sample, then expression:GENE, mutation:GENE, "
                    f"copy_number:GENE, driver:EVENT columns), as {SUPPORTED}.")


def _unknown_counts(reading: Reading) -> dict[str, int]:
    return {m: len(names) for m, names in reading.unknown.items()}


def parse_profiles(source: bytes | str | Path, schema: ProfileSchema, limits: Limits = APP,
                   name: str | None = None) -> UploadReport:
    """Every sample of one file as model inputs in the model's order, checked; refusals are ``UserError``."""
    table = open_table(source, limits, name)
    reading = Reading()
    kind, layout = _layout(table, schema, reading)
    arrays = SampleArrays(schema, limits)
    for chunk, first_line in table.chunks(_rows_per_chunk(table)):
        layout.read(chunk, first_line, arrays, limits)
    if not len(arrays):
        raise UserError(f"{table.name} has a header but no rows; expected at least one sample.")
    report = validate(arrays.names, arrays.profiles(), _unknown_counts(reading), schema)
    report.source, report.format = table.name, f"{table.format}, the app's {kind} layout"
    return report


@dataclass
class Skipped:
    sample: str
    reason: str


def read_cohort(source: Path, schema: ProfileSchema, chunk: int, skip_invalid: bool = False,
                limits: Limits = BATCH) -> tuple[Table, str, Iterator[tuple[UploadReport, list[Skipped]]]]:
    """(table, layout, chunks): each chunk holds up to ``chunk`` checked samples and the samples skipped (with
    ``skip_invalid``; otherwise the first invalid sample stops the run with its message)."""
    table = open_table(source, limits)
    reading = Reading()
    kind, layout = _layout(table, schema, reading)
    if kind == "wide":
        return table, kind, _wide_cohort(table, layout, schema, chunk, skip_invalid, limits, reading)
    return table, kind, _long_cohort(table, layout, schema, chunk, skip_invalid, limits, reading)


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
    for frame, first_line in table.chunks(min(chunk, _rows_per_chunk(table))):
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
    for frame, first_line in table.chunks(_rows_per_chunk(table)):
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
