"""``drugresponse screen LIBRARY -o OUTPUT``: score a compound library against every GDSC line or an uploaded cohort.

The library is read line by line (``.smi``/``.txt``: a SMILES, then optionally a name; ``.csv``/``.tsv``: a
``smiles`` column and optionally ``name`` or ``id``), in chunks of compounds. Each chunk is standardised and
fingerprinted (the app's ``compound_structure`` rules and messages) and scored with ``compound.onnx``: one matrix
product against every line. Rows are appended to OUTPUT under a temporary name renamed only at the end, so a failure
leaves no partial file. With ``workers`` or ``address`` the chunks run as Ray tasks, a bounded number in flight,
their results written in library order.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from drugresponse.compound_structure import MAX_SMILES_CHARS, morgan_bits, standardise
from drugresponse.errors import UserError

from .batch import OutputFile

CHUNK = 256
MAX_LINE = MAX_SMILES_CHARS + 1_000  # a SMILES and its name
TEXT_COLUMNS = ["compound", "smiles", "target", "tissue"]


@dataclass(frozen=True)
class Targets:
    """What the compounds are scored against: names, tissues ('' for samples), anchors and the interval setting."""

    names: list[str]
    tissues: list[str]
    anchors: np.ndarray  # float32 [targets, anchor drugs]
    # per target: False where the anchors are measured (a GDSC line: the known-line interval), True where they are
    # the genomic model's predictions (a sample, or a line outside the screen: the new-line interval)
    predicted: np.ndarray

    def half_widths(self, meta: dict, scale: np.ndarray) -> np.ndarray:
        """[compounds, targets] 80% half-widths: q of the target's setting times each compound's spread."""
        q = np.where(self.predicted, meta["intervals"]["double"]["q"], meta["intervals"]["single"]["q"])
        return scale[:, None] * q[None, :]


def library_entries(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, name, SMILES) for each compound of the library, read as a stream."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no library at {path}: give a .smi file (one SMILES per line, optionally a name after it) "
                        "or a .csv/.tsv with a smiles column.")
    with open(path, "rb") as raw:
        if b"\0" in raw.read(8192):
            raise UserError(f"{path.name} is a binary file; a library is text: one SMILES per line (.smi) or a "
                            "table with a smiles column (.csv, .tsv).")
    suffix = path.suffix.lower()
    handle = open(path, "rb")  # bytes, decoded line by line: a bad byte is reported with its line
    try:
        if suffix in (".csv", ".tsv"):
            yield from _table_entries(handle, "\t" if suffix == ".tsv" else ",", path.name)
        else:
            yield from _smi_entries(handle, path.name)
    finally:
        handle.close()


def _bounded(handle) -> Iterator[tuple[int, str]]:
    number = 0
    while True:
        number += 1
        raw = handle.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            raise UserError(f"line {number} is longer than {MAX_LINE:,} characters: a library holds one SMILES "
                            f"(at most {MAX_SMILES_CHARS:,} characters) and a name per line.")
        try:
            # utf-8-sig on the first line: a byte-order mark (Excel's "CSV UTF-8") is not part of the first name
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise UserError(f"line {number} of {Path(handle.name).name} is not UTF-8 text; save the file as "
                            "UTF-8.") from None
        yield number, line.rstrip("\r\n")


def _smi_entries(handle, name: str) -> Iterator[tuple[int, str, str]]:
    for number, line in _bounded(handle):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split(maxsplit=1)
        if number == 1 and fields[0].lower() == "smiles":  # a header line
            continue
        yield number, (fields[1].strip() if len(fields) > 1 else f"line {number}"), fields[0]


def _table_entries(handle, delimiter: str, name: str) -> Iterator[tuple[int, str, str]]:
    lines = _bounded(handle)
    first = next(lines, None)
    if first is None:
        raise UserError(f"{name} is empty.")
    header = [h.strip().lower() for h in next(csv.reader([first[1]], delimiter=delimiter))]
    if "smiles" not in header:
        raise UserError(f"{name} has no 'smiles' column (found: {', '.join(header[:8])}); name the structure column "
                        "smiles, or give a .smi file.")
    s_col = header.index("smiles")
    n_col = next((header.index(c) for c in ("name", "id", "compound") if c in header), None)
    for number, line in lines:
        if not line.strip():
            continue
        if line.count('"') % 2:  # a quoted field running onto the next line: no SMILES or name holds a line break
            raise UserError(f"{name}, line {number}: a quoted field runs onto the next line; a library holds one "
                            "compound per line.")
        row = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        if len(row) <= s_col:
            raise UserError(f"{name}, line {number}: {len(row)} field(s), but the smiles column is number {s_col + 1}.")
        label = row[n_col].strip() if n_col is not None and n_col < len(row) and row[n_col].strip() else \
            f"line {number}"
        yield number, label, row[s_col].strip()


_SESSIONS: dict = {}


def _session(model: bytes):
    """One onnxruntime session per process and model (Ray workers keep theirs between chunks). The model travels as
    bytes, so a worker on another node needs no copy of the file."""
    import hashlib

    key = hashlib.sha256(model).hexdigest()
    if key not in _SESSIONS:
        import onnxruntime as ort

        from .runtime import session_options

        _SESSIONS[key] = ort.InferenceSession(model, session_options(1), providers=["CPUExecutionProvider"])
    return _SESSIONS[key]


def score_chunk(model: bytes, meta: dict, targets: Targets, top: int | None, entries: list) -> tuple:
    """Standardise, fingerprint and score one chunk: (arrow table of rows, [(line, name, reason)] refused)."""
    fp_settings = meta["fingerprint"]
    kept, refused, bits = [], [], []
    for number, name, smiles in entries:
        try:
            compound = standardise(smiles)
        except UserError as exc:
            refused.append((number, name, str(exc)))
            continue
        kept.append((number, name, compound.smiles))
        bits.append(morgan_bits(compound, fp_settings["radius"], fp_settings["size"]))
    if not kept:
        return None, refused
    predicted, scale, similarity = _session(model).run(
        ["ln_ic50", "scale", "similarity"], {"fingerprint": np.stack(bits), "anchor_ln_ic50": targets.anchors})
    half_all = targets.half_widths(meta, scale)
    order = np.argsort(predicted, axis=1, kind="stable")
    if top:
        order = order[:, :top]
    per = order.shape[1]
    rows = np.arange(len(kept))[:, None]
    values = predicted[rows, order]
    half = half_all[rows, order]
    each = np.repeat(np.arange(len(kept), dtype=np.int32), per)

    def coded(indices, names):  # dictionary-encoded text: a few names, millions of rows
        return pa.DictionaryArray.from_arrays(pa.array(indices, type=pa.int32()), pa.array(names, type=pa.string()))

    table = pa.table({
        "compound": coded(each, [k[1] for k in kept]),
        "library_line": pa.array(np.repeat([k[0] for k in kept], per).astype(np.int64)),
        "smiles": coded(each, [k[2] for k in kept]),
        "target": coded(order.ravel().astype(np.int32), targets.names),
        "tissue": coded(order.ravel().astype(np.int32), targets.tissues),
        "predicted_ln_ic50": pa.array(values.ravel().astype(np.float32)),
        "interval_low": pa.array((values - half).ravel().astype(np.float32)),
        "interval_high": pa.array((values + half).ravel().astype(np.float32)),
        "rank": pa.array(np.tile(np.arange(1, per + 1, dtype=np.int32), len(kept))),
        "nearest_known_similarity": pa.array(np.repeat(similarity.max(axis=1), per).astype(np.float32)),
    })
    return table, refused


def chunks_of(entries: Iterator, size: int) -> Iterator[list]:
    while block := list(itertools.islice(entries, size)):
        yield block


def run_serially(fn, args: tuple, blocks: Iterator[list]) -> Iterator[tuple]:
    """In this process, the next chunk scored on a second thread while the caller writes this one (the parquet
    writer releases the GIL, so writing overlaps featurisation)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = None
        for block in blocks:
            future = pool.submit(fn, *args, block)
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (len(block), future)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


