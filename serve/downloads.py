"""CSV files the app offers for download: safe to open in a spreadsheet, self-describing, and not left behind.

- Text a user supplied (sample names) can start with ``=``, ``+``, ``-`` or ``@``, which a spreadsheet runs as a
  formula; such cells get a leading apostrophe, the convention spreadsheets read as "text" (OWASP's advice for
  CSV injection). Numbers are written as numbers.
- A UTF-8 byte-order mark, so Excel reads "µ" as µ; units in the column names; the model version, the input file
  and the mapping report as ``#`` comment lines above the header (pandas and polars skip them with
  ``comment="#"``).
- Written under one folder per app, each file whole or not at all; files older than ``KEEP_SECONDS`` are removed
  whenever a new one is written, and the folder when the process exits (on SIGTERM too: ``app.launch`` turns it into
  a normal exit).
"""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import polars as pl

from drugresponse.atomic_files import write_bytes_atomic

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
KEEP_SECONDS = 3600
_SAFE_STEM = re.compile(r"[^A-Za-z0-9._-]+")


def neutralise(value: str) -> str:
    """A text cell that a spreadsheet would run as a formula, made inert."""
    return "'" + value if value.startswith(FORMULA_START) else value


# a cell's start: after a delimiter, spaces and any opening quotes (``a,"=HYPERLINK(…)"`` is a quoted cell ``=…``)
_CELL_START = re.compile(r"(^|[,;\t])([\s\"]*)(?=[=+\-@])")


def neutralise_line(line: str) -> str:
    """A line of free text a spreadsheet will split into cells (at commas, or semicolons in some locales, or tabs),
    with every would-be cell that starts like a formula made inert: a sample named ``BT474,=1+2`` in a report line
    must not become a cell ``=1+2``, nor ``a,"=HYPERLINK(…)"`` a quoted one."""
    return _CELL_START.sub(lambda m: m.group(1) + m.group(2) + "'", line)


def neutralise_text(table: pl.DataFrame) -> pl.DataFrame:
    """Every text column's formula-like cells made inert (vectorised: a cohort's output has millions of rows)."""
    text = [c for c, t in table.schema.items() if t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum)]
    starts = "^[" + "".join("\\" + c if c in "-+" else c for c in FORMULA_START) + "]"
    return table.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(starts)).then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String)).alias(c) for c in text)


class Downloads:
    """The folder where one app writes its CSV downloads."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="drugresponse-downloads-"))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def _prune(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        for path in self.folder.glob("*/*.csv"):
            if path.parent.name == "fixed":
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    path.parent.rmdir()
            except OSError:  # another request removed it first
                pass

    def fixed(self, table: pl.DataFrame, stem: str) -> str:
        """A file the app offers for its whole life (a template): kept when older downloads are pruned."""
        path = self.folder / "fixed" / f"{_SAFE_STEM.sub('_', stem)}.csv"
        path.parent.mkdir(exist_ok=True)
        write_bytes_atomic(path, ("\ufeff" + neutralise_text(table).write_csv()).encode("utf-8"))
        return str(path)

    def csv(self, table: pl.DataFrame, stem: str, header_lines: list[str] = (), keep: bool = False) -> str:
        """Write ``table`` as a download and return its path (a fresh folder each, so names never collide).
        ``keep``: a file the caller offers again for the same ``stem`` (a GDSC line's ranking), kept for the app's
        life in a folder of its own per stem and not pruned, so asking again writes nothing."""
        self._prune()
        if keep:
            folder = self.folder / "kept" / hashlib.sha256(stem.encode()).hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = self.folder / uuid.uuid4().hex
            folder.mkdir()
        path = folder / f"{_SAFE_STEM.sub('_', stem)[:80] or 'download'}.csv"
        comments = "".join(f"# {neutralise_line(line)}\n" for entry in header_lines for line in entry.splitlines())
        body = neutralise_text(table).write_csv()
        write_bytes_atomic(path, ("\ufeff" + comments + body).encode("utf-8"))
        return str(path)
