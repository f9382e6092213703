"""What the worst upload costs the app's memory: peak resident memory over idle, per layout, up to the byte limit.

    python benchmarks/upload_memory.py      # ~5 min

The real app runs in its own server process (as in ``load.py``). For each input below, built from the model's own
gene and event names (so the parser does all its work) and as large as the layout's worst case allows within the
app's byte limit, the server's peak-RSS counter is reset (``/proc/PID/clear_refs``), the file is uploaded and sent to
``/predict_profile`` over HTTP with gradio_client, and the peak over the idle level is read back. Accepted and refused
inputs alike. Writes ``upload_memory.json`` and ``upload_memory.md``. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from app_server import reset_peaks, start, tree_memory_mb  # noqa: E402

from benchmarks.machine import describe, write_outputs  # noqa: E402
from drugresponse.serve.uploads import APP  # noqa: E402
from tests.fixtures.hostile_files import (  # noqa: E402
    dictionary_bomb,
    parquet_declaring_rows,
    shared_string_bomb,
    xlsx_bomb,
)

MB = 1_000_000
BUDGET_MB = 512


def inputs(genes: list[str], events: list[str], folder: Path) -> dict[str, tuple[str, Path]]:
    """name -> (what it is, path). Each is the worst its layout allows within the byte limit."""
    rng = np.random.default_rng(0)
    limit = APP.max_bytes
    out = {}

    def write(name, description, data: bytes):
        path = folder / name
        path.write_bytes(data)
        out[name] = (description, path)

    values = lambda n: rng.normal(size=n).round(3)  # noqa: E731
    # long, accepted: as many (sample, gene) rows as fit, every one a model gene
    per_sample = len(genes)
    row = lambda s, g, v: f"S{s},{g},expression,{v}\n"  # noqa: E731
    approx = len(row(0, genes[0], 0.123))
    samples = min(APP.max_samples, limit // (approx * per_sample))
    lines = ["sample,gene,modality,value\n"] + [row(s, g, v) for s in range(samples)
                                                for g, v in zip(genes, values(per_sample))]
    write("long_accepted.csv", f"long layout, {samples} samples x {per_sample:,} genes", "".join(lines).encode())
    # long, refused: one row per sample, as many samples as the byte limit holds (the 0.9 MB attack, scaled up)
    n = limit // len(b"s1234567,TP53,mutation,1\n")
    data = b"sample,gene,modality,value\n" + b"".join(b"s%d,TP53,mutation,1\n" % i for i in range(n))
    write("long_many_samples.csv", f"long layout, {n:,} one-row samples (refused)", data[:limit])
    # wide, accepted: 500 samples, every gene and event as a column
    # (a table, not joined text: event names hold commas, which the CSV writer quotes and the other containers keep)
    wide = pl.DataFrame({"sample": [f"S{s}" for s in range(APP.max_samples)],
                         **{f"expression:{g}": values(APP.max_samples) for g in genes},
                         **{f"driver:{e}": (rng.random(APP.max_samples) < 0.1).astype(int) for e in events}})
    write("wide_accepted.csv", f"wide layout, {APP.max_samples} samples x {wide.width - 1:,} columns",
          wide.write_csv().encode())
    # wide, refused: the most columns the limit admits plus one, unknown names, as many rows as fit
    columns = APP.max_columns + 1
    header = "sample," + ",".join(f"expression:X{i}" for i in range(columns - 1))
    row_text = "S," + ",".join("1" for _ in range(columns - 1))
    rows_fit = max(1, (limit - len(header)) // (len(row_text) + 1))
    write("wide_too_many_columns.csv", f"wide layout, {columns:,} columns x {rows_fit} rows (refused)",
          ("\n".join([header] + [row_text.replace("S,", f"S{i},", 1) for i in range(rows_fit)]) + "\n").encode())
    # as many columns as the limit admits, read: unknown names in the wide layout, and a genes-as-columns table of
    # the model's genes by Ensembl ID among made-up ones (a lab's table of every gene); the rows that fit
    columns = APP.max_columns
    header = "sample," + ",".join(f"expression:X{i}" for i in range(columns - 1))
    row_text = "S," + ",".join("1" for _ in range(columns - 1))
    rows_fit = min(APP.max_samples, max(1, (limit - len(header)) // (len(row_text) + 1)))
    write("wide_widest.csv", f"wide layout, {columns:,} columns x {rows_fit} rows, names the model does not know",
          ("\n".join([header] + [row_text.replace("S,", f"S{i},", 1) for i in range(rows_fit)]) + "\n").encode())
    ids = pl.read_parquet(ROOT / "assets" / "gene_identifiers.parquet").filter(pl.col("rule") == "ensembl")
    by_id = dict(zip(ids["symbol"].to_list(), ids["identifier"].to_list()))
    known = [by_id[g] for g in genes if g in by_id]
    names = known + [f"ENSG9{i:010d}" for i in range(columns - 1 - len(known))]
    row_text = "patient-X," + ",".join("5.5" for _ in names)  # "S1" and the like are HGNC aliases: no gene names
    rows_fit = min(APP.max_samples, max(1, (limit - len(names) * 16) // (len(row_text) + 1)))
    write("genes_as_columns_widest.csv", f"genes as columns, {columns:,} columns ({len(known):,} model genes by "
          f"Ensembl ID) x {rows_fit} rows", ("\n".join(["sample," + ",".join(names)]
                                                     + [row_text.replace("-X,", f"-{i},", 1) for i in range(rows_fit)])
                                          + "\n").encode())
    # genes as rows, accepted: every model gene, as many sample columns as fit (TPM)
    samples = min(APP.max_samples, limit // (len(genes) * 9))
    table = pl.DataFrame({"gene": genes, **{f"S{s}": np.exp2(values(len(genes)) + 5).round(2) for s in range(samples)}})
    write("genes_as_rows_accepted.tsv", f"genes as rows, {len(genes):,} genes x {samples} samples (TPM)",
          table.write_csv(separator="\t").encode())
    # parquet declaring the most rows: refused from its metadata
    write("parquet_declared_rows.parquet", f"parquet declaring {APP.max_rows + 1:,} rows (refused)",
          parquet_declaring_rows(APP.max_rows + 1))
    # an Excel workbook that would unpack to 262 MB
    write("xlsx_bomb.xlsx", "xlsx that would unpack to 262 MB (refused)", xlsx_bomb(250))
    # the same samples as accepted wide files in the other containers: a workbook and parquet
    import xlsxwriter

    book = xlsxwriter.Workbook(str(folder / "wide_accepted.xlsx"), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, wide.columns)
    for i, row in enumerate(wide.iter_rows(), start=1):
        sheet.write_row(i, 0, row)
    book.close()
    out["wide_accepted.xlsx"] = (f"xlsx, {wide.height} samples x {wide.width - 1:,} columns", folder / "wide_accepted.xlsx")
    wide.write_parquet(folder / "wide_accepted.parquet")
    out["wide_accepted.parquet"] = (f"parquet, {wide.height} samples x {wide.width - 1:,} columns",
                                    folder / "wide_accepted.parquet")
    # files that expand in the reader: one long string shared by every cell, repeated by a dictionary
    write("xlsx_shared_strings.xlsx", "xlsx whose 5,000 cells share one 20 KB string (refused)", shared_string_bomb())
    write("parquet_dictionary.parquet", "parquet repeating one 20 KB name 5,000 times (refused)", dictionary_bomb())
    # a mutation list just under the byte limit, sent with an accepted expression file (below)
    line = "S0,TP53,R273H\n"
    header = "sample,gene,protein_change\n"
    count = (limit - len(header)) // len(line)
    write("mutations_long.csv", f"gene and change list of {count:,} rows, beside 1 sample's expression",
          (header + line * count).encode())
    return out


def genes_of(meta: dict) -> list[str]:
    return meta["genes"]


def one_sample(genes: list[str], folder: Path) -> Path:
    """An accepted expression file of one sample, S0, to send a mutation list beside."""
    path = folder / "one_sample.csv"
    values = np.random.default_rng(2).normal(size=len(genes)).round(3)
    path.write_text("sample,gene,modality,value\n" + "".join(f"S0,{g},expression,{v}\n" for g, v in zip(genes, values)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    meta = json.loads((ROOT / "assets" / "model.json").read_text())
    rows, idle_levels = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (description, path) in inputs(meta["genes"], meta["drivers"], Path(tmp)).items():
            process, url = start("app")  # a fresh server per input: memory a previous request left cannot count
            try:
                client = Client(url, verbose=False)
                warm = Path(tmp) / "warm.csv"  # starts the upload worker, as a served app's first upload does
                warm.write_text("sample,gene,modality,value\nW,TP53,mutation,1\n")
                try:
                    client.predict(handle_file(str(warm)), None, "not given", api_name="/predict_profile")
                except Exception:  # refused (too few genes): the worker is up all the same
                    pass
                time.sleep(1)
                idle = tree_memory_mb(process.pid)["rss_mb"]
                reset_peaks(process.pid)
                start_time = time.perf_counter()
                expression, mutations = (path, None) if not name.startswith("mutations") else (
                    one_sample(genes_of(meta), Path(tmp)), handle_file(str(path)))
                try:
                    table = client.predict(handle_file(str(expression)), mutations, "not given",
                                           api_name="/predict_profile")
                    outcome = f"accepted: {len(table['data']):,} rows"
                except Exception as exc:  # a refusal is a result here
                    outcome = "refused: " + str(exc).split("\n")[0][:120]
                seconds = time.perf_counter() - start_time
                peak = tree_memory_mb(process.pid)["peak_mb"]
            finally:
                process.terminate()
                process.wait(timeout=30)
            idle_levels.append(idle)
            rows.append({"input": description, "bytes": path.stat().st_size, "outcome": outcome,
                         "seconds": round(seconds, 1), "idle_mb": idle, "peak_over_idle_mb": round(peak - idle, 1)})
            print(rows[-1], flush=True)
    idle = float(np.median(idle_levels))
    machine = describe()
    lines = ["| input | MB | outcome | seconds | peak RSS over idle (MB) |", "|---|---|---|---|---|"]
    lines += [f"| {r['input']} | {r['bytes'] / MB:.1f} | {r['outcome']} | {r['seconds']} | {r['peak_over_idle_mb']:,.0f} |"
              for r in rows]
    worst = max(r["peak_over_idle_mb"] for r in rows)
    lines += ["", f"The app server in its own process, a fresh one per input (idle {idle:.0f} MB resident with its "
              f"upload worker, median), each file uploaded and sent to "
              f"/predict_profile over HTTP; the peak resident memory over idle during the request, the app's process and "
              f"its upload worker together (VmHWM, reset before each). Byte limit {APP.max_bytes / MB:.0f} MB, {APP.max_samples} samples, {APP.max_columns:,} columns, "
              f"{APP.max_rows:,} rows. Worst: {worst:,.0f} MB, against a budget of {BUDGET_MB} MB. {machine['cpu']}, "
              f"{machine['cores']} cores.", ""]
    write_outputs(args.out, "upload_memory", {"idle_mb": idle, "budget_mb": BUDGET_MB, "rows": rows,
                                              "machine": machine}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
