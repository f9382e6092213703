"""Batch scoring for cohorts: ``drugresponse predict INPUT -o OUTPUT``.

Reads profiles in the app's layouts (CSV, TSV or parquet) in chunks of samples, in one pass, with the app's own
readers, checks and messages (``uploads``), predicts with onnxruntime and appends one row per (sample, drug) to a
parquet or CSV file: ln IC50, IC50 in µM, the 80% conformal interval, the percentile among held-out GDSC
predictions, the relative call and any flag. Memory stays bounded by the chunk size. The output is written under a temporary
name and renamed only when every sample has been scored, so a failure leaves no partial file. With
``skip_invalid``, samples that fail the checks are left out and listed, with the reason, in ``<output>.skipped.csv``.
"""

from __future__ import annotations

import json
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

from drugresponse.atomic_files import PartialFile, write_bytes_atomic, write_json_atomic
from drugresponse.errors import UserError

from .calibration import Calibration
from .downloads import neutralise_text
from .runtime import ModelRuntime
from .sample_context import call_words
from .uploads import ProfileSchema, read_cohort, read_mutation_file
from .uploads.report import identifier_notes, mutation_notes, outside_panel_notes, redirected

CHUNK = 512
OUTPUT_FORMATS = (".csv", ".parquet")


class OutputFile:
    """Append tables to ``path`` through a temporary file renamed on ``commit``; ``abort`` removes it."""

    def __init__(self, path: Path, metadata: dict | None = None, dictionary: list[str] | None = None):
        self.path, self.suffix, self.metadata = path, path.suffix.lower(), metadata or {}
        self.dictionary = DICTIONARY if dictionary is None else dictionary
        if self.suffix not in OUTPUT_FORMATS:
            raise UserError(f"the output {path} must end in .csv or .parquet (found {self.suffix or 'no extension'!r}).")
        self.partial = PartialFile(path)
        self.tmp = self.partial.tmp
        self.writer = None

    def write(self, table: pa.Table) -> None:
        if self.suffix == ".parquet":
            if self.writer is None:  # the file names its model and input, as the app's downloads do
                schema = table.schema.with_metadata({b"drugresponse": json.dumps(self.metadata).encode()})
                self.writer = pq.ParquetWriter(self.tmp, schema, compression="snappy",
                                               use_dictionary=self.dictionary)
            table = table.replace_schema_metadata(self.writer.schema.metadata)
            self.writer.write_table(table)
        else:  # polars quotes a field only when it must (pyarrow quotes every string)
            with open(self.tmp, "a" if self.writer else "w", encoding="utf-8") as handle:
                neutralise_text(pl.from_arrow(table)).write_csv(handle, include_header=self.writer is None)
            self.writer = True

    def _close(self) -> None:
        if self.suffix == ".parquet" and self.writer is not None:
            self.writer.close()

    def commit(self) -> None:
        self._close()
        self.partial.commit()

    def abort(self) -> None:
        self._close()
        self.partial.abort()


# relative calls, worded as such (a percentile among GDSC lines' held-out predictions is not a dose)
CALLS = pa.array([call_words(5.0), call_words(50.0), call_words(95.0), "n/a"])
DICTIONARY = ["sample", "drug", "relative_call", "flag"]  # the text columns; numbers are not worth a dictionary


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
        "relative_call": pa.DictionaryArray.from_arrays(call.ravel().astype(np.int32), CALLS),
        "flag": pa.DictionaryArray.from_arrays(flag_codes.astype(np.int32)[rows], pa.array(flag_values, pa.string())),
    })


def _timed(items: Iterator, stages: dict, stage: str) -> Iterator:
    """``items``, adding the time spent producing each to ``stages[stage]``."""
    while True:
        start = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        stages[stage] += time.perf_counter() - start
        yield item


def _read_ahead(items: Iterator, pool: ThreadPoolExecutor) -> Iterator:
    """``items`` with the next one produced on ``pool``'s thread while the caller works on the current one: pyarrow,
    polars, numpy and onnxruntime release the GIL, so reading chunk k+1 overlaps scoring chunk k. At most two chunks
    are in memory; an error in reading surfaces at the chunk where it occurred."""
    done = object()
    pending = pool.submit(next, items, done)
    while (item := pending.result()) is not done:
        pending = pool.submit(next, items, done)
        yield item


def skipped_path(out: Path) -> Path:
    return out.with_name(out.name + ".skipped.csv")


def report_path(out: Path) -> Path:
    return out.with_name(out.name + ".report.json")


def apply_mutations(report, calls, matched: set[str], only: str | None = None) -> bool:
    """Set each sample's driver events from the mutation list (paired by name, case-insensitively); the samples
    paired are added to ``matched``. ``only``: the mutation list's one sample, paired with the cohort's one sample
    whatever the names (the app's rule: Salmon names every sample ``quant``). True when that pairing was used."""
    by_name = {s.lower(): s for s in calls.samples}
    drivers = report.profiles["drivers"]
    by_being_only = False
    for row, name in enumerate(report.samples):
        sample = by_name.get(name.lower())
        if sample is None and only is not None:
            sample, by_being_only = only, True
        if sample is not None:
            for j, value in calls.events[sample].items():
                drivers[row, j] = value
            matched.add(sample)
    return by_being_only


