"""What an upload may cost, enforced while it is read and before anything is allocated per sample.

A small file can declare huge counts (a 1 MB long-layout file can name 40,000 samples), so every limit is checked
as the file is read: the size before reading, the header's columns and the file's rows before parsing values, the
number of distinct samples before the arrays for a new sample are made, and the length of every name a user
supplies. The numbers, and why they were chosen, are in SECURITY.md; ``benchmarks/upload_memory.py`` measures what
the worst accepted and refused inputs cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from drugresponse.errors import UserError

MB = 1_000_000


@dataclass(frozen=True)
class Limits:
    """Bounds on one input file. ``None`` means no bound (the batch CLI streams, so it needs no sample cap)."""

    max_bytes: int | None = 25 * MB  # an nf-core table of 20 samples x every Ensembl gene, with room; see SECURITY.md
    max_samples: int | None = 20  # a lab's samples; a cohort belongs in `drugresponse predict` (see SECURITY.md)
    max_columns: int = 70_000  # a genes-as-columns table of every Ensembl gene, with room
    max_rows: int | None = 2_000_000  # 100 samples x every feature of the long layout
    max_name_chars: int = 200  # a sample, gene or event name; names are echoed into tables and downloads
    max_header_bytes: int = 4 * MB  # the header line (70,000 column names of ~50 characters)
    max_unpacked_bytes: int = 200 * MB  # what a compressed container (.xlsx) may expand to

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


APP = Limits()  # the web app and its API: one request must not take the server down
BATCH = Limits(max_bytes=None, max_samples=None, max_rows=None)  # `drugresponse predict`: streams, memory bounded by chunks
