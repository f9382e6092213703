"""Leave-drug-out figures from the out-of-fold predictions: each model's metrics, DrEval-style figures beyond the
naive mean effects, and paired bootstrap CIs over drugs for what the structure contributes."""

from __future__ import annotations

import numpy as np
import polars as pl

from drugresponse.train.evaluation.metrics import summary

NAIVE = "cell_line_mean"  # with no drug seen, the naive mean effects are the line's: DrEval's reference
BOOTSTRAP = 2000
COMPARISONS = (("two_tower", "two_tower_shuffled"), ("two_tower", "knn"), ("two_tower", "combined"),
               ("two_tower", "cell_line_mean"))


def metrics(predictions: pl.DataFrame) -> list[dict]:
    """One record per setting and model: pooled and per-drug figures, and the same beyond the naive prediction."""
    records = []
    for (setting,), block in predictions.group_by("setting", maintain_order=True):
        naive = block.filter(pl.col("model") == NAIVE).select("cell_line", "drug", pl.col("predicted").alias("naive"))
        for (model,), rows in block.group_by("model", maintain_order=True):
            rows = rows.join(naive, on=["cell_line", "drug"])
            drug_index = rows["drug"].cast(pl.Categorical).to_physical().to_numpy()
            y, p, b = (rows[c].to_numpy().astype(np.float64) for c in ("measured", "predicted", "naive"))
            record = {"setting": setting, "model": model, **summary(drug_index, y, p)}
            residual = y - b
            record["r2_beyond_naive"] = float(1 - np.sum((y - p) ** 2) / np.sum((residual - residual.mean()) ** 2))
            record["pearson_beyond_naive"] = (float(np.corrcoef(residual, p - b)[0, 1]) if model != NAIVE
                                              else float("nan"))
            records.append(record)
    return records


