"""The shipped structure model: settings chosen on folds by drug over every drug with a structure, then fitted on
all of the screen's lines and drugs (anchors: every screened drug; drug tower: the drugs with a structure)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from drugresponse.compound_structure import fingerprints as featurise

from .leave_drug_out import BASELINE_FINGERPRINT, FINGERPRINTS, choose_settings, drug_groups
from .two_tower import TwoTower


def fit_product(matrix, smiles: dict[str, str], seed: int = 0) -> tuple[TwoTower, list[str], dict]:
    """The model, the names of its structure drugs (the drug tower's rows, in order) and what was chosen."""
    y = matrix.ln_ic50.astype(np.float64)
    structured = np.array([j for j, d in enumerate(matrix.drugs) if smiles.get(d)])
    names = [matrix.drugs[j] for j in structured]
    fps = {}
    for key in set(FINGERPRINTS) | {BASELINE_FINGERPRINT}:
        fps[key] = np.zeros((y.shape[1], key[1]), dtype=np.float32)
        fps[key][structured] = featurise([smiles[d] for d in names], *key)
    settings, grid = choose_settings(y, structured, fps, seed, drug_groups(matrix.drugs, smiles))
    fp = fps[(settings.radius, settings.size)][structured]
    model = TwoTower.fit(y, y[:, structured], fp, settings)
    return model, names, {"settings": asdict(settings), "inner_grid_points": len(grid), "seed": seed}
