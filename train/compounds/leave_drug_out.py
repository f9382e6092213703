"""Leave-drug-out evaluation: folds by drug over the drugs with a structure, the same folds for every model.

Two settings, each pair predicted once:

- ``single`` (new drug, known line): a held-out drug's responses on every line, the lines' measured responses to
  the training drugs as their anchors;
- ``double`` (new drug *and* new line, what a user with their own sample and compound gets): the drug folds crossed
  with line folds (the LCO folds of the same seed); a held-out line's anchors are predicted from its expression by
  a ridge fitted on the training lines only, and every model, baseline and setting is fitted on training lines only.

Drugs that are one drug (``drug_groups``: the same structure, or the same name at another concentration) are held
out together, and a held-out drug's twins are not anchors. The structure model's settings are chosen per fold on
inner folds over its training drugs (RMSE), never on the held-out drugs or lines. ``two_tower_shuffled`` is the same
model with the fingerprints permuted among the drugs, its settings chosen on its own inner folds: what is left when
the structure carries no information, so the difference is what the structure itself contributes.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict

import numpy as np
import polars as pl

from drugresponse.train.data.splits import make_folds

from .baselines import cell_line_mean, knn
from .two_tower import DrugTower, LineTower, Settings, TwoTower, drug_targets, tanimoto

FINGERPRINTS = ((1, 2048), (2, 1024), (2, 2048), (3, 2048))
RANKS = (8, 16, 32, 64)
LAMBDA_POTENCY = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
LAMBDA_SHAPE = (0.1, 0.3, 1.0)
INNER_FOLDS = 4
BASELINE_FINGERPRINT = (2, 2048)  # the yardstick kNN's: Morgan radius 2, 2,048 bits
MODELS = ("two_tower", "two_tower_shuffled", "cell_line_mean", "knn", "combined")


def drug_folds(n_drugs: int, n_folds: int, seed: int, groups: np.ndarray | None = None) -> np.ndarray:
    """A balanced, seeded fold per drug; drugs of one group (``groups[i]``, see ``drug_groups``) share a fold."""
    groups = np.arange(n_drugs) if groups is None else np.asarray(groups)
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = np.empty(len(unique), dtype=np.int64)
    fold_of[order] = np.arange(len(unique)) % n_folds
    return fold_of[np.searchsorted(unique, groups)]


def drug_groups(drugs: list[str], smiles: dict[str, str]) -> np.ndarray:
    """A group id per drug: drugs with the same standardised structure (Afuresertib and GSK2110183B), or the same
    name but for a parenthesised note (Bleomycin and "Bleomycin (50 uM)", which has no structure), are one drug to
    hold out together: otherwise a held-out drug's twin would stay in training or among the anchors."""
    import re

    from drugresponse.compound_structure import standardise

    parent = list(range(len(drugs)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    for i, drug in enumerate(drugs):
        keys = [re.sub(r"\s*\(.*\)\s*$", "", drug).strip().lower()]
        if smiles.get(drug):
            keys.append("smiles:" + standardise(smiles[drug]).smiles)
        for key in keys:
            if key in seen:
                parent[root(i)] = root(seen[key])
            else:
                seen[key] = i
    return np.array([root(i) for i in range(len(drugs))])


def choose_settings(y: np.ndarray, structured: np.ndarray, fingerprints: dict, seed: int,
                    groups: np.ndarray | None = None) -> tuple[Settings, list]:
    """The grid point with the lowest pooled RMSE over inner folds by drug among the training drugs.

    ``y`` [lines, drugs] holds only training drugs (and training lines); ``structured`` indexes its columns with a
    structure (the inner folds' test drugs are among them; the rest stay anchors throughout); ``groups`` its drugs'
    groups (``drug_groups``), held out together. The line tower and the drug targets depend
    only on the inner fold and the rank, so they are fitted once for every fingerprint and λ.
    """
    groups = np.arange(y.shape[1]) if groups is None else groups
    inner = drug_folds(len(structured), INNER_FOLDS, seed, groups[structured])
    grid = list(itertools.product(FINGERPRINTS, RANKS, LAMBDA_POTENCY, LAMBDA_SHAPE))
    sse = np.zeros(len(grid))
    for k in range(INNER_FOLDS):
        test, train = structured[inner == k], structured[inner != k]
        anchors = np.flatnonzero(~np.isin(groups, groups[test]))  # a test drug's twins are not anchors either
        measured = ~np.isnan(y[:, test])
        for rank in RANKS:
            lines = LineTower.fit(y[:, anchors], rank)
            embedding = lines.embed(y[:, anchors])
            targets = drug_targets(y[:, train], embedding)
            for g, ((radius, size), r, lp, ls) in enumerate(grid):
                if r != rank:
                    continue
                fp = fingerprints[(radius, size)]
                settings = Settings(radius, size, rank, lp, ls)
                model = TwoTower(settings, lines, DrugTower.fit(fp[train], targets, settings))
                predicted = model.predict(fp[test], y[:, anchors])
                sse[g] += float(np.sum((predicted[measured] - y[:, test][measured]) ** 2))
    (radius, size), rank, lp, ls = grid[int(np.argmin(sse))]
    table = [{"radius": g[0][0], "size": g[0][1], "rank": g[1], "lambda_potency": g[2], "lambda_shape": g[3],
              "inner_sse": float(s)} for g, s in zip(grid, sse)]
    return Settings(radius, size, rank, lp, ls), table


def _predict_all(y_train_lines: np.ndarray, anchors_for_test_lines: np.ndarray, structured_train: np.ndarray,
                 anchors: np.ndarray, test: np.ndarray, fingerprints: dict, settings: Settings,
                 shuffled: dict, settings_shuffled: Settings) -> dict[str, np.ndarray]:
    """Every model's [test lines, test drugs] from the training lines' measurements ``y_train_lines``; the shuffled
    ablation with the settings its own inner folds chose."""
    fp, base = fingerprints[(settings.radius, settings.size)], fingerprints[BASELINE_FINGERPRINT]
    anchor_y = y_train_lines[:, anchors]
    model = TwoTower.fit(anchor_y, y_train_lines[:, structured_train], fp[structured_train], settings)
    sfp = shuffled[(settings_shuffled.radius, settings_shuffled.size)]
    ablation = TwoTower.fit(anchor_y, y_train_lines[:, structured_train], sfp[structured_train], settings_shuffled)
    out = {"two_tower": model.predict(fp[test], anchors_for_test_lines),
           "scale": np.broadcast_to(np.exp(model.drugs.embed(fp[test])[:, 1]), (len(anchors_for_test_lines), len(test))),
           "nearest": np.broadcast_to(tanimoto(fp[test], fp[structured_train]).max(axis=1),
                                      (len(anchors_for_test_lines), len(test))),
           "two_tower_shuffled": ablation.predict(sfp[test], anchors_for_test_lines),
           "cell_line_mean": cell_line_mean(anchors_for_test_lines, model.lines, len(test))}
    # the neighbours are training drugs, hence anchors: a test line's (measured or predicted) anchor responses
    position = {d: i for i, d in enumerate(anchors)}
    neighbours = anchors_for_test_lines[:, [position[d] for d in structured_train]]
    out["knn"] = knn(neighbours, base[structured_train], base[test])
    out["combined"] = (out["cell_line_mean"] + out["knn"]) / 2
    return out


def predicted_anchors(expression: np.ndarray, train_lines: np.ndarray, test_lines: np.ndarray,
                      anchor_y: np.ndarray) -> np.ndarray:
    """Held-out lines' anchor ln IC50 predicted from expression by ridge (α by generalised cross-validation over the
    training lines; unmeasured training pairs filled from the line's general sensitivity)."""
    from sklearn.linear_model import RidgeCV

    x = expression[train_lines]
    centre, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)

    def standardise(rows):
        return np.nan_to_num((expression[rows] - centre) / scale, nan=0.0)

    tower = LineTower.fit(anchor_y, rank=0)
    general, _ = tower.general_and_deviations(anchor_y)
    z = (anchor_y - tower.anchor_mean) / tower.anchor_sd
    z = np.where(np.isnan(z), general[:, None], z)
    ridge = RidgeCV(alphas=np.logspace(2, 5, 7)).fit(standardise(train_lines), z)
    return tower.anchor_mean + tower.anchor_sd * ridge.predict(standardise(test_lines))


def evaluate_ldo(matrix, smiles: dict[str, str], n_folds: int = 5, seed: int = 0, progress=None) -> dict:
    """Out-of-fold predictions of every model in both settings, and each drug fold's chosen settings."""
    from drugresponse.compound_structure import fingerprints as featurise

    y = matrix.ln_ic50.astype(np.float64)
    structured = np.array([j for j, d in enumerate(matrix.drugs) if smiles.get(d)])
    names = [smiles[matrix.drugs[j]] for j in structured]
    fps_small = {key: featurise(names, *key) for key in set(FINGERPRINTS) | {BASELINE_FINGERPRINT}}
    permutation = np.random.default_rng(seed + 1).permutation(len(structured))
    # indexed by drug column of the matrix (rows of drugs without a structure stay zero and are never read)
    fingerprints, shuffled = {}, {}
    for key, fp in fps_small.items():
        fingerprints[key] = np.zeros((y.shape[1], fp.shape[1]), dtype=np.float32)
        fingerprints[key][structured] = fp
        shuffled[key] = np.zeros_like(fingerprints[key])
        shuffled[key][structured] = fp[permutation]
    groups = drug_groups(matrix.drugs, smiles)
    folds = drug_folds(len(structured), n_folds, seed, groups[structured])
    line_fold = _line_folds(matrix, n_folds, seed)
    rows, chosen = [], []

    def settings_for(lines: np.ndarray, anchors: np.ndarray, train: np.ndarray) -> tuple[Settings, Settings]:
        """The structure model's and the shuffled ablation's settings, each on its own inner folds, from the
        training lines and training drugs only."""
        train_pos, sub = np.searchsorted(anchors, train), y[np.ix_(lines, anchors)]
        return tuple(choose_settings(sub, train_pos, {k: v[anchors] for k, v in fps.items()}, seed,
                                     groups[anchors])[0] for fps in (fingerprints, shuffled))

    every_line = np.arange(y.shape[0])
    for f in range(n_folds):
        test, train = structured[folds == f], structured[folds != f]
        anchors = np.flatnonzero(~np.isin(groups, groups[test]))
        settings, settings_shuffled = settings_for(every_line, anchors, train)
        chosen.append({"fold": f, **asdict(settings), "test_drugs": len(test),
                       "shuffled": asdict(settings_shuffled)})
        predictions = _predict_all(y, y[:, anchors], train, anchors, test, fingerprints, settings, shuffled,
                                   settings_shuffled)
        rows.append(_rows(predictions, "single", matrix, every_line, test, f))
        for g in range(n_folds):
            train_lines, test_lines = np.flatnonzero(line_fold != g), np.flatnonzero(line_fold == g)
            cold, cold_shuffled = settings_for(train_lines, anchors, train)
            chosen[-1].setdefault("double", []).append({"line_fold": g, **asdict(cold)})
            new_anchors = predicted_anchors(matrix.profiles["expression"], train_lines, test_lines,
                                            y[np.ix_(train_lines, anchors)])
            predictions = _predict_all(y[train_lines], new_anchors, train, anchors, test, fingerprints, cold,
                                       shuffled, cold_shuffled)
            rows.append(_rows(predictions, "double", matrix, test_lines, test, f))
        if progress:
            progress(f + 1, n_folds, settings)
    table = pl.concat(rows).join(_measured(matrix, structured), on=["cell_line", "drug"], how="inner")
    return {"predictions": table.sort("setting", "model", "drug", "cell_line"), "settings": chosen,
            "drug_folds": pl.DataFrame({"drug": [matrix.drugs[j] for j in structured], "fold": folds})}


def _line_folds(matrix, n_folds: int, seed: int) -> np.ndarray:
    """Each line's LCO fold of this seed (the lines never held out, if any, train only: -1)."""
    pairs = make_folds(matrix, "lco", n_folds, seed)
    held = np.where(pairs >= 0, pairs, 127).min(axis=1)
    return np.where(held == 127, -1, held)


def _rows(predictions: dict, setting: str, matrix, lines: np.ndarray, drugs: np.ndarray, fold: int) -> pl.DataFrame:
    cell_lines = np.repeat(np.array(matrix.cell_lines, dtype=object)[lines], len(drugs))
    drug_names = np.tile(np.array(matrix.drugs, dtype=object)[drugs], len(lines))
    # ``scale``: the structure model's σ̂ of the drug, which its intervals are in units of
    # ``nearest``: its Tanimoto similarity to the most similar training drug (the model's applicability domain)
    scale = np.asarray(predictions["scale"], dtype=np.float32).ravel()
    nearest = np.asarray(predictions["nearest"], dtype=np.float32).ravel()
    return pl.concat([pl.DataFrame({"setting": setting, "model": name, "cell_line": cell_lines.tolist(),
                                    "drug": drug_names.tolist(), "fold": np.int8(fold),
                                    "predicted": np.asarray(values, dtype=np.float32).ravel(), "scale": scale,
                                    "nearest": nearest})
                      for name, values in predictions.items() if name not in ("scale", "nearest")])


def _measured(matrix, drugs: np.ndarray) -> pl.DataFrame:
    rows, cols = np.nonzero(~np.isnan(matrix.ln_ic50[:, drugs]))
    return pl.DataFrame({"cell_line": [matrix.cell_lines[i] for i in rows],
                         "drug": [matrix.drugs[drugs[j]] for j in cols],
                         "measured": matrix.ln_ic50[rows, drugs[cols]].astype(np.float32)})
