"""What a parquet file decodes to, measured from its metadata and its dictionaries before any row group is decoded.

A parquet file is compressed and encoded: a few hundred bytes can declare millions of rows, and a dictionary-encoded
text column stores a string once and an index per row, which a reader expands to one copy per row (a 0.8 KB file
whose ``sample`` column repeats one 20 KB string 5,000 times became 100 MB of text, and 194 MB of peak memory).
Before the table is read, ``check_parquet`` refuses a file when
- a row group declares a negative count, the row groups' rows add up past ``Limits.max_rows`` or disagree with the
  file's total, or the file has more than ``MAX_ROW_GROUPS`` row groups;
- what its row groups decode to, from the metadata (each row group's uncompressed size, plus its rows times the
  width of its columns, which a run-length or dictionary encoding hides), exceeds ``max_unpacked_bytes``, or one text
  column chunk's uncompressed size does;
- a text column, read dictionary-encoded (each distinct value once and an index per row, never a copy per row), holds
  a value longer than ``max_cell_bytes``, or the text all rows decode to (each value's length times the rows that use
  it, over every text column and row group) exceeds ``max_text_bytes``: no more text than a text file may hold.
With ``Limits.per_row_group`` (``drugresponse predict``, whose streaming reader decodes row group after row group,
a few at most at once) both bounds apply to each row group instead of the file. Sizes in the metadata are what the file declares; the dictionaries are read. The upload worker's memory limit
(``serve/upload_worker.py``) bounds what a file that misstates its page sizes could still ask for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drugresponse.errors import UserError

from .limits import Limits, TextBudget

MAX_ROW_GROUPS = 10_000  # writers use groups of 64k to 1M rows; thousands of tiny groups only slow the reading
CELLS_PER_READ = 1_000_000  # text cells read at once while measuring (their indices: 4 bytes each)


def check_parquet(source: bytes | bytearray | str | Path, name: str, limits: Limits) -> None:
    """Refuse (``UserError``) a parquet file whose decoding would cost more than ``limits`` allow; see the module."""
    def opened():
        return pa.BufferReader(source) if isinstance(source, (bytes, bytearray)) else str(source)

    try:
        schema = pq.read_schema(opened())
        text = [j for j, f in enumerate(schema) if _is_text(f.type)]  # read as dictionaries, by position
        with pq.ParquetFile(opened(), read_dictionary=text) as handle:
            _check_metadata(handle.metadata, schema, text, name, limits)
            if text:
                _check_text(handle, schema, text, name, limits)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UserError(f"{name} is not a readable parquet file: {str(exc).splitlines()[0]}") from None


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _width(kind: pa.DataType) -> int:
    """Bytes per row a decoded column takes besides its text (a text column's offsets or indices)."""
    if pa.types.is_null(kind):
        return 0
    if pa.types.is_boolean(kind):
        return 1
    return 8 if _is_text(kind) else max(kind.bit_width // 8, 1)


def _check_metadata(meta: pq.FileMetaData, schema: pa.Schema, text: list[int], name: str, limits: Limits) -> None:
    if meta.num_row_groups > MAX_ROW_GROUPS:
        raise UserError(f"{name} is written in {meta.num_row_groups:,} row groups; at most {MAX_ROW_GROUPS:,} are "
                        "accepted (write it with larger row groups, or as CSV).")
    width = sum(_width(f.type) for f in schema)
    rows = unpacked = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows < 0 or group.total_byte_size < 0:
            raise UserError(f"{name}: row group {i} declares a negative size; the file is damaged.")
        rows += group.num_rows
        limits.check_rows(rows)  # per row group, before the next is even looked at
        decoded = group.total_byte_size + group.num_rows * width
        unpacked = decoded if limits.per_row_group else unpacked + decoded
        largest = max((group.column(j).total_uncompressed_size for j in text), default=0)
        if unpacked > limits.max_unpacked_bytes or largest > limits.max_unpacked_bytes:
            raise UserError(f"{name} would decode to more than {limits.max_unpacked_bytes / 1e6:,.0f} MB (from its "
                            f"metadata, row group {i}); at most that is accepted" + (
                                " per row group (write it with smaller row groups)." if limits.per_row_group else
                                ". For larger cohorts use `drugresponse predict`."))
    if rows != meta.num_rows:
        raise UserError(f"{name}: its row groups hold {rows:,} rows but the file declares {meta.num_rows:,}; the "
                        "file is damaged.")


def _check_text(handle: pq.ParquetFile, schema: pa.Schema, text: list[int], name: str, limits: Limits) -> None:
    """Each text column, dictionary-encoded, a few columns of one row group at a time: the longest distinct value
    and the text all rows would decode to, before anything decodes it."""
    budget = TextBudget(limits, lambda column: (
        f"{name}: its text columns decode to more than {limits.max_text_bytes / 1e6:,.0f} MB (column {column!r}, "
        "each value counted once per row that uses it), more than an upload may."))
    for i in range(handle.metadata.num_row_groups):
        if limits.per_row_group and i:
            budget.total = 0  # read one row group at a time: each is bounded, not the file
        rows = max(handle.metadata.row_group(i).num_rows, 1)
        step = max(1, CELLS_PER_READ // rows)
        for first in range(0, len(text), step):
            columns = text[first:first + step]
            read = handle.reader.read_row_group(i, column_indices=columns, use_threads=False)
            for j, column in zip(columns, read.columns):
                for chunk in column.chunks:
                    longest, size = _measure(chunk)
                    limits.check_cell(longest, f"{name}: column {schema.names[j][:40]!r} (row group {i})")
                    budget.add(size, schema.names[j][:40])
            del read


def _measure(chunk: pa.Array) -> tuple[int, int]:
    """(longest value in UTF-8 bytes, bytes all rows decode to), from the distinct values and the index counts."""
    if pa.types.is_dictionary(chunk.type):
        values, indices = chunk.dictionary, pc.drop_null(chunk.indices)
        if not len(values) or not len(indices):
            return 0, 0
        lengths = pc.binary_length(values).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        uses = np.bincount(indices.to_numpy(zero_copy_only=False), minlength=len(values))
        return int(lengths.max()), int(uses @ lengths)
    lengths = pc.binary_length(chunk).fill_null(0)
    return (int(pc.max(lengths).as_py() or 0), int(pc.sum(lengths).as_py() or 0)) if len(chunk) else (0, 0)
