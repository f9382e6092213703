"""Reproduce the seed study's pipeline and show, rung by rung, where its R² = 0.9999 came from.

The study's network (ReLU MLP, MSE, Adam, 20 epochs, standardised inputs, label-encoded categories)
is trained on the study's columns:
  (a) every column, random 80/20 pair split — the study's setting;
  (b) without Z_SCORE; (c) without Z_SCORE and AUC;
  (d) as (c), holding out whole cell lines (fold 0 of our saved LCO folds);
  (e) our genomic model and the per-drug ridge baseline on the same held-out cell lines (fold 0 of
      the committed LCO evaluation).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch
from torch import nn

from drugresponse.atomic_files import write_json_atomic, write_text_atomic

from ..evaluation import metrics
from .study_table import CATEGORICAL, LEAKY, NUMERIC, TARGET


@dataclass(frozen=True)
class SeedStudyConfig:
    hidden: tuple[int, ...] = (128, 64, 32)
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    test_fraction: float = 0.2
    seed: int = 0


ONE_HOT_LIMIT = 400  # categories with more levels (cell-line names) are label-encoded instead


def encode(table: pl.DataFrame, columns: list[str], train: np.ndarray) -> np.ndarray:
    """One-hot encode categories (label-encode very wide ones), then standardise every column with
    training statistics, as the study's preprocessing did."""
    parts = []
    for column in columns:
        if column in CATEGORICAL:
            values = table[column].cast(pl.String).fill_null("NA")
            levels = sorted(values.unique().to_list())
            codes = np.array([{v: i for i, v in enumerate(levels)}[v] for v in values])
            if len(levels) <= ONE_HOT_LIMIT:
                parts.extend(np.eye(len(levels), dtype=np.float64)[codes].T)
            else:
                parts.append(codes.astype(np.float64))
        else:
            values = table[column].cast(pl.Float64).to_numpy()
            parts.append(np.nan_to_num(values, nan=float(np.nanmean(values[train]))))
    x = np.stack(parts, axis=1)
    mean, sd = x[train].mean(axis=0), x[train].std(axis=0)
    sd[sd == 0] = 1.0  # a category never seen in training stays 1 - mean, not 1 / 0
    return ((x - mean) / sd).astype(np.float32)


