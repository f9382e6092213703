"""Curated corrections to GDSC's driver-event table, applied when the bundle is built.

GDSC's v17 feature table marks some textbook fusion lines as not carrying their fusion (K-562 is *the* CML line and
is listed BCR-ABL-negative). ``driver_overrides.csv`` holds one row per line and event, each with the literature or
cell-line-registry source that establishes it; the bundle's manifest records every row applied, with the table's
own value beside it, and ``drugresponse data info`` prints them. A row is keyed by COSMIC id and checked against the
line's name, so a typo cannot land on another line; a row whose line is not in the bundle (a test slice) is listed
as not applied rather than failing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from drugresponse.errors import UserError

OVERRIDES = Path(__file__).with_name("driver_overrides.csv")
COLUMNS = ("cell_line", "cosmic_id", "event", "value", "source")


def file_sha256(path: Path = OVERRIDES) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_overrides(path: Path = OVERRIDES) -> pl.DataFrame:
    try:
        table = pl.read_csv(path, schema_overrides={"cosmic_id": pl.Int64, "value": pl.Int8})
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UserError(f"cannot read {path} as the override table ({', '.join(COLUMNS)}; COSMIC id and value "
                        f"whole numbers): {str(exc).splitlines()[0]}") from None
    if tuple(table.columns) != COLUMNS:
        raise UserError(f"{path} has columns {table.columns}; expected {list(COLUMNS)}.")
    table = table.with_columns(pl.col("source").str.strip_chars().replace("", None))
    if table.select(pl.any_horizontal(pl.all().is_null())).to_series().any():
        raise UserError(f"{path} has an empty cell; every row needs a line, its COSMIC id, an event, 0/1 and a source.")
    if not table["value"].is_in([0, 1]).all():
        raise UserError(f"{path}: every value must be 0 or 1.")
    if table.select("cosmic_id", "event").is_duplicated().any():
        raise UserError(f"{path} names the same line and event twice.")
    return table


def apply_overrides(drivers: pl.DataFrame, cell_lines: pl.DataFrame,
                    overrides: pl.DataFrame) -> tuple[pl.DataFrame, list[dict], list[dict]]:
    """``drivers`` (one row per bundle line, ``cell_lines`` order) with the overrides set; the rows applied (with
    the table's value before) and those whose line is not in this bundle."""
    cosmic_of = dict(zip(cell_lines["cell_line"], cell_lines["cosmic_id"]))
    name_of = {v: k for k, v in cosmic_of.items()}
    applied, absent = [], []
    for row in overrides.iter_rows(named=True):
        if row["event"] not in drivers.columns[1:]:
            raise UserError(f"driver override for {row['cell_line']}: {row['event']!r} is not an event of GDSC's table.")
        name = name_of.get(row["cosmic_id"])
        if name is None:
            absent.append({k: row[k] for k in ("cell_line", "cosmic_id", "event")})
            continue
        if name != row["cell_line"]:
            raise UserError(f"driver override names {row['cell_line']!r} with COSMIC id {row['cosmic_id']}, which the "
                            f"bundle holds as {name!r}: fix the override file.")
        before = drivers.filter(pl.col("cell_line") == name)[row["event"]].item()
        if before == row["value"]:
            raise UserError(f"driver override for {name} {row['event']}: GDSC's table already says {before}; "
                            "remove the row.")
        drivers = _set(drivers, name, row["event"], row["value"])
        applied.append({**{k: row[k] for k in COLUMNS}, "table_value": before})
    return drivers, applied, absent


def without_overrides(drivers: pl.DataFrame, applied: list[dict]) -> pl.DataFrame:
    """``drivers`` as GDSC's table has it: the applied rows (a manifest's ``driver_overrides.applied``) undone."""
    for row in applied:
        drivers = _set(drivers, row["cell_line"], row["event"], row["table_value"])
    return drivers


def _set(drivers: pl.DataFrame, cell_line: str, event: str, value: int | None) -> pl.DataFrame:
    """``drivers`` with one line's value of one event replaced (None: unknown), the column's type kept."""
    at = pl.col("cell_line") == cell_line
    return drivers.with_columns(pl.when(at).then(pl.lit(value)).otherwise(pl.col(event))
                                .cast(drivers.schema[event]).alias(event))
