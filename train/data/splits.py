"""Seeded cross-validation folds over (cell line, drug) pairs.

- ``lpo``: pairs held out at random;
- ``lco``: whole cell lines held out (the setting that matters for a new tumour);
- ``lto``: whole tissue groups held out. GDSC's tissue labels split related cancers (lung NSCLC, SCLC and
  mesothelioma; leukaemia, lymphoma and myeloma; neuroblastoma and the nervous system), so folds hold out
  the organ or lineage systems of ``TISSUE_GROUPS``; lines without a tissue label are never tested.

A fold assignment is an int8 array shaped like the response matrix: the fold of each measured pair,
``NOT_MEASURED`` (-1) where nothing was measured, ``TRAIN_ONLY`` (-2) for a measured pair that is in
every training fold and no test fold. It is saved so every model and baseline sees the same folds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from drugresponse.atomic_files import write_parquet_atomic
from drugresponse.errors import UserError

if TYPE_CHECKING:
    from .response_matrix import ResponseMatrix

SPLITS = ("lpo", "lco", "lto")  # the CLI offers these; this module imports nothing heavy for it
NOT_MEASURED, TRAIN_ONLY = -1, -2
UNLABELLED = "unknown"  # the bundle's tissue for a line the annotation does not cover
# Organ or lineage systems (GDSC tissue descriptor 1 -> group). Related cancers share a group so that a held-out
# group is unseen biology, not a sibling of a training tissue. Tissues not listed are their own group.
TISSUE_GROUPS = {
    "lung_NSCLC": "lung and pleura", "lung_SCLC": "lung and pleura", "lung": "lung and pleura",  # "lung": mesothelioma
    "leukemia": "blood", "lymphoma": "blood", "myeloma": "blood",
    "nervous_system": "nervous system", "neuroblastoma": "nervous system",
    "bone": "bone and soft tissue", "soft_tissue": "bone and soft tissue",  # sarcomas: one WHO volume
    "digestive_system": "digestive tract", "large_intestine": "digestive tract", "pancreas": "digestive tract",
    "aero_dig_tract": "head, neck and oesophagus",
    "urogenital_system": "urogenital", "kidney": "kidney", "breast": "breast", "skin": "skin", "thyroid": "thyroid",
}


def tissue_groups(tissues: np.ndarray) -> np.ndarray:
    """The organ or lineage system of each tissue label (``UNLABELLED`` stays as is)."""
    return np.array([TISSUE_GROUPS.get(t, t) for t in tissues], dtype=object).astype(str)


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


def make_folds(matrix: ResponseMatrix, split: str, n_folds: int = 5, seed: int = 0,
               anchor: dict[str, int] | None = None) -> np.ndarray:
    """Fold index per measured pair (-1 where not measured).

    ``anchor``: another screen's folds to follow. On lco and lto, each line's fold (``{line: fold}``): anchored lines
    keep that fold, so a line is held out by every screen's models at once and the screens' figures are paired; the
    other lines are spread over the folds at random (lco) or follow their tissue group's anchored fold (lto). On lpo,
    each pair's fold (``{(line, drug): fold}``): a pair the other screen measured too is held out with its twin, so
    the other assay's reading of a test pair is never learnt; the other pairs are spread at random.
    """
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}.")
    rng = np.random.default_rng(seed)
    measured = matrix.measured
    folds = np.full(measured.shape, NOT_MEASURED, dtype=np.int8)
    if split != "lpo" and anchor:
        folds[:] = _anchored_line_folds(matrix, split, n_folds, anchor, rng)[:, None]
        folds[~measured] = NOT_MEASURED
    elif split == "lpo" and anchor:
        rows, cols = np.nonzero(measured)
        twin = np.array([anchor.get((matrix.cell_lines[i], matrix.drugs[j]), NOT_MEASURED) for i, j in zip(rows, cols)])
        free = twin == NOT_MEASURED
        twin[free] = rng.permutation(np.arange(int(free.sum())) % n_folds)
        folds[rows, cols] = twin
    elif split == "lpo":
        rows, cols = np.nonzero(measured)
        folds[rows, cols] = rng.permutation(np.arange(len(rows)) % n_folds)
    elif split == "lco":
        per_cell = rng.permutation(np.arange(measured.shape[0]) % n_folds)
        folds[:] = per_cell[:, None]
        folds[~measured] = NOT_MEASURED
    else:
        groups = tissue_groups(matrix.tissues)
        labelled = sorted(set(groups) - {UNLABELLED})
        if len(labelled) < n_folds:
            raise UserError(f"only {len(labelled)} tissue groups: too few for {n_folds} tissue folds.")
        sizes = {g: int(measured[groups == g].sum()) for g in labelled}
        assignment = {**_balanced_groups(groups, sizes, n_folds, rng), UNLABELLED: TRAIN_ONLY}
        folds[:] = np.array([assignment[g] for g in groups])[:, None]
        folds[~measured] = NOT_MEASURED
    return folds


def _anchored_line_folds(matrix: ResponseMatrix, split: str, n_folds: int, anchor: dict[str, int],
                         rng: np.random.Generator) -> np.ndarray:
    line_folds = np.array([anchor.get(c, NOT_MEASURED) for c in matrix.cell_lines])
    free = line_folds == NOT_MEASURED
    if split == "lco":
        line_folds[free] = rng.permutation(np.arange(int(free.sum())) % n_folds)
        return line_folds
    groups = tissue_groups(matrix.tissues)
    group_fold = {g: f for g, f in zip(groups[~free], line_folds[~free])}
    return np.array([group_fold.get(g, TRAIN_ONLY) if f == NOT_MEASURED else f for g, f in zip(groups, line_folds)])


def pair_folds(matrix: ResponseMatrix, folds: np.ndarray) -> dict[tuple[str, str], int]:
    """Each measured pair's fold, the lpo ``anchor`` another screen's folds can follow."""
    rows, cols = np.nonzero(folds != NOT_MEASURED)
    return {(matrix.cell_lines[i], matrix.drugs[j]): int(folds[i, j]) for i, j in zip(rows, cols)}


def follows(matrix: ResponseMatrix, folds: np.ndarray, split: str, anchor: dict) -> bool:
    """Whether ``folds`` keep every anchored line's (lco, lto) or pair's (lpo) fold."""
    own = pair_folds(matrix, folds) if split == "lpo" else line_folds(matrix, folds)
    return all(anchor[key] == fold for key, fold in own.items() if key in anchor)


def line_folds(matrix: ResponseMatrix, folds: np.ndarray) -> dict[str, int]:
    """Each cell line's fold (lco, lto: a line is in one fold), the ``anchor`` another screen's folds can follow."""
    per_line = np.where(folds == NOT_MEASURED, np.iinfo(np.int8).min, folds).max(axis=1)
    return {c: int(f) for c, f in zip(matrix.cell_lines, per_line) if f != np.iinfo(np.int8).min}


def train_mask(folds: np.ndarray, fold: int) -> np.ndarray:
    """The pairs a model may learn from when ``fold`` is the test fold."""
    return (folds != NOT_MEASURED) & (folds != fold)


def inner_split(train_mask: np.ndarray, split: str, fraction: float, seed: int,
                tissues: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split a training mask into (inner train, inner validation) the same way the outer split holds out.

    ``lpo`` holds out pairs, ``lco`` cell lines, ``lto`` whole tissue groups (``tissues`` is required for it):
    groups are drawn in random order until about ``fraction`` of the training cell lines are held out.
    """
    rng = np.random.default_rng(seed)
    val = np.zeros_like(train_mask)
    cells = np.nonzero(train_mask.any(axis=1))[0]
    if split == "lpo":
        rows, cols = np.nonzero(train_mask)
        pick = rng.random(len(rows)) < fraction
        val[rows[pick], cols[pick]] = True
    elif split == "lco":
        held = rng.choice(cells, size=max(1, int(round(fraction * len(cells)))), replace=False)
        val[held] = train_mask[held]
    elif split == "lto":
        if tissues is None:
            raise ValueError("an lto inner split needs the cell lines' tissues")
        groups = tissue_groups(tissues)
        candidates = [g for g in sorted(set(groups[cells])) if g != UNLABELLED]
        held_groups, held = [], 0
        for g in rng.permutation(candidates):
            if held >= fraction * len(cells) or len(held_groups) == len(candidates) - 1:
                break
            held_groups.append(g)
            held += int(np.sum(groups[cells] == g))
        rows = cells[np.isin(groups[cells], held_groups)]
        val[rows] = train_mask[rows]
    else:
        raise ValueError(f"unknown split {split!r}")
    return train_mask & ~val, val


