"""Batch scoring for cohorts: ``drugresponse predict INPUT -o OUTPUT``.

Reads profiles in the app's two layouts (CSV or parquet) in chunks of samples, validates each chunk with the
app's own checks and messages (``uploads.py``), predicts with onnxruntime and appends one row per (sample,
drug) to a parquet or CSV file: ln IC50, IC50 in µM, the 80% conformal interval, the percentile among held-out
GDSC predictions, the call and any flag. Memory stays bounded by the chunk size; the output is written under
a temporary name and renamed only when every sample has been scored, so a failure leaves no partial file.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from drugresponse.errors import UserError

from .calibration import Calibration
from .runtime import ModelRuntime
from .uploads import Layout, ProfileSchema, check_header, layout_of, validate

CHUNK = 512
FORMATS = (".csv", ".parquet")


def _format(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{what} {path} must end in .csv or .parquet (found {suffix or 'no extension'!r}).")
    return suffix


def _columns(path: Path, suffix: str) -> list[str]:
    try:
        if suffix == ".parquet":
            return pl.read_parquet_schema(path).names()
        with open(path, newline="") as handle:
            return next(csv.reader(handle))
    except StopIteration:
        raise UserError(f"{path} is empty; expected a header row and one or more samples.") from None
    except (OSError, pa.ArrowException, pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc


def _wide_chunks(path: Path, suffix: str, chunk: int) -> Iterator[tuple[pl.DataFrame, int]]:
    """(chunk, file line of its first row) for the wide layout, streamed by polars' streaming engine."""
    # CSV: every column as text, the checks parse numbers themselves, as for an upload
    scan = pl.scan_parquet(path) if suffix == ".parquet" else pl.scan_csv(path, infer_schema=False)
    line = 2
    for frame in scan.collect_batches(chunk_size=chunk):
        for start in range(0, frame.height, chunk):
            yield frame.slice(start, chunk), line + start
        line += frame.height


def _long_chunks(path: Path, suffix: str, chunk: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
    """(chunk of whole samples, file line of each row) for the long layout: one pass per chunk of samples."""
    scan = pl.scan_parquet(path) if suffix == ".parquet" else pl.scan_csv(path, infer_schema=False)
    scan = scan.with_row_index("__line", offset=2)
    sample = next(c for c in scan.collect_schema().names() if c.strip().lower() == "sample")
    samples = scan.select(pl.col(sample).cast(pl.String)).unique(maintain_order=True).collect()[sample]
    for start in range(0, len(samples), chunk):
        part = scan.filter(pl.col(sample).cast(pl.String).is_in(samples.slice(start, chunk).to_list())).collect()
        yield part.drop("__line"), part["__line"].to_numpy()


def count_samples(path: Path, suffix: str, layout: str) -> int | None:
    """Samples in the file when cheap to know (parquet wide: its row count), for the progress bar."""
    return pq.ParquetFile(path).metadata.num_rows if suffix == ".parquet" and layout == "wide" else None


class OutputFile:
    """Append tables to ``path`` through a temporary file renamed on ``commit``; ``abort`` removes it."""

    def __init__(self, path: Path):
        self.path, self.suffix = path, _format(path, "the output")
        self.tmp = path.with_name(f".{path.name}.partial")
        self.writer = None

    def write(self, table: pa.Table) -> None:
        if self.suffix == ".parquet":
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.tmp, table.schema, compression="snappy", use_dictionary=DICTIONARY)
            self.writer.write_table(table)
        else:  # polars quotes a field only when it must (pyarrow quotes every string)
            with open(self.tmp, "a" if self.writer else "w") as handle:
                pl.from_arrow(table).write_csv(handle, include_header=self.writer is None)
            self.writer = True

    def _close(self) -> None:
        if self.suffix == ".parquet" and self.writer is not None:
            self.writer.close()

    def commit(self) -> None:
        self._close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self._close()
        self.tmp.unlink(missing_ok=True)


CALLS = pa.array(["sensitive", "intermediate", "resistant", "n/a"])
DICTIONARY = ["sample", "drug", "call", "flag"]  # the text columns; numbers are not worth a dictionary