def _per_drug_stats(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.group_by("drug").agg(
        n=pl.len(), sum_y=pl.col("measured").cast(pl.Float64).sum(),
        sum_y2=(pl.col("measured").cast(pl.Float64) ** 2).sum(),
        sse=((pl.col("measured") - pl.col("predicted")).cast(pl.Float64) ** 2).sum(),
        r=pl.corr("measured", "predicted")).sort("drug")


def paired_bootstrap(predictions: pl.DataFrame, setting: str, model: str, other: str, seed: int = 0) -> dict:
    """``model`` minus ``other`` on pooled R², RMSE and mean per-drug Pearson, with 95% CIs from resampling drugs."""
    block = predictions.filter(pl.col("setting") == setting)
    a = _per_drug_stats(block.filter(pl.col("model") == model))
    b = _per_drug_stats(block.filter(pl.col("model") == other))
    n, sy, sy2 = (a[c].to_numpy() for c in ("n", "sum_y", "sum_y2"))
    sse_a, sse_b = a["sse"].to_numpy(), b["sse"].to_numpy()
    r_a, r_b = a["r"].fill_nan(0.0).to_numpy(), b["r"].fill_nan(0.0).to_numpy()
    rng = np.random.default_rng(seed)
    picks = np.vstack([np.arange(len(n)), rng.integers(0, len(n), size=(BOOTSTRAP, len(n)))])
    counts = np.stack([np.bincount(p, minlength=len(n)) for p in picks]).astype(np.float64)
    total = counts @ n
    sst = counts @ sy2 - (counts @ sy) ** 2 / total
    delta = {"r2": (counts @ sse_b - counts @ sse_a) / sst,
             "rmse": np.sqrt(counts @ sse_a / total) - np.sqrt(counts @ sse_b / total),
             "per_drug_pearson": (counts @ r_a - counts @ r_b) / counts.sum(axis=1)}
    out = {"setting": setting, "model": model, "other": other, "drugs": int(len(n)), "resamples": BOOTSTRAP}
    for key, values in delta.items():
        low, high = np.quantile(values[1:], [0.025, 0.975])
        out[key] = {"delta": float(values[0]), "ci95": [float(low), float(high)]}
    out["drugs_better_per_drug_pearson"] = int(np.sum(r_a > r_b))
    return out


def comparisons(predictions: pl.DataFrame, seed: int = 0) -> list[dict]:
    return [paired_bootstrap(predictions, setting, model, other, seed)
            for setting in ("single", "double") for model, other in COMPARISONS]


LABELS = {"two_tower": "structure model (two towers)", "two_tower_shuffled": "same, fingerprints shuffled",
          "cell_line_mean": "cell-line mean", "knn": "Morgan kNN (k = 5)", "combined": "cell-line mean + kNN"}
SETTINGS = {"single": "new drug, known lines", "double": "new drug and new line (double cold start)"}


def markdown(records: list[dict], contrasts: list[dict], settings: list[dict], data_sha256: str, seed: int,
             similarity: list[dict] | None = None) -> str:
    lines = [f"Leave-drug-out, GDSC2 drugs with a structure, 5 folds by drug (seed {seed}; data {data_sha256[:12]}…). "
             "Each pair is predicted once, by models that never saw its drug (and, in the double cold start, its "
             "line). *Beyond naive*: R² and Pearson of what a model adds to the cell-line mean (DrEval's "
             "normalisation; kNN and its average with the cell-line mean add the same thing, up to a factor, so "
             "their Pearson beyond naive is equal by construction). *Shuffled*: the same model with each drug's "
             "fingerprint swapped for another's, its settings chosen on its own inner folds.", ""]
    for setting, title in SETTINGS.items():
        lines += [f"**{title}**", "", "| model | RMSE | pooled R² | per-drug Pearson | per-drug Spearman | "
                  "R² beyond naive | Pearson beyond naive |", "|---|---|---|---|---|---|---|"]
        for r in (r for r in records if r["setting"] == setting):
            beyond = "—" if r["model"] == NAIVE else f"{r['pearson_beyond_naive']:.3f}"
            lines.append(f"| {LABELS[r['model']]} | {r['rmse']:.3f} | {r['r2']:.3f} | {r['per_drug_pearson']:.3f} | "
                         f"{r['per_drug_spearman']:.3f} | {r['r2_beyond_naive']:.3f} | {beyond} |")
        lines.append("")
    lines += ["Paired bootstrap over drugs (2,000 resamples), structure model minus the other:", "",
              "| setting | against | Δ pooled R² [95% CI] | Δ RMSE [95% CI] | Δ per-drug Pearson [95% CI] | "
              "drugs better |", "|---|---|---|---|---|---|"]
    for c in contrasts:
        cells = [f"{c[k]['delta']:+.3f} [{c[k]['ci95'][0]:+.3f}, {c[k]['ci95'][1]:+.3f}]"
                 for k in ("r2", "rmse", "per_drug_pearson")]
        lines.append(f"| {c['setting']} | {LABELS[c['other']]} | {' | '.join(cells)} | "
                     f"{c['drugs_better_per_drug_pearson']} of {c['drugs']} |")
    if similarity:
        lines += ["", "By the held-out drug's Tanimoto similarity to its nearest training drug (known lines): RMSE / "
                  "per-drug Pearson", "", "| nearest similarity | drugs | structure model | cell-line mean | "
                  "cell-line mean + kNN |", "|---|---|---|---|---|"]
        for b in similarity:
            cells = [f"{b[m]['rmse']:.2f} / {b[m]['per_drug_pearson']:.3f}"
                     for m in ("two_tower", "cell_line_mean", "combined")]
            lines.append(f"| {b['nearest_from']:.1f} to {b['nearest_to']:.1f} | {b['drugs']} | {' | '.join(cells)} |")
    lines += ["", "Settings chosen on inner folds by drug (lowest RMSE), per outer fold: " + "; ".join(
        f"fold {s['fold']}: Morgan r{s['radius']}/{s['size']}, rank {s['rank']}, λ {s['lambda_potency']}/"
        f"{s['lambda_shape']}" for s in settings) + "."]
    return "\n".join(lines) + "\n"


COVERAGE = 0.80


def conformal_quantile(scores: np.ndarray, level: float = COVERAGE) -> float:
    """The finite-sample split-conformal quantile: the ⌈(n + 1)·level⌉-th smallest score."""
    ordered = np.sort(scores)
    return float(ordered[min(int(np.ceil((len(ordered) + 1) * level)) - 1, len(ordered) - 1)])


def intervals(predictions: pl.DataFrame) -> dict:
    """The structure model's 80% interval, ŷ ± q·σ̂ (σ̂ its drug's predicted spread), per setting: q from all held-out
    pairs, and its coverage checked across folds (q from the other drug folds, applied to each)."""
    out = {}
    for setting in ("single", "double"):
        rows = predictions.filter((pl.col("setting") == setting) & (pl.col("model") == "two_tower"))
        score = (rows["measured"] - rows["predicted"]).abs().to_numpy() / rows["scale"].to_numpy()
        fold, drug = rows["fold"].to_numpy(), rows["drug"].to_numpy()
        inside = np.zeros(len(score), dtype=bool)
        for f in np.unique(fold):
            inside[fold == f] = score[fold == f] <= conformal_quantile(score[fold != f])
        per_drug = pl.DataFrame({"drug": drug, "inside": inside}).group_by("drug").agg(pl.col("inside").mean())
        coverage = per_drug["inside"].to_numpy()
        out[setting] = {"level": COVERAGE, "q": conformal_quantile(score), "pairs": int(len(score)),
                        "coverage_across_folds": float(inside.mean()),
                        "per_drug_coverage": {"median": float(np.median(coverage)),
                                              "p10": float(np.quantile(coverage, 0.10)),
                                              "below_half": int(np.sum(coverage < 0.5)), "drugs": int(len(coverage))}}
    return out


KEYS = ["setting", "cell_line", "drug", "fold", "measured", "scale", "nearest"]
SIMILARITY_BINS = (0.0, 0.3, 0.5, 1.01)


def by_similarity(predictions: pl.DataFrame) -> list[dict]:
    """The structure model against the cell-line mean, per bin of a held-out drug's similarity to its nearest
    training drug (known lines): where the structure has something to go on and where it has not."""
    out = []
    rows = predictions.filter(pl.col("setting") == "single")
    for low, high in zip(SIMILARITY_BINS[:-1], SIMILARITY_BINS[1:]):
        part = rows.filter((pl.col("nearest") >= low) & (pl.col("nearest") < high))
        if part.is_empty():
            continue
        record = {"nearest_from": low, "nearest_to": min(high, 1.0), "drugs": part["drug"].n_unique()}
        for model in ("two_tower", "cell_line_mean", "combined"):
            block = part.filter(pl.col("model") == model)
            drug_index = block["drug"].cast(pl.Categorical).to_physical().to_numpy()
            s = summary(drug_index, block["measured"].to_numpy().astype(float), block["predicted"].to_numpy())
            record[model] = {"rmse": s["rmse"], "per_drug_pearson": s["per_drug_pearson"]}
        out.append(record)
    return out


def wide(predictions: pl.DataFrame) -> pl.DataFrame:
    """One row per setting, line and drug, a column per model: the committed form of the predictions."""
    return predictions.pivot(on="model", index=KEYS,
                             values="predicted").sort("setting", "drug", "cell_line")


def long(table: pl.DataFrame) -> pl.DataFrame:
    models = [c for c in table.columns if c not in ("setting", "cell_line", "drug", "fold", "measured", "scale")]
    return table.unpivot(on=models, index=KEYS,
                         variable_name="model", value_name="predicted")


def headline(records: list[dict], contrasts: list[dict], n_drugs: int, data_sha256: str, seed: int) -> str:
    """The README's short table: the structure model beside its yardsticks, in both settings."""
    pick = {(r["setting"], r["model"]): r for r in records}
    vs = next(c for c in contrasts if c["setting"] == "single" and c["other"] == "two_tower_shuffled")
    lines = ["| new compound (leave-drug-out) | structure model: RMSE / pooled R² / per-drug Pearson | cell-line mean + "
             "kNN | same model, fingerprints shuffled |", "|---|---|---|---|"]
    for setting, label in (("single", "known lines"), ("double", "new line too (your sample)")):
        cells = [f"{pick[(setting, m)]['rmse']:.3f} / {pick[(setting, m)]['r2']:.3f} / "
                 f"{pick[(setting, m)]['per_drug_pearson']:.3f}" for m in ("two_tower", "combined", "two_tower_shuffled")]
        cells[0] = f"**{cells[0]}**"
        lines.append(f"| {label} | {' | '.join(cells)} |")
    lines += ["", f"GDSC2, {n_drugs} drugs with a structure, 5 folds by drug (seed {seed}); bundle `{data_sha256[:12]}…`. "
              f"What the structure contributes (against shuffled fingerprints, known lines): pooled R² "
              f"{vs['r2']['delta']:+.3f}, 95% CI over drugs [{vs['r2']['ci95'][0]:+.3f}, {vs['r2']['ci95'][1]:+.3f}]; "
              f"per-drug Pearson {vs['per_drug_pearson']['delta']:+.3f} [{vs['per_drug_pearson']['ci95'][0]:+.3f}, "
              f"{vs['per_drug_pearson']['ci95'][1]:+.3f}]. Written by `drugresponse evaluate --split ldo`."]
    return "\n".join(lines) + "\n"