def train_ann(x: np.ndarray, y: np.ndarray, train: np.ndarray, config: SeedStudyConfig):
    """The study's ANN. Returns (test predictions, train loss per epoch, test loss per epoch)."""
    torch.manual_seed(config.seed)
    layers, width = [], x.shape[1]
    for size in config.hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    net = nn.Sequential(*layers, nn.Linear(width, 1))
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train].astype(np.float32))
    xs, ys = torch.from_numpy(x[~train]), torch.from_numpy(y[~train].astype(np.float32))
    generator = torch.Generator().manual_seed(config.seed)
    train_curve, test_curve = [], []
    for _ in range(config.epochs):
        net.train()
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            loss = nn.functional.mse_loss(net(xt[batch]).squeeze(1), yt[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.no_grad():
            train_curve.append(float(nn.functional.mse_loss(net(xt).squeeze(1), yt)))
            test_curve.append(float(nn.functional.mse_loss(net(xs).squeeze(1), ys)))
    with torch.no_grad():
        return net(xs).squeeze(1).numpy(), train_curve, test_curve


def _scores(drugs: np.ndarray, measured: np.ndarray, predicted: np.ndarray) -> dict:
    codes = np.unique(drugs, return_inverse=True)[1]
    s = metrics.summary(codes, measured, predicted)
    return {k: s[k] for k in ("n_pairs", "mse", "mae", "r2", "pearson", "per_drug_pearson")}


def run(table: pl.DataFrame, held_out_cells: set[str], our_predictions: pl.DataFrame | None,
        config: SeedStudyConfig = SeedStudyConfig(),
        held_out_label: str = "held-out cell lines (LCO fold 0)") -> tuple[list[dict], dict]:
    """Every rung; returns the records and, for rungs a and d, what their plots need. ``our_predictions`` (rung e)
    must be the out-of-fold predictions of the lines in ``held_out_cells``, labelled ``held_out_label``."""
    rng = np.random.default_rng(config.seed)
    y = table[TARGET].to_numpy()
    random_train = rng.random(table.height) >= config.test_fraction
    cell_train = ~table["CELL_LINE_NAME"].is_in(list(held_out_cells)).to_numpy()
    all_columns = [c for c in (*NUMERIC, *CATEGORICAL) if c in table.columns]
    rungs = [
        ("a", "all of the study's columns (AUC and Z_SCORE included), random 80/20 pair split", "random pairs",
         all_columns, random_train),
        ("b", "without Z_SCORE", "random pairs", [c for c in all_columns if c != "Z_SCORE"], random_train),
        ("c", "without Z_SCORE and AUC", "random pairs", [c for c in all_columns if c not in LEAKY], random_train),
        ("d", "as (c), whole cell lines held out", held_out_label,
         [c for c in all_columns if c not in LEAKY], cell_train),
    ]
    records, curves = [], {}
    drugs = table["DRUG_NAME"].to_numpy()
    for rung, description, split, columns, train in rungs:
        print(f"rung ({rung}): {description}", file=sys.stderr)
        x = encode(table, columns, train)
        predicted, train_curve, test_curve = train_ann(x, y, train, config)
        records.append({"rung": rung, "description": description, "split": split, "features": columns,
                        **_scores(drugs[~train], y[~train], predicted)})
        curves[rung] = {"measured": y[~train], "predicted": predicted, "train_loss": train_curve,
                        "test_loss": test_curve}
    if our_predictions is not None:
        for model, label in (("mlp_ensemble", "our genomic model (mlp_ensemble, raw profile in)"),
                             ("ridge_per_drug", "per-drug ridge on expression (baseline)")):
            part = our_predictions.filter((pl.col("model") == model) & (pl.col("fold") == 0))
            if part.height:
                records.append({"rung": "e", "description": label, "split": held_out_label,
                                "features": ["genomic profile"],
                                **_scores(part["drug"].to_numpy(), part["measured"].to_numpy(),
                                          part["predicted"].to_numpy())})
    return records, curves


def held_out_lines(table: pl.DataFrame, results: Path, seed: int) -> tuple[set[str], str, pl.DataFrame | None]:
    """(held-out cell lines, their label, the evaluated models' out-of-fold predictions or None) for rungs d and e.

    The lines of fold 0 of the saved seed-0 GDSC2 LCO folds, so rung (e) compares with the committed evaluation on
    the same lines; without saved folds, a random fifth of the lines, said as such, and no rung (e)."""
    folds_path = Path(results) / "folds" / "GDSC2_lco_seed0.parquet"
    predictions_path = Path(results) / "GDSC2_lco_predictions.parquet"
    if folds_path.is_file():
        held_out = set(pl.read_parquet(folds_path).filter(pl.col("fold") == 0)["cell_line"].to_list())
        ours = pl.read_parquet(predictions_path) if predictions_path.is_file() else None
        return held_out, "held-out cell lines (LCO fold 0)", ours
    cells = sorted(table["CELL_LINE_NAME"].unique().to_list())
    held_out = set(np.random.default_rng(seed).choice(cells, len(cells) // 5, replace=False).tolist())
    print(f"warning: no saved LCO folds at {folds_path}; holding out a random fifth of the cell lines instead, and "
          "leaving out the comparison with the evaluated models (run `drugresponse evaluate --split lco` first "
          "for it).", file=sys.stderr)
    return held_out, f"held-out cell lines (a random fifth, seed {seed}; no saved LCO folds)", None


def write_outputs(records: list[dict], curves: dict, out_dir: Path) -> None:
    from ..evaluation.plots import evaluation_plots
    from ..model.loss_curve import loss_curve_plot

    write_json_atomic(out_dir / "seed_study.json", records)
    plot_dir = out_dir / "plots"
    figures = {}
    for rung in ("a", "d"):
        c = curves[rung]
        frame = pl.DataFrame({"model": "ann", "drug": "all", "measured": c["measured"], "predicted": c["predicted"]})
        paths = evaluation_plots(frame, "ann", f"seed study ({rung})", plot_dir, f"seed_study_{rung}")
        paths.append(loss_curve_plot(c["train_loss"], c["test_loss"], f"seed study ({rung}): train vs test",
                                     plot_dir / f"seed_study_{rung}_loss.png",
                                     val_label="test (random pairs)" if rung == "a" else "test (held-out cell lines)",
                                     ylabel="MSE on LN_IC50"))
        figures[rung] = [p.name for p in paths if "per_drug" not in p.name]
    fmt = lambda v: "n/a" if v is None or v != v else f"{v:.4f}"  # noqa: E731
    lines = ["# Why not R² = 0.9999? The seed study's pipeline, rung by rung", "",
             "Generated by `drugresponse seed-study`; GDSC2, the study's network, seeded.", "",
             "| rung | what changes | split | MSE | MAE | R² | Pearson | per-drug Pearson | pairs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| ({r['rung']}) | {r['description']} | {r['split']} | {fmt(r['mse'])} | {fmt(r['mae'])} | "
                     f"{fmt(r['r2'])} | {fmt(r['pearson'])} | {fmt(r['per_drug_pearson'])} | {r['n_pairs']:,} |")
    lines += ["", "| rung (a): the study's setting | rung (d): unseen cell lines, no leaked columns |", "|---|---|"]
    for left, right in zip(figures["a"], figures["d"]):
        lines.append(f"| ![](plots/{left}) | ![](plots/{right}) |")
    write_text_atomic(out_dir / "seed_study.md", "\n".join(lines) + "\n")
