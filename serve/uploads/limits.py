"""What an upload may cost, enforced while it is read and before anything is allocated per sample.

A small file can declare huge counts (a 1 MB long-layout file can name 40,000 samples), so every limit is checked
as the file is read: the size before reading, the header's columns and the file's rows before parsing values, the
number of distinct samples before the arrays for a new sample are made, and the length of every name a user
supplies and of every cell. Containers that expand (an .xlsx's shared strings, a parquet file's dictionaries) are
measured by reading them, not by what they declare, before a library decodes them (``xlsx_guard``, ``parquet_guard``).
The numbers, and why they were chosen, are in SECURITY.md; ``benchmarks/upload_memory.py`` measures what the worst
accepted and refused inputs cost.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from drugresponse.errors import UserError

MB = 1_000_000
# characters a sample name may not hold: control characters (a newline breaks the report), format characters (bidi
# overrides that reverse what a name shows, zero-width spaces that make two names look alike), line separators
HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
HIDDEN_PATTERN = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"  # the same, for polars' (Rust) regular expressions


def hidden_message(what: str, name: str, character: str) -> str:
    return (f"{what} {name[:40]!r} holds an invisible or control character (U+{ord(character):04X}, "
            f"{unicodedata.name(character, 'a control character')}); names must be plain visible text.")


@dataclass(frozen=True)
class Limits:
    """Bounds on one input file. ``None`` means no bound (the batch CLI streams, so it needs no sample cap)."""

    max_bytes: int | None = 25 * MB  # an nf-core table of 20 samples x every Ensembl gene, with room; see SECURITY.md
    max_samples: int | None = 20  # a lab's samples; a cohort belongs in `drugresponse predict` (see SECURITY.md)
    max_columns: int = 70_000  # a genes-as-columns table of every Ensembl gene, with room
    max_rows: int | None = 2_000_000  # 100 samples x every feature of the long layout
    max_name_chars: int = 200  # a sample, gene or event name; names are echoed into tables and downloads
    max_header_bytes: int = 4 * MB  # the header line (70,000 column names of ~50 characters)
    max_unpacked_bytes: int = 200 * MB  # what a compressed container (.xlsx, parquet) may expand to
    max_cell_bytes: int = 64 * 1024  # any cell's text; a VCF's INFO field (VEP's CSQ) is the longest a real file has
    max_number_chars: int = 100  # a cell read as a number (a float needs at most ~25)
    max_cells: int = 2_000_000  # an .xlsx sheet's rectangle, which the Excel reader allocates whole (~100 bytes a cell)
    worker_memory_mb: int = 1536  # address space the upload worker may add to what it holds once started
    read_timeout_s: float = 120.0  # one upload's reading, in the worker
    # `drugresponse predict` streams a parquet cohort row group after row group (a few at most at once): then
    # max_unpacked_bytes and the text budget bound each row group, not the file (a 10,000-profile cohort in one row group decodes to ~550 MB)
    per_row_group: bool = False

    @property
    def max_text_bytes(self) -> int:
        """The text a parquet file's dictionaries or an .xlsx's shared strings may expand to: no more than a text file
        may hold (without a byte limit, what a container may unpack to)."""
        return self.max_bytes if self.max_bytes is not None else self.max_unpacked_bytes

    def check_size(self, size: int, what: str = "the file") -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise UserError(f"{what} is {size / MB:.1f} MB; at most {self.max_bytes / MB:.0f} MB is accepted"
                            + ("" if self.max_samples is None else " (for larger cohorts use `drugresponse predict`)")
                            + ".")

    def check_columns(self, count: int) -> None:
        if count > self.max_columns:
            raise UserError(f"the header has {count:,} columns; at most {self.max_columns:,} are accepted.")

    def check_rows(self, count: int) -> None:
        if self.max_rows is not None and count > self.max_rows:
            raise UserError(f"the file has {count:,} rows; at most {self.max_rows:,} are accepted"
                            + ("" if self.max_samples is None else " (for larger cohorts use `drugresponse predict`)")
                            + ".")

    def check_samples(self, count: int) -> None:
        if self.max_samples is not None and count > self.max_samples:
            raise UserError(f"the file holds more than {self.max_samples} samples; at most {self.max_samples} are "
                            "accepted per file (for more, use `drugresponse predict`).")

    def check_name(self, name: str, what: str) -> None:
        if len(name) > self.max_name_chars:
            raise UserError(f"{what} {name[:40]!r}… is {len(name):,} characters long; at most "
                            f"{self.max_name_chars} are accepted.")
        hidden = next((c for c in name if unicodedata.category(c) in HIDDEN_CATEGORIES), None)
        if hidden is not None:
            raise UserError(hidden_message(what, name, hidden))

    def check_cell(self, size: int, where: str) -> None:
        """``size``: a cell's text in UTF-8 bytes; ``where``: the file and the cell, for the message."""
        if size > self.max_cell_bytes:
            raise UserError(f"{where} holds {size:,} bytes of text; a cell may hold at most {self.max_cell_bytes:,} "
                            "bytes (room for a VCF's INFO field; if VEP's CSQ is longer, annotate with --pick or "
                            "--per_gene).")


class TextBudget:
    """The text a container (an .xlsx's sheet, a parquet file's text columns) expands to, added cell by cell: each
    cell within the cell cap, the whole within ``max_text_bytes``; ``too_much(where)`` words the refusal."""

    def __init__(self, limits: Limits, too_much):
        self.limits, self.too_much, self.total = limits, too_much, 0

    def add(self, size: int, where: str) -> None:
        """Add one cell's text (``size`` UTF-8 bytes, found at ``where``), or the text of many (then ``size`` is their
        sum and the cap on one cell is checked by the caller with their longest)."""
        self.total += size
        if self.total > self.limits.max_text_bytes:
            raise UserError(self.too_much(where))


APP = Limits()  # the web app and its API: one request must not take the server down
# `drugresponse predict`: streams, so its memory is bounded by chunks and by one parquet row group at a time
BATCH = Limits(max_bytes=None, max_samples=None, max_rows=None, max_unpacked_bytes=2_000 * MB, per_row_group=True)