def inner_partition(train_mask: np.ndarray, split: str, parts: int, seed: int,
                    tissues: np.ndarray | None = None) -> list[np.ndarray]:
    """Split a training mask into ``parts`` disjoint validation masks that cover it, held out the way the outer split
    holds out (pairs for ``lpo``, cell lines for ``lco``, tissue groups for ``lto``): every training pair is then
    out-of-sample for exactly one part's model."""
    rng = np.random.default_rng(seed)
    parts_of = np.full(train_mask.shape, -1)
    if split == "lpo":
        rows, cols = np.nonzero(train_mask)
        parts_of[rows, cols] = rng.permutation(np.arange(len(rows)) % parts)
    else:
        cells = np.nonzero(train_mask.any(axis=1))[0]
        if split == "lco":
            parts_of[cells] = rng.permutation(np.arange(len(cells)) % parts)[:, None]
        elif split == "lto":
            if tissues is None:
                raise ValueError("an lto inner partition needs the cell lines' tissues")
            groups = tissue_groups(tissues)[cells]
            labelled = [g for g in sorted(set(groups)) if g != UNLABELLED]
            sizes = {g: int(np.sum(groups == g)) for g in labelled}
            assignment = _balanced_groups(np.array(labelled), sizes, parts, rng)
            # unlabelled lines are never a validation tissue: they get a part but only as lines (see inner_split)
            unlabelled = groups == UNLABELLED
            labels = np.array([assignment.get(g, -1) for g in groups])
            labels[unlabelled] = rng.permutation(np.arange(int(unlabelled.sum())) % parts)
            parts_of[cells] = labels[:, None]
        else:
            raise ValueError(f"unknown split {split!r}")
        parts_of[~train_mask] = -1
    return [train_mask & (parts_of == k) for k in range(parts)]


