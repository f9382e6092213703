"""Open an uploaded file as a table and read it in chunks, within ``Limits``.

Delimited text (comma, tab, semicolon or pipe, detected from the header line; UTF-8, or Latin-1 when a file is
not UTF-8) and parquet are read in chunks of rows with pyarrow's streaming readers, so memory is bounded by the
chunk, not the file. A file whose name or first bytes say it holds no table (a PDF, a ``.docx``, an ``.xls``, a
``.gz``) is refused first, with the accepted types (``file_types``). Before any value is parsed the file's size,
header and row count are checked: a file that would exceed a limit is refused at the cost of one pass over its
bytes. Text cells arrive as strings (numbers are parsed, and refused with their line and column, by ``cells.py``);
parquet cells keep their types. What a container would expand to is measured before a library decodes it: an .xlsx
by ``xlsx_guard``, a parquet file by ``parquet_guard``; every chunk's cells are checked against
``Limits.max_cell_bytes`` before it is yielded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drugresponse.errors import UserError

from . import parquet_guard, xlsx_guard
from .cells import flat_text
from .file_types import SUPPORTED, check_file_type, refusal
from .limits import Limits

DELIMITERS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}
BLOCK = 1 << 20


@dataclass
class Table:
    """A file opened for reading: what it is, its header, and its rows in chunks (``chunks``)."""

    name: str  # the file's name, for messages and the report
    format: str  # "parquet", "Excel (first sheet)", "comma-separated text", "tab-separated text", ...
    header: list[str]
    preamble: list[str] = field(default_factory=list)  # lines before the header (GCT's version and dimensions)
    rows: int = 0  # data rows (text: lines after the header, an upper bound when quoted fields span lines)
    encoding: str = "utf-8"
    _source: object = None
    _skip: int = 0  # lines before the first data row
    _block: int = BLOCK
    _delimiter: str = ","
    _limits: Limits | None = None  # what each text chunk's cells are checked against (parquet: on opening)

    @property
    def text(self) -> bool:
        return self.format != "parquet"

    @property
    def columns(self) -> list[str]:
        """The names chunks carry: ``c0``, ``c1``, ... by position (a header may name a column twice)."""
        return [f"c{i}" for i in range(len(self.header))]

    def chunks(self, rows: int = 100_000, keep: list[int] | None = None) -> Iterator[tuple[pl.DataFrame, int]]:
        """(chunk, file line of its first row), columns named by position (``columns``); text cells as strings.
        ``keep``: the positions a reader uses; the others are never made into columns (a header of 70,000 names
        costs hundreds of MB as columns, however few rows), and the chunk's columns keep their positions' names."""
        kept = None if keep is None else [f"c{p}" for p in sorted(set(keep))]  # ``columns``' names, built once each
        if not self.text:
            yield from _parquet_chunks(self, rows, kept)
            return
        yield from _text_chunks(self, rows, kept)


def open_table(source: bytes | str | Path, limits: Limits, name: str | None = None) -> Table:
    """Open ``source`` (a path or the file's bytes) and check the limits that need no parsing of values."""
    if isinstance(source, (bytes, bytearray)):
        size, name = len(source), name or "upload"
    else:
        source = Path(source)
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise UserError(f"cannot read {name or source.name}: {exc.strerror}.") from None
        name = name or source.name
    if size == 0:
        raise UserError(f"{name} is empty; expected a table of sample profiles (see the accepted formats).")
    check_file_type(name, _read_head(source, 16))  # before the size: a 30 MB PDF is refused as a PDF
    limits.check_size(size, name)
    head = _read_head(source, limits.max_header_bytes + 4096)
    if head.startswith(b"PAR1"):
        return _open_parquet(source, name, limits)
    if head.startswith(b"PK\x03\x04"):
        return _open_text(xlsx_guard.first_sheet_as_csv(source, name, limits), name, None, limits,
                          "Excel (first sheet)")
    if b"\x00" in head[:4096]:  # compressed kinds that ``file_types`` names were refused above
        raise UserError(refusal(name, "a binary file, not parquet, an Excel workbook or text", "text that Excel saved "
                                "as Unicode Text is UTF-16: save it as CSV UTF-8 instead"))
    return _open_text(source, name, head, limits)


def _read_head(source, n: int) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:n])
    with open(source, "rb") as handle:
        return handle.read(n)


def _open_stream(source):
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")


def _line_stats(source, newline: int = 10) -> tuple[int, int]:
    """(number of lines, longest line in bytes) in one pass over the bytes; bounded memory. ``newline``: the byte that
    ends a line (LF, or CR in a file whose lines end in CR alone, as old Mac software writes them)."""
    lines, longest, current = 0, 0, 0
    with _open_stream(source) as handle:
        while block := handle.read(BLOCK):
            ends = np.flatnonzero(np.frombuffer(block, np.uint8) == newline)
            if len(ends):
                longest = max(longest, current + int(ends[0]) + 1, int(np.diff(ends).max()) if len(ends) > 1 else 0)
                current = len(block) - int(ends[-1]) - 1
                lines += len(ends)
            else:
                current += len(block)
        if current:
            lines, longest = lines + 1, max(longest, current)
    return lines, longest