def run_on_ray(fn, args: tuple, blocks: Iterator[list], workers: int, address: str | None) -> Iterator[tuple]:
    """Chunks as Ray tasks, at most twice the cluster's CPUs in flight, results in library order."""
    try:
        import ray
    except ImportError:
        raise UserError("--workers/--address need Ray: `pip install 'drugresponse[scale]'` (or leave them out to "
                        "screen in this process).") from None
    address = address or os.environ.get("RAY_ADDRESS") or None
    started_here = not ray.is_initialized()
    if started_here:
        options = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        ray.init(**options, log_to_driver=False, configure_logging=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    shared = [ray.put(a) for a in args]
    window = max(2, 2 * int(ray.cluster_resources().get("CPU", workers or 1)))
    pending: list = []
    try:
        for block in blocks:
            pending.append((len(block), remote.remote(*shared, block)))
            if len(pending) >= window:
                size, ref = pending.pop(0)
                yield size, ray.get(ref)
        while pending:
            size, ref = pending.pop(0)
            yield size, ray.get(ref)
    except BaseException:
        for _, ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()


def screen(model_path: Path, meta: dict, targets: Targets, library: Path, out: Path, chunk: int = CHUNK,
           top: int | None = None, skip_invalid: bool = False, workers: int = 0, address: str | None = None,
           progress: bool = True, profiles: Path | None = None) -> dict:
    from tqdm import tqdm

    if chunk < 1 or (top is not None and top < 1):
        raise UserError("--chunk and --top must be at least 1.")
    inputs = [Path(library), *([] if profiles is None else [Path(profiles)])]
    written = [Path(out), refused_path(Path(out))]
    if any(w.resolve() == i.resolve() for w in written for i in inputs if i.exists()):
        raise UserError("the output (or its .refused.csv) would overwrite an input; choose another -o.")
    output = OutputFile(Path(out), {"library": Path(library).name, "model": "compound.onnx",
                                    "interval": "80%, from leave-drug-out residuals", "units": "ln µM"}, TEXT_COLUMNS)
    args = (Path(model_path).read_bytes(), meta, targets, top)
    blocks = chunks_of(library_entries(library), chunk)
    results = (run_on_ray(score_chunk, args, blocks, workers, address) if workers or address
               else run_serially(score_chunk, args, blocks))
    scored, refused, rows = 0, [], 0
    bar = tqdm(desc="compounds", unit="cpd", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        for size, (table, bad) in results:
            if bad and not skip_invalid:
                number, name, reason = bad[0]
                raise UserError(f"{Path(library).name}, line {number} ({name}): {reason} Nothing was written; fix "
                                "it, or pass --skip-invalid to leave such compounds out and list them.")
            refused += bad
            if table is not None:
                output.write(table)
                rows += table.num_rows
            scored += size - len(bad)
            bar.update(size)
        if not scored:
            if skip_invalid and refused:
                _write_refused(Path(out), refused)
            raise UserError(f"{Path(library).name} holds no compound that could be scored"
                            + (f"; the reasons are in {refused_path(Path(out))}." if skip_invalid and refused else "."))
        output.commit()
    except BaseException:
        output.abort()
        raise
    finally:
        bar.close()
    if skip_invalid:
        _write_refused(Path(out), refused)
    return {"out": str(out), "compounds": scored, "refused": len(refused), "rows": rows, "targets": len(targets.names)}


def refused_path(out: Path) -> Path:
    return out.with_name(out.name + ".refused.csv")


def _write_refused(out: Path, refused: list) -> None:
    import polars as pl

    from drugresponse.atomic_files import atomic_path

    from .downloads import neutralise_text

    table = pl.DataFrame(refused, schema=["line", "compound", "reason"], orient="row")
    with atomic_path(refused_path(out)) as tmp:
        neutralise_text(table).write_csv(tmp)
