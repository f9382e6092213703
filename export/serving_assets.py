"""Everything besides the ONNX file that the app reads from ``assets/``.

- ``cell_lines.parquet``: annotation of every cell line with a full profile;
- ``profiles_<modality>.parquet``: their raw profiles, compact (float16 expression and driver events, int8
  mutation and copy number) so each file stays under 10 MB;
- ``measured.parquet``: the screen's measured ln IC50 for the model's drugs;
- ``gene_identifiers.parquet``: Ensembl IDs and HGNC symbols -> GDSC's gene names, for reading users' files
  (``train/data/gene_identifiers.py``);
- ``evaluation/``: cross-validation records per split, the LCO out-of-fold predictions of the model (measured
  pairs, and every drug for each held-out line: what the app shows for a GDSC line), the final model's loss
  curves, and split-conformal interval half-widths per drug with their measured coverage (``conformal.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from drugresponse.atomic_files import atomic_path, copy_file_atomic, write_json_atomic, write_parquet_atomic
from drugresponse.serve.conformal import conformal_intervals
from drugresponse.serve.uploads.schema import IDENTIFIERS_FILE
from drugresponse.train.data.bundle import MODALITIES, Bundle
from drugresponse.train.data.gene_identifiers import identifier_table, read_hgnc
from drugresponse.train.data.response_matrix import BOTH, SCREENS, screen_column

PROFILE_TYPES = {"expression": np.float16, "mutation": np.int8, "copy_number": np.int8, "drivers": np.float16}
MODEL = "mlp_ensemble"


def write_profiles(bundle: Bundle, assets: Path) -> None:
    names = bundle.cell_lines["cell_line"].to_list()
    for modality in MODALITIES:
        values = bundle.omics(modality).astype(PROFILE_TYPES[modality])
        column = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])
        table = pa.table({"cell_line": names, modality: column})
        with atomic_path(assets / f"profiles_{modality}.parquet") as tmp:
            pq.write_table(table, tmp, compression="zstd", compression_level=19, use_dictionary=["cell_line"],
                           use_byte_stream_split=[f"{modality}.list.element"] if modality == "expression" else False)


def with_curated_events(cell_lines: pl.DataFrame, overrides: dict) -> pl.DataFrame:
    """``cell_lines`` plus, per line, the events the curated overrides set (``curated_events``) and for each a note
    with GDSC's own value and the source (``curated_notes``), for the app to say where a value comes from."""
    events: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    for row in overrides.get("applied", []):
        events.setdefault(row["cell_line"], []).append(row["event"])
        notes.setdefault(row["cell_line"], []).append(override_note(row))
    names = cell_lines["cell_line"].to_list()
    return cell_lines.with_columns(
        pl.Series("curated_events", [events.get(c, []) for c in names], dtype=pl.List(pl.String)),
        pl.Series("curated_notes", [notes.get(c, []) for c in names], dtype=pl.List(pl.String)))


def override_note(row: dict) -> str:
    """``K-562 BCR-ABL: carried (GDSC's table: not carried; source: ...)``."""
    said = {1: "carried", 0: "not carried", None: "no value"}
    return (f"{row['cell_line']} {row['event'].removesuffix('_mut')}: {said[row['value']]} (GDSC's table: "
            f"{said[row['table_value']]}; source: {row['source']})")


def output_name(drug: str, screen: str, dataset: str) -> str:
    """A drug's output name in a model of ``dataset``: marked by screen only in a model of both screens."""
    return screen_column(drug, screen) if dataset == BOTH else drug


def screens_of(dataset: str) -> tuple[str, ...]:
    """The screens a model of ``dataset`` answers for, the one whose answer leads first."""
    return SCREENS if dataset == BOTH else (dataset,)