def score_table(runtime: ModelRuntime, calibration: Calibration, samples: list[str], profiles: dict,
                flags: list[str]) -> pa.Table:
    """One row per (sample, drug), numbers only (the app's table, in machine-friendly columns); names stored once
    each (dictionary-encoded), so a cohort's output costs little beyond its numbers."""
    predictions = runtime.predict(profiles).astype(np.float64)
    lower, upper = calibration.interval(predictions)
    percentile = calibration.percentile(predictions)
    n, n_drugs = len(samples), len(runtime.drugs)
    rows = np.repeat(np.arange(n, dtype=np.int32), n_drugs)
    call = np.where(np.isnan(percentile), 3, np.where(percentile < 20, 0, np.where(percentile > 80, 2, 1)))
    flag_values, flag_codes = np.unique(np.asarray(flags, dtype=object).astype(str), return_inverse=True)
    return pa.table({
        "sample": pa.DictionaryArray.from_arrays(rows, pa.array(samples, pa.string())),
        "drug": pa.DictionaryArray.from_arrays(np.tile(np.arange(n_drugs, dtype=np.int32), n),
                                               pa.array(runtime.drugs, pa.string())),
        "ln_ic50": predictions.ravel().astype(np.float32), "ic50_um": np.exp(predictions).ravel().astype(np.float32),
        "interval_low": lower.ravel().astype(np.float32), "interval_high": upper.ravel().astype(np.float32),
        "percentile": percentile.ravel().astype(np.float32),
        "call": pa.DictionaryArray.from_arrays(call.ravel().astype(np.int32), CALLS),
        "flag": pa.DictionaryArray.from_arrays(flag_codes.astype(np.int32)[rows], pa.array(flag_values, pa.string())),
    })


def _checked(chunks: Iterator, reader: Layout, layout: str, schema: ProfileSchema,
             stages: dict) -> Iterator[tuple[list[str], dict, list[str]]]:
    """(samples, model inputs, flags) per chunk, read and checked as the app checks an upload."""
    seen: set[str] = set()
    clock = time.perf_counter()
    for table, lines in chunks:
        samples, profiles, unknown = getattr(reader, layout)(table, lines)
        clock = _lap(stages, "read", clock)
        repeated = seen.intersection(samples)
        if repeated:
            raise UserError(f"sample {sorted(repeated)[0]!r} appears in more than one place; sample names must "
                            "be unique.")
        seen.update(samples)
        report = validate(samples, profiles, unknown, schema)
        clock = _lap(stages, "validate", clock)
        yield samples, profiles, report.flags
        clock = time.perf_counter()


def _read_ahead(items: Iterator, pool: ThreadPoolExecutor) -> Iterator:
    """``items`` with the next one produced on ``pool``'s thread while the caller works on the current one: polars,
    numpy and onnxruntime release the GIL, so reading chunk k+1 overlaps scoring chunk k. At most two chunks are
    in memory; an error in reading surfaces at the chunk where it occurred."""
    done = object()
    pending = pool.submit(next, items, done)
    while (item := pending.result()) is not done:
        pending = pool.submit(next, items, done)
        yield item


def predict_file(runtime: ModelRuntime, calibration: Calibration, source: Path, out: Path, chunk: int = CHUNK,
                 progress: bool = True) -> dict:
    """Score every sample of ``source`` into ``out``; return counts. Refuses with a message at the first bad sample."""
    source, out = Path(source), Path(out)
    if not source.is_file():
        raise UserError(f"no input file at {source}.")
    suffix = _format(source, "the input")
    columns = _columns(source, suffix)
    check_header(columns)
    layout = layout_of(columns)
    if out.resolve() == source.resolve():
        raise UserError("the output would overwrite the input; choose another -o.")
    schema = ProfileSchema.of(runtime)
    chunks = (_wide_chunks(source, suffix, chunk) if layout == "wide"
              else _long_chunks(source, suffix, chunk))
    output, samples_done, flagged = OutputFile(out), 0, 0
    # busy seconds per stage, for the benchmark's breakdown; read and validate run beside predict and write
    stages = dict.fromkeys(("read", "validate", "predict", "write"), 0.0)
    bar = tqdm(total=count_samples(source, suffix, layout), unit="sample", desc="scoring", file=sys.stderr,
               disable=not progress)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drugresponse-read")
    try:
        for samples, profiles, flags in _read_ahead(_checked(chunks, Layout(schema), layout, schema, stages), pool):
            clock = time.perf_counter()
            scored = score_table(runtime, calibration, samples, profiles, flags)
            clock = _lap(stages, "predict", clock)
            output.write(scored)
            _lap(stages, "write", clock)
            samples_done += len(samples)
            flagged += sum(bool(f) for f in flags)
            bar.update(len(samples))
        if not samples_done:
            raise UserError(f"{source} has a header but no samples.")
        output.commit()
    except BaseException:
        output.abort()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return {"samples": samples_done, "drugs": len(runtime.drugs), "rows": samples_done * len(runtime.drugs),
            "flagged": flagged, "layout": layout, "out": str(out), "seconds": stages}


def _lap(stages: dict, stage: str, since: float) -> float:
    now = time.perf_counter()
    stages[stage] += now - since
    return now