def save_folds(matrix: ResponseMatrix, folds: np.ndarray, path: Path) -> None:
    rows, cols = np.nonzero(folds != NOT_MEASURED)
    table = pl.DataFrame({
        "cell_line": [matrix.cell_lines[i] for i in rows],
        "drug": [matrix.drugs[j] for j in cols],
        "fold": folds[rows, cols].astype(np.int8),
    })
    write_parquet_atomic(path, table)


def load_folds(matrix: ResponseMatrix, path: Path) -> np.ndarray:
    """Read saved folds back onto this matrix; refuse if they do not cover the same pairs."""
    table = pl.read_parquet(path)
    cell_index = {c: i for i, c in enumerate(matrix.cell_lines)}
    drug_index = {d: j for j, d in enumerate(matrix.drugs)}
    folds = np.full(matrix.ln_ic50.shape, NOT_MEASURED, dtype=np.int8)
    try:
        rows = np.array([cell_index[c] for c in table["cell_line"]])
        cols = np.array([drug_index[d] for d in table["drug"]])
    except KeyError as exc:
        raise UserError(f"saved folds {path} name {exc}, which is not in this dataset; delete the file to re-make "
                        "them.") from exc
    folds[rows, cols] = table["fold"].to_numpy()
    if not np.array_equal(folds != NOT_MEASURED, matrix.measured):
        raise UserError(f"saved folds {path} do not cover this dataset's pairs; delete the file to re-make them.")
    return folds