def write_evaluation(results: Path, dataset: str, checkpoint: Path, assets: Path, tissues: dict[str, str]) -> dict:
    """Copy the evaluation records (each screen's own, where the model learnt both: ``screens.py``), the model's LCO
    out-of-fold predictions and the conformal widths. Returns ``{"screens": {screen: {split: {model: figures}}}}``
    and the conformal coverage."""
    out = assets / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    summary = {"screens": {}}
    for screen in screens_of(dataset):
        for split in ("lco", "lpo", "lto"):
            source = results / f"{screen}_{split}.json"
            if source.is_file():
                records = json.loads(source.read_text())
                copy_file_atomic(source, out / source.name)
                summary["screens"].setdefault(screen, {})[split] = {r["model"]: {k: r.get(k) for k in (
                    "rmse", "mae", "r2", "pearson", "spearman", "per_drug_pearson", "per_drug_spearman", "n_pairs",
                    "folds", "baseline", "ablation")} for r in records}
    predictions_path = results / f"{dataset}_lco_predictions.parquet"
    if predictions_path.is_file():
        oof = pl.read_parquet(predictions_path).filter(pl.col("model") == MODEL).drop("model")
        write_parquet_atomic(out / "lco_predictions.parquet", oof, compression="zstd")
        conformal = conformal_intervals(oof, tissues)
        write_json_atomic(out / "conformal.json", conformal, indent=1)
        summary["conformal_coverage"] = conformal["empirical_coverage"]
    for source, target in ((f"{dataset}_lco_{MODEL}_heldout_all_drugs.parquet", "lco_heldout_all_drugs.parquet"),
                           (f"{dataset}_lco_{MODEL}_contributions.parquet", "lco_contributions.parquet"),
                           ("biomarkers.json", "biomarkers.json"),
                           ("exceptional_responders.json", "exceptional_responders.json")):
        if (results / source).is_file():
            copy_file_atomic(results / source, out / target)
    for name in ("cross_study", "exceptional_responders"):
        if (results / f"{name}.md").is_file():
            summary[name] = (results / f"{name}.md").read_text().strip()
    history = results / f"{dataset}_lco_history.json"
    if history.is_file():
        copy_file_atomic(history, out / "lco_history.json")
    if (checkpoint / "loss_curve.json").is_file():
        copy_file_atomic(checkpoint / "loss_curve.json", out / "loss_curve.json")
    return summary


def drug_table(bundle: Bundle, dataset: str, drugs: list[str]) -> pl.DataFrame:
    """One row per model output: ``drug`` (the output's name), ``name`` (the drug's GDSC name), ``screen`` and
    ``target``, in the model's output order. Where both screens measured a drug, ``leads`` marks the answer the app
    shows first (GDSC2's: the newer assay, whose repeats agree better)."""
    names = {output_name(d, s, dataset): (d, s) for s in screens_of(dataset) for d in bundle.drugs["drug"]}
    targets = dict(zip(bundle.drugs["drug"], bundle.drugs["target"]))
    rank = {s: i for i, s in enumerate(screens_of(dataset))}
    leads = {}
    for name, screen in (names[d] for d in drugs):
        leads[name] = min(leads.get(name, screen), screen, key=rank.get)
    rows = [(drug, name, screen, targets.get(name), leads[name] == screen) for drug in drugs
            for name, screen in [names[drug]]]
    return pl.DataFrame(rows, schema={"drug": pl.String, "name": pl.String, "screen": pl.String, "target": pl.String,
                                      "leads": pl.Boolean}, orient="row")


def write_serving_assets(bundle: Bundle, dataset: str, drugs: list[str], results: Path, checkpoint: Path,
                         assets: Path, hgnc_wheel: Path) -> dict:
    assets.mkdir(parents=True, exist_ok=True)
    write_profiles(bundle, assets)
    identifiers = identifier_table(bundle.genes, bundle.driver_names, read_hgnc(hgnc_wheel))
    write_parquet_atomic(assets / IDENTIFIERS_FILE, identifiers, compression="zstd", compression_level=19)
    table = with_curated_events(bundle.cell_lines.drop("key"), bundle.manifest.get("driver_overrides", {}))
    write_parquet_atomic(assets / "cell_lines.parquet", table, compression="zstd")
    write_parquet_atomic(assets / "drugs.parquet", drug_table(bundle, dataset, drugs), compression="zstd")
    measured = pl.concat([
        bundle.dataset_responses(screen).with_columns(pl.col("drug").map_elements(
            lambda d, s=screen: output_name(d, s, dataset), return_dtype=pl.String))
        for screen in screens_of(dataset)]).filter(pl.col("drug").is_in(drugs)).select(
        "cell_line", "drug", "ln_ic50", "auc", "n_measurements")
    write_parquet_atomic(assets / "measured.parquet", measured, compression="zstd")
    tissues = dict(zip(table["cell_line"], table["tissue"]))
    summary = write_evaluation(results, dataset, checkpoint, assets, tissues)
    return {**summary, "driver_overrides": bundle.manifest.get("driver_overrides", {}).get("applied", [])}