def _decode(head: bytes) -> tuple[str, str]:
    try:
        return head.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a multi-byte character cut by the end of the peek
            return head[:exc.start].decode("utf-8"), "utf-8"
        return head.decode("latin-1"), "latin-1"


def _open_text(source, name: str, head: bytes | None, limits: Limits, kind: str | None = None) -> Table:
    head = head if head is not None else _read_head(source, limits.max_header_bytes + 4096)
    text, encoding = _decode(head)
    lines = re.split(r"\r\n|\n|\r", text.lstrip("\ufeff"))  # the line ends pyarrow knows: LF, CRLF, CR
    if lines and lines[0].lower().startswith(("!series_", "!sample_", "!platform_", "^series", "^platform")):
        raise UserError(f"{name} is a GEO series matrix or SOFT file (lines starting with '!' or '^'), which is not "
                        "read as it is: its values are often microarray probes (ID_REF), not genes. Upload a "
                        "gene-level expression table instead (for an RNA-seq series, GEO's supplementary counts or TPM "
                        "file; for an array, probes mapped to gene symbols), or, if its ID_REF column already holds "
                        "gene symbols or Ensembl IDs, delete the lines starting with '!' and upload the table.")
    preamble = []
    while lines and (lines[0].startswith("##") or (not preamble and lines[0].startswith("#1."))
                     or (preamble and preamble[0].startswith("#1.") and len(preamble) == 1) or _comment(lines)):
        preamble.append(lines.pop(0).rstrip("\r"))  # VCF meta lines; GCT's version and dimensions; comments
    if len(lines) < 2 and len(head) > limits.max_header_bytes:
        raise UserError(f"{name}: the header line is longer than {limits.max_header_bytes / 1e6:.0f} MB; at most "
                        f"{limits.max_columns:,} columns are accepted.")
    header_line = lines[0].rstrip("\r") if lines else ""
    if header_line.startswith("#CHROM"):
        header_line = header_line[1:]  # VCF's column line
    delimiter = max(DELIMITERS, key=lambda d: (header_line.count(d), d == ","))
    try:
        header = _rejoin(next(csv.reader([header_line], delimiter=delimiter), []))
    except csv.Error as exc:
        raise UserError(f"{name}: the header line is not delimited text ({exc}); accepted: {SUPPORTED}.") from None
    limits.check_columns(len(header))
    if not any(header):
        raise UserError(f"{name} has no header line; expected column names on the first line.")
    count, longest = _line_stats(source, 13 if "\r" in text and "\n" not in text else 10)
    skip = len(preamble) + 1
    limits.check_rows(count - skip)
    kind = kind or (f"{DELIMITERS[delimiter]}-separated text" if header_line.count(delimiter) else "one-column text")
    return Table(name, kind, header, preamble, max(count - skip, 0), encoding, source, skip,
                 max(BLOCK, 2 * longest + 1024), delimiter, limits)


def _comment(lines: list[str]) -> bool:
    """A leading ``#`` line that is not the header: a MAF's ``#version 2.4``, featureCounts' ``# Program:...``. The
    header (a VCF's ``#CHROM`` line, a table whose header starts with ``#``) has as many delimiters as the first line
    that does not start with ``#``; a comment has another count."""
    line = lines[0]
    if not line.startswith("#") or line.startswith("#CHROM"):
        return False
    data = next((other for other in lines[1:] if other and not other.startswith("#")), None)
    if data is None:  # nothing after it: it is the header (or the file is only comments)
        return False
    delimiter = max(DELIMITERS, key=lambda d: (data.count(d), d == ","))
    return data.count(delimiter) == 0 or line.count(delimiter) != data.count(delimiter)


def _rejoin(cells) -> list[str]:
    """Rejoin header cells that a delimiter split inside one name. GDSC's event names hold commas: inside parentheses
    (``driver:gain_cnaPANCAN301_(CDK12,ERBB2,MED24)``) and between merged regions (``driver:loss_cnaPANCAN38,
    loss_cnaPANCAN39``, comma and space), and an unquoted header splits them. A cell joins the one before it while
    that one's parentheses are open, or when it starts with a space, has no ``:`` and follows a ``modality:NAME``
    cell."""
    out: list[str] = []
    for cell in cells:
        continues = out and (out[-1].count("(") > out[-1].count(")")
                             or (cell.startswith(" ") and ":" not in cell and ":" in out[-1]))
        if continues:
            out[-1] += "," + cell
        else:
            out.append(cell)
    return [c.strip() for c in out]


