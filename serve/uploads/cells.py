"""Cells to values: numbers (refused with their line and column when they are not numbers) and names.

Missing values may be spelled ``""``, NA, NaN, N/A, null or none (any case); anything else that is not a finite
number is refused, naming the file's line and the column, never with a stack trace.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import polars.selectors as cs

from drugresponse.errors import UserError

from .limits import Limits

MISSING = ["", "na", "nan", "n/a", "null", "none", "#n/a"]  # cells read as a missing value (case-insensitive)


def line_of(first_line: int | np.ndarray, i: int) -> int:
    """The file line of a chunk's row ``i``: ``first_line + i``, or looked up when the chunk's rows are scattered."""
    return int(first_line[i]) if isinstance(first_line, np.ndarray) else first_line + i


def parse_numbers(block: pl.DataFrame, first_line: int | np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """float32 [rows, columns] (NaN for missing cells); ``names`` are the columns as the user wrote them."""
    with np.errstate(over="ignore", invalid="ignore"):
        if block.select(cs.numeric()).width == block.width:  # parquet (one check in polars: thousands of columns)
            values = block.to_numpy().astype(np.float32)
            bad = np.isinf(values)  # inf in the file, or beyond float32's range
        else:
            text = block.select(pl.all().cast(pl.String).str.strip_chars())
            parsed = text.select(pl.all().cast(pl.Float64, strict=False)).to_numpy()
            blank = text.select(pl.all().is_null() | pl.all().str.to_lowercase().is_in(MISSING)).to_numpy()
            values = np.where(blank, np.nan, parsed).astype(np.float32)
            bad = (np.isnan(values) & ~blank) | np.isinf(values)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        column = names[j] if names else block.columns[j]
        shown = str(block[i, j])
        raise UserError(f"line {line_of(first_line, i)}: {column} value {shown[:40]!r} {_why_not(shown)}.")
    return values


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
    names = values.cast(pl.String).str.strip_chars()
    empty = names.is_null() | (names == "")
    if required and empty.any():
        raise UserError(f"line {line_of(first_line, int(empty.arg_true()[0]))}: the row has no {what}; every row "
                        "needs one.")
    long = names.str.len_chars().fill_null(0) > limits.max_name_chars
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
