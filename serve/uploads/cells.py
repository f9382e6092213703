"""Cells to values: numbers (refused with their line and column when they are not numbers) and names.

Missing values may be spelled ``""``, NA, NaN, N/A, null or none (any case); anything else that is not a finite
number is refused, naming the file's line and the column, never with a stack trace. Every cell's length is checked
before it is copied (stripped, lower-cased, parsed): a number at most ``Limits.max_number_chars`` characters, a name
``max_name_chars``, any cell ``max_cell_bytes`` (``tables`` checks every chunk for the last before it is yielded).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import polars.selectors as cs

from drugresponse.errors import UserError

from .limits import APP, HIDDEN_PATTERN, Limits

MISSING = ["", "na", "nan", "n/a", "null", "none", "#n/a"]  # cells read as a missing value (case-insensitive)


def line_of(first_line: int | np.ndarray, i: int) -> int:
    """The file line of a chunk's row ``i``: ``first_line + i``, or looked up when the chunk's rows are scattered."""
    return int(first_line[i]) if isinstance(first_line, np.ndarray) else first_line + i


def parse_numbers(block: pl.DataFrame, first_line: int | np.ndarray, names: list[str] | None = None,
                  limits: Limits = APP) -> np.ndarray:
    """float32 [rows, columns] (NaN for missing cells); ``names`` are the columns as the user wrote them."""
    with np.errstate(over="ignore", invalid="ignore"):
        if block.select(cs.numeric()).width == block.width:  # parquet (one check in polars: thousands of columns)
            values = block.to_numpy().astype(np.float32)
            bad = np.isinf(values)  # inf in the file, or beyond float32's range
        else:
            # one column of every cell, column after column: a wide chunk has few rows and thousands of columns,
            # and string functions over one long column cost a fraction of the same functions per column
            text = flat_text(block)
            shape = (block.width, block.height)  # of the flat column, read back transposed
            length = text.str.len_chars().fill_null(0)
            if (length.max() or 0) > limits.max_number_chars:  # before any cell is copied
                i, j = (int(k) for k in np.argwhere((length > limits.max_number_chars).to_numpy().reshape(shape).T)[0])
                column = names[j] if names else block.columns[j]
                raise UserError(f"line {line_of(first_line, i)}: {column} value {str(block[i, j])[:40]!r}… is "
                                f"{int(length[j * block.height + i]):,} characters long; a number may have at most "
                                f"{limits.max_number_chars}.")
            text = text.str.strip_chars()
            parsed = text.cast(pl.Float64, strict=False).to_numpy().reshape(shape).T
            blank = (text.is_null() | text.str.to_lowercase().is_in(MISSING)).to_numpy().reshape(shape).T
            values = np.where(blank, np.nan, parsed).astype(np.float32)
            bad = (np.isnan(values) & ~blank) | np.isinf(values)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        column = names[j] if names else block.columns[j]
        shown = str(block[i, j])
        raise UserError(f"line {line_of(first_line, i)}: {column} value {shown[:40]!r} {_why_not(shown)}.")
    return values


def flat_text(block: pl.DataFrame) -> pl.Series:
    """Every cell of ``block`` as text in one column, column after column (cell (i, j) at ``j * height + i``)."""
    columns = block.get_columns()
    if any(c.dtype != pl.String for c in columns):
        columns = [c.cast(pl.String) for c in columns]
    if not columns:
        return pl.Series("", [], pl.String)
    return pl.concat(columns, rechunk=True) if len(columns) > 1 else columns[0]


def _why_not(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        if text.replace(",", "", 1).replace("-", "", 1).isdigit():
            return "is not a number (write decimals with a point: 1.5, not 1,5)"
        return "is not a number"
    return "is not a finite number" if not np.isfinite(number) else "is beyond the range of a 32-bit float"


def text_column(values: pl.Series, first_line: int | np.ndarray, what: str, limits: Limits,
                required: bool = True) -> pl.Series:
    """Stripped names (sample, gene, event); an empty one is refused when ``required``, a long one always."""
    names = values.cast(pl.String)
    size = names.str.len_bytes().fill_null(0)
    if (size.max() or 0) > limits.max_cell_bytes:  # before the column is copied to strip it
        i = int((size > limits.max_cell_bytes).arg_true()[0])
        limits.check_cell(int(size[i]), f"line {line_of(first_line, i)}: the {what}")
    names = names.str.strip_chars()
    empty = names.is_null() | (names == "")
    if required and empty.any():
        raise UserError(f"line {line_of(first_line, int(empty.arg_true()[0]))}: the row has no {what}; every row "
                        "needs one.")
    long = names.str.len_chars().fill_null(0) > limits.max_name_chars
    if what == "sample name":  # echoed into tables, reports and downloads: no hidden characters
        long = long | names.str.contains(HIDDEN_PATTERN).fill_null(False)
    if long.any():
        i = int(long.arg_true()[0])
        limits.check_name(names[i], f"line {line_of(first_line, i)}: the {what}")
    return names


def encode_names(values: pl.Series, first_line: int | np.ndarray, what: str, limits: Limits) -> tuple[np.ndarray, pl.Series]:
    """(each row's code into the distinct names, the distinct names, stripped and checked as ``text_column`` checks
    them). A long file repeats few names over many rows: each distinct name is checked once, and a refusal names the
    line where it first appears."""
    first = values.arg_unique()
    distinct = values.gather(first)
    rows = first.to_numpy()
    lines = first_line[rows] if isinstance(first_line, np.ndarray) else rows + first_line
    names = text_column(distinct, lines, what, limits)
    codes = values.replace_strict(distinct, pl.Series(np.arange(len(distinct))), return_dtype=pl.Int64)
    return codes.to_numpy(), names