def _text_chunks(table: Table, rows: int, kept: list[str] | None = None) -> Iterator[tuple[pl.DataFrame, int]]:
    if not table.rows:
        return
    read = pacsv.ReadOptions(column_names=table.columns, skip_rows=table._skip, block_size=table._block,
                             use_threads=False, encoding=table.encoding)
    parse = pacsv.ParseOptions(delimiter=table._delimiter, newlines_in_values=True, ignore_empty_lines=True)
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in (kept or table.columns)},
                                   include_columns=kept, strings_can_be_null=False, quoted_strings_can_be_null=False)
    line, pending, pending_rows = table._skip + 1, [], 0
    try:
        with _open_stream(table._source) as handle, pacsv.open_csv(handle, read, parse, convert) as reader:
            for batch in reader:
                pending.append(pl.from_arrow(batch))
                pending_rows += batch.num_rows
                while pending_rows >= rows:
                    frame = pl.concat(pending) if len(pending) > 1 else pending[0]
                    yield _checked(table, frame.slice(0, rows), line), line
                    line += rows
                    rest = frame.slice(rows)
                    pending, pending_rows = ([rest] if rest.height else []), rest.height
        if pending_rows:
            yield _checked(table, pl.concat(pending) if len(pending) > 1 else pending[0], line), line
    except pa.ArrowInvalid as exc:
        raise UserError(f"{table.name} is not a readable table ({table.format}): "
                        f"{_arrow_message(str(exc))}") from None


def _checked(table: Table, frame: pl.DataFrame, line: int) -> pl.DataFrame:
    """``frame``, once no cell is longer than ``Limits.max_cell_bytes``: checked before any reader copies a cell."""
    if table._limits is None or not frame.width or not frame.height:
        return frame
    size = flat_text(frame).str.len_bytes()
    if (size.max() or 0) > table._limits.max_cell_bytes:
        k = int((size > table._limits.max_cell_bytes).arg_true()[0])
        j, i = divmod(k, frame.height)
        column = table.header[int(frame.columns[j][1:])]  # chunks name columns by position: c0, c1, ...
        table._limits.check_cell(int(size[k]), f"{table.name}: line {line + i}, column {column[:40]!r},")
    return frame


def _arrow_message(message: str) -> str:
    """pyarrow's parse error, reworded with the file's line number."""
    message = message.split("\n")[0].replace("CSV parse error: ", "")
    if message.startswith("Row #"):
        number, _, rest = message[5:].partition(":")
        if number.isdigit():
            rest = rest.strip().replace("Expected", "expected").replace(" columns, got", " fields, found")
            # pyarrow counts rows from the top of the file, the lines skipped before the header included
            return f"line {int(number)}: {rest.split(':')[0]}; every row needs one value per header column."
    if "invalid UTF8" in message:
        return "it is not UTF-8 text."
    return message


def _open_parquet(source, name: str, limits: Limits) -> Table:
    try:
        meta = pq.ParquetFile(_open_stream(source)).metadata
        schema = pq.read_schema(_open_stream(source))
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{name} is not a readable parquet file: {str(exc).splitlines()[0]}") from None
    limits.check_columns(len(schema.names))
    limits.check_rows(meta.num_rows)  # a row group can declare millions of rows in a few bytes: checked first
    plain = [f.name for f in schema if not _is_plain(f.type)]
    if plain:
        raise UserError(f"{name}: column {plain[0]!r} is not a number or text column; expected one value per cell.")
    parquet_guard.check_parquet(source, name, limits)  # what its row groups decode to, before any is read
    return Table(name, "parquet", list(schema.names), [], meta.num_rows, "binary", source)


def _is_plain(kind: pa.DataType) -> bool:
    """One number or text per cell; text may be dictionary-encoded (a pandas category, a polars Categorical)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_boolean(kind)
            or pa.types.is_null(kind))


def _parquet_chunks(table: Table, rows: int, kept: list[str] | None = None) -> Iterator[tuple[pl.DataFrame, int]]:
    """Batches of at most ``rows`` rows from polars' streaming reader (for a cohort of thousands of columns it is
    several times faster than pyarrow's batches); a header that names a column twice, which polars refuses to
    read, goes through pyarrow so that the layout can say what is wrong."""
    line = 2  # the row's place counted as in a text file with a header, for messages
    names = kept or table.columns
    positions = [int(c[1:]) for c in names]
    if len(set(table.header)) < len(table.header):
        batches = (pl.from_arrow(b.select(positions).rename_columns(names)) for b in pq.ParquetFile(
            _open_stream(table._source)).iter_batches(batch_size=rows, use_threads=False))
    else:
        batches = pl.scan_parquet(_open_stream(table._source)).select(pl.nth(positions)).collect_batches(
            chunk_size=rows)
    try:
        for frame in batches:
            frame.columns = names
            if any(kind in (pl.Categorical, pl.Enum) for kind in frame.schema.values()):  # read like plain text
                frame = frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
            for start in range(0, frame.height, rows):  # the streaming engine's batches may be larger than asked
                part = frame.slice(start, rows)
                yield part, line
                line += part.height
    except (pa.ArrowException, pl.exceptions.PolarsError, OSError) as exc:
        raise UserError(f"{table.name} is not a readable parquet file: {str(exc).splitlines()[0]}") from None
