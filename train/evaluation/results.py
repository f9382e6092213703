"""The files an evaluation writes, and adding one model's run to a saved table (``evaluate --merge``).

In the results folder (``benchmarks/results`` by default): ``<dataset>_<split>.json`` (one record per model,
pooled and per fold), ``<dataset>_<split>.md`` (the table the README shows), ``<dataset>_<split>_predictions.parquet``
(out-of-fold predictions) and ``<dataset>_<split>_history.json`` (the neural model's loss curves and choices per
fold). Each is written whole or not at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.atomic_files import write_json_atomic, write_parquet_atomic, write_text_atomic
from drugresponse.errors import UserError

from .model_names import ABLATION_SUFFIX, MODEL_NAMES

PARQUET = {"compression": "zstd", "compression_level": 19}


def markdown_table(records: list[dict]) -> str:
    head = ("| model | baseline | RMSE | MAE | R² | Pearson | Spearman | per-drug Pearson | per-drug Spearman | pairs |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    fmt = lambda v: "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"  # noqa: E731
    # results saved before the "ablation" field existed are labelled by their name
    kind = lambda r: ("yes" if r["baseline"] else "ablation"  # noqa: E731
                      if r.get("ablation", r["model"].endswith(ABLATION_SUFFIX)) else "no")
    rows = [f"| {r['model']} | {kind(r)} | {fmt(r['rmse'])} | {fmt(r['mae'])} | {fmt(r['r2'])} "
            f"| {fmt(r['pearson'])} | {fmt(r['spearman'])} | {fmt(r['per_drug_pearson'])} | "
            f"{fmt(r['per_drug_spearman'])} | {r['n_pairs']:,} |" for r in records]
    return head + "\n".join(rows) + "\n"


def merge_with_saved(out_dir: Path, stem: str, records: list[dict], table: pl.DataFrame,
                     histories: dict) -> tuple[list[dict], pl.DataFrame, dict]:
    """Add this run's models to the saved results of the same split, folds, seed, preset and data (replacing any
    saved record of the same name), so one model can be added to a table without re-running the others."""
    saved_path = out_dir / f"{stem}.json"
    if not saved_path.is_file():
        return records, table, histories
    saved = json.loads(saved_path.read_text())
    same = lambda r: all(r.get(k) == records[0].get(k) for k in ("data_sha256", "seed", "preset", "folds", "threads"))  # noqa: E731
    if not all(same(r) for r in saved):
        raise UserError(f"{saved_path} was evaluated with other data, seed, preset, folds or threads; --merge only "
                        "adds models to the same evaluation.")
    ran = {r["model"] for r in records}
    kept = [r for r in saved if r["model"] not in ran]
    order = {name: i for i, name in enumerate(MODEL_NAMES)}
    base = lambda name: name.removesuffix(ABLATION_SUFFIX)  # noqa: E731
    merged = sorted(kept + records, key=lambda r: (order.get(base(r["model"]), len(order)), r["model"]))
    old = pl.read_parquet(out_dir / f"{stem}_predictions.parquet").filter(~pl.col("model").is_in(list(ran)))
    history_path = out_dir / f"{stem}_history.json"
    old_histories = json.loads(history_path.read_text()) if history_path.is_file() else {}
    print(f"merged {', '.join(sorted(ran))} into the saved {stem} results", file=sys.stderr)
    return merged, pl.concat([old, table]), {**old_histories, **histories}


def write_results(out_dir: Path, stem: str, records: list[dict], table: pl.DataFrame, histories: dict,
                  n_folds: int, extras: dict[str, pl.DataFrame]) -> None:
    """The records (JSON and the README's markdown table), the predictions, the histories and any extra tables."""
    write_json_atomic(out_dir / f"{stem}.json", records)
    write_text_atomic(out_dir / f"{stem}.md", f"**{records[0]['dataset']}, {records[0]['split'].upper()}, {n_folds} "
                      f"folds, seed {records[0]['seed']}**\n\n" + markdown_table(records))
    write_parquet_atomic(out_dir / f"{stem}_predictions.parquet", table, **PARQUET)
    if histories:
        write_json_atomic(out_dir / f"{stem}_history.json", histories)
    for filename, frame in extras.items():
        write_parquet_atomic(out_dir / filename, frame, **PARQUET)