def predict_file(runtime: ModelRuntime, calibration: Calibration, source: Path, out: Path, chunk: int = CHUNK,
                 progress: bool = True, skip_invalid: bool = False, schema: ProfileSchema | None = None,
                 mutations: Path | None = None) -> dict:
    """Score every sample of ``source`` into ``out``; return counts. Without ``skip_invalid``, the first sample that
    fails the checks stops the run with its message and nothing is written. ``mutations``: a mutation list (VCF, MAF,
    gene and change table) whose events are set for the samples of the same name. Beside ``out``, a report
    (``<out>.report.json``): the model, the input, how names were mapped and what was noted."""
    source, out = Path(source), Path(out)
    if not source.is_file():
        raise UserError(f"no input file at {source}.")
    if out.resolve() == source.resolve():
        raise UserError("the output would overwrite the input; choose another -o.")
    schema = schema or ProfileSchema.of(runtime)
    calls = read_mutation_file(mutations, schema) if mutations is not None else None
    provenance = {"model_version": runtime.metadata.get("model_version"), "precision": runtime.metadata.get("precision"),
                  "input": source.name, "mutations": Path(mutations).name if mutations is not None else None,
                  "units": "ln_ic50, interval_low, interval_high: natural log of IC50 in µM; ic50_um: µM"}
    output = OutputFile(out, provenance)
    samples_done, flagged, skipped, notes, matched, by_being_only = 0, 0, [], {}, set(), False
    stages = dict.fromkeys(("read", "predict", "write"), 0.0)  # busy seconds; reading runs beside the other two
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drugresponse-read")
    bar = None
    try:
        cohort = read_cohort(source, schema, chunk, skip_invalid)
        only = (calls.samples[0] if calls is not None and len(calls.samples) == 1 and cohort.samples == 1
                else None)
        bar = tqdm(total=cohort.samples, unit="sample", desc="scoring", file=sys.stderr, disable=not progress)
        for report, invalid in _read_ahead(_timed(cohort.chunks, stages, "read"), pool):
            skipped += invalid
            notes.update(dict.fromkeys(report.notes))
            if report.samples:
                if calls is not None:
                    by_being_only |= apply_mutations(report, calls, matched, only)
                clock = time.perf_counter()
                scored = score_table(runtime, calibration, report.samples, report.profiles, report.flags)
                stages["predict"] += time.perf_counter() - clock
                clock = time.perf_counter()
                output.write(scored)
                stages["write"] += time.perf_counter() - clock
            samples_done += len(report.samples)
            flagged += sum(bool(f) for f in report.flags)
            bar.update(len(report.samples) + len(invalid))
        if not samples_done:
            if skip_invalid:  # the message points to the reasons: write them
                report_skipped(out, skipped)
            raise UserError(f"{source} has no sample that could be scored" + (
                f" ({len(skipped)} skipped; see the reasons in {skipped_path(out)})." if skipped else "."))
        if calls is not None and not matched:  # a mutation file that sets nothing is a mistake, not a detail
            raise UserError(f"{Path(mutations).name}: none of its samples ({', '.join(map(repr, calls.samples[:3]))}"
                            f"{' …' if len(calls.samples) > 3 else ''}) is in {source.name}"
                            + (f" (which has {cohort.samples:,} sample(s))" if cohort.samples else "")
                            + "; name the samples the same in both files. Nothing was written.")
        output.commit()
    except BaseException:
        output.abort()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    if skip_invalid:
        report_skipped(out, skipped)
    pointed = redirected(schema, cohort.reading.unknown)  # mutation:BRAF and the like: reported with their event
    notes = (identifier_notes(cohort.reading, {}, pointed) + outside_panel_notes(schema, cohort.reading.unknown)
             + list(notes))
    if calls is not None:
        unpaired = [s for s in calls.samples if s not in matched]
        events = sorted({schema.features["drivers"][j] + (" = 1" if v else " = 0")
                         for s in matched for j, v in calls.events[s].items()})
        paired = f"paired with {len(matched):,} sample(s)" + (
            f" ({only!r} with the input's one sample, by being the only sample of each file)" if by_being_only
            else "")
        notes.append(f"{Path(mutations).name} ({calls.kind}): {paired}; "
                     + (f"events set: {', '.join(events[:8])}{' …' if len(events) > 8 else ''}" if events else
                        "no GDSC event in it (nothing changes)")
                     + (f"; {len(unpaired):,} of its samples are not in {source.name} and were not used (e.g. "
                        f"{', '.join(map(repr, unpaired[:3]))})" if unpaired else "") + ".")
        notes += mutation_notes(calls)
    summary = {"samples": samples_done, "drugs": len(runtime.drugs), "rows": samples_done * len(runtime.drugs),
               "flagged": flagged, "skipped": len(skipped), "layout": cohort.description, "format": cohort.table.format,
               "out": str(out), "notes": notes, "seconds": stages}
    write_json_atomic(report_path(out), {**provenance, **{k: v for k, v in summary.items() if k != "seconds"}})
    return summary


def report_skipped(out: Path, skipped: list) -> None:
    """``<out>.skipped.csv``: one row per sample left out, with the reason (written even when empty)."""
    table = pl.DataFrame({"sample": [s.sample for s in skipped], "reason": [s.reason for s in skipped]},
                         schema={"sample": pl.String, "reason": pl.String})
    write_bytes_atomic(skipped_path(out), neutralise_text(table).write_csv().encode("utf-8"))

