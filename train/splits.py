"""Seeded cross-validation folds over (cell line, drug) pairs.

- ``lpo``: pairs held out at random;
- ``lco``: whole cell lines held out (the setting that matters for a new tumour);
- ``lto``: whole tissues held out.

A fold assignment is an int8 array shaped like the response matrix: the fold of each measured pair,
-1 where nothing was measured. It is saved so every model and baseline sees the same folds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError
from drugresponse.train_names import SPLITS  # one list for the CLI (which must not import torch) and here

from .matrix import ResponseMatrix


def _balanced_groups(groups: np.ndarray, sizes: dict, n_folds: int, rng: np.random.Generator) -> dict:
    """Assign groups to folds, largest first, each to the currently smallest fold (ties random)."""
    order = sorted(sizes, key=lambda g: (-sizes[g], rng.random()))
    load = np.zeros(n_folds)
    assignment = {}
    for group in order:
        fold = int(np.argmin(load + rng.random(n_folds) * 1e-6))
        assignment[group] = fold
        load[fold] += sizes[group]
    return assignment


def make_folds(matrix: ResponseMatrix, split: str, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index per measured pair (-1 where not measured)."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}.")
    rng = np.random.default_rng(seed)
    measured = matrix.measured
    folds = np.full(measured.shape, -1, dtype=np.int8)
    if split == "lpo":
        rows, cols = np.nonzero(measured)
        folds[rows, cols] = rng.permutation(np.arange(len(rows)) % n_folds)
    elif split == "lco":
        per_cell = rng.permutation(np.arange(measured.shape[0]) % n_folds)
        folds[:] = per_cell[:, None]
        folds[~measured] = -1
    else:
        tissues = matrix.tissues
        if len(set(tissues)) < n_folds:
            raise UserError(f"only {len(set(tissues))} tissues: too few for {n_folds} tissue folds.")
        sizes = {t: int(measured[tissues == t].sum()) for t in sorted(set(tissues))}
        assignment = _balanced_groups(tissues, sizes, n_folds, rng)
        folds[:] = np.array([assignment[t] for t in tissues])[:, None]
        folds[~measured] = -1
    return folds


def inner_split(train_mask: np.ndarray, split: str, fraction: float, seed: int,
                tissues: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split a training mask into (inner train, inner validation) the same way the outer split holds out."""
    rng = np.random.default_rng(seed)
    val = np.zeros_like(train_mask)
    if split == "lpo":
        rows, cols = np.nonzero(train_mask)
        pick = rng.random(len(rows)) < fraction
        val[rows[pick], cols[pick]] = True
    else:  # lco and lto: hold out whole cell lines (tissue-level inner splits would be too few)
        cells = np.nonzero(train_mask.any(axis=1))[0]
        held = rng.choice(cells, size=max(1, int(round(fraction * len(cells)))), replace=False)
        val[held] = train_mask[held]
    return train_mask & ~val, val


def save_folds(matrix: ResponseMatrix, folds: np.ndarray, path: Path) -> None:
    rows, cols = np.nonzero(folds >= 0)
    table = pl.DataFrame({
        "cell_line": [matrix.cell_lines[i] for i in rows],
        "drug": [matrix.drugs[j] for j in cols],
        "fold": folds[rows, cols].astype(np.int8),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    table.write_parquet(tmp)
    tmp.replace(path)


def load_folds(matrix: ResponseMatrix, path: Path) -> np.ndarray:
    """Read saved folds back onto this matrix; refuse if they do not cover the same pairs."""
    table = pl.read_parquet(path)
    cell_index = {c: i for i, c in enumerate(matrix.cell_lines)}
    drug_index = {d: j for j, d in enumerate(matrix.drugs)}
    folds = np.full(matrix.ln_ic50.shape, -1, dtype=np.int8)
    try:
        rows = np.array([cell_index[c] for c in table["cell_line"]])
        cols = np.array([drug_index[d] for d in table["drug"]])
    except KeyError as exc:
        raise UserError(f"saved folds {path} name {exc}, which is not in this dataset; delete the file to re-make "
                        "them.") from exc
    folds[rows, cols] = table["fold"].to_numpy()
    if not np.array_equal(folds >= 0, matrix.measured):
        raise UserError(f"saved folds {path} do not cover this dataset's pairs; delete the file to re-make them.")
    return folds
