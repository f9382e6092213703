"""Tables and texts for the app, built from the committed evaluation results and the explanation graph (pandas
where Gradio's plots want it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from drugresponse.driver_events import describe as describe_events
from drugresponse.errors import UserError

from .catalog import Catalog
from .conformal import GUARANTEE
from .explain import Explainer, readable

MAX_POINTS = 3000
SPLIT_TITLES = {"lco": "LCO: unseen cell lines", "lpo": "LPO: unseen pairs", "lto": "LTO: unseen organ systems"}


def _oof(catalog: Catalog) -> pl.DataFrame | None:
    return catalog.evaluation("lco_predictions.parquet")


def drug_count(service) -> str:
    """'542 drugs (286 GDSC2, 378 GDSC1 outputs)': how many drugs the loaded model answers for."""
    screens = service.drug_table.group_by("screen", maintain_order=True).len()
    parts = ", ".join(f"{n} {screen}" for screen, n in screens.iter_rows())
    return f"{len(service.leading)} drugs ({parts} outputs)"


def metrics_table(catalog: Catalog) -> pd.DataFrame:
    rows = []
    for screen, split in ((screen, split) for screen in ("GDSC2", "GDSC1") for split in ("lco", "lpo", "lto")):
        for record in catalog.evaluation(f"{screen}_{split}.json") or []:
            rows.append({"screen": screen, "split": SPLIT_TITLES[split], "model": record["model"],
                         "baseline": "yes" if record["baseline"] else "no",
                         **{k: round(record[k], 3) if record[k] == record[k] else None
                            for k in ("rmse", "mae", "r2", "pearson", "per_drug_pearson", "per_drug_spearman")}})
    return pd.DataFrame(rows)


def actual_vs_predicted(catalog: Catalog, drug: str | None = None) -> pd.DataFrame:
    oof = _oof(catalog)
    if oof is None:
        return pd.DataFrame({"predicted": [], "measured": []})
    if drug:
        oof = oof.filter(pl.col("drug") == drug)
    if oof.height > MAX_POINTS:
        oof = oof.sample(MAX_POINTS, seed=0)
    return oof.select("predicted", "measured", "drug", "cell_line").to_pandas()


def residuals(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(histogram of residuals, residuals vs predicted sample)."""
    oof = _oof(catalog)
    if oof is None:
        return pd.DataFrame({"residual": [], "pairs": []}), pd.DataFrame({"predicted": [], "residual": []})
    residual = (oof["measured"] - oof["predicted"]).to_numpy()
    counts, edges = np.histogram(residual, bins=np.arange(-6, 6.25, 0.25))
    histogram = pd.DataFrame({"residual": np.round((edges[:-1] + edges[1:]) / 2, 3), "pairs": counts})
    sample = oof.with_columns((pl.col("measured") - pl.col("predicted")).alias("residual"))
    if sample.height > MAX_POINTS:
        sample = sample.sample(MAX_POINTS, seed=1)
    return histogram, sample.select("predicted", "residual").to_pandas()


def loss_curves(catalog: Catalog) -> pd.DataFrame:
    curves = catalog.evaluation("loss_curve.json")
    rows = []
    for member in (curves or {}).get("members", []):
        for kind in ("train_loss", "val_loss"):
            label = f"member {member['member']} {'training' if kind == 'train_loss' else 'validation'}"
            rows += [{"epoch": e + 1, "loss": v, "curve": label} for e, v in enumerate(member[kind])]
    return pd.DataFrame(rows or {"epoch": [], "loss": [], "curve": []})


def _held_out_pearson(catalog: Catalog, drug: str) -> str:
    oof = _oof(catalog)
    if oof is None or not drug:
        return "No held-out predictions are available."
    part = oof.filter(pl.col("drug") == drug)
    if part.height < 10:
        return "Fewer than 10 held-out cell lines; no correlation reported."
    r = float(np.corrcoef(part["measured"].to_numpy(), part["predicted"].to_numpy())[0, 1])
    return (f"Pearson r = {r:.3f} between measured and predicted ln IC50 across {part.height} cell lines the models "
            f"never saw in training (LCO, out of fold).")


def held_out_reference(service) -> dict[str, np.ndarray]:
    """Each drug's held-out predictions over the GDSC lines (the boxes of the interval plot)."""
    return {d: col[np.isfinite(col)] for d, col in zip(service.drugs, service.held_out.T)}


def inputs_read(service) -> str:
    """``expression (2,000 genes) and 120 driver events`` — what the shipped model's output depends on."""
    read = service.runtime.features_read
    parts = [f"{m.replace('_', ' ')} ({len(read[m]):,} genes)" for m in ("expression", "mutation", "copy_number")
             if service.runtime.reads.get(m)]
    if service.runtime.reads.get("drivers"):
        parts.append(describe_events(read["drivers"]))
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


CURATED_MARK = " (curated)"


def _explain_row(service, explainer: Explainer, profiles: dict, row: int, drug: str) -> tuple[pl.DataFrame, dict]:
    return explainer.explain({m: v[row:row + 1] for m, v in profiles.items()}, int(service.drug_columns([drug])[0]))


def explain_cell_line(service, explainer: Explainer, cell_line: str, drug: str) -> tuple[pl.DataFrame, dict]:
    """The explanation of a GDSC line; ``summary["curated"]`` holds the notes of its events that the curated overrides
    set rather than GDSC's table (their rows are marked), so a user sees where such a value comes from."""
    table, summary = _explain_row(service, explainer, service.catalog.profiles, service.catalog.row(cell_line), drug)
    curated = service.catalog.curated_events(cell_line)
    return mark_curated(table, list(curated)), {**summary, "curated": list(curated.values())}


def mark_curated(table: pl.DataFrame, curated: list[str]) -> pl.DataFrame:
    """Mark the rows of events whose value comes from the curated overrides rather than GDSC's table."""
    if not curated:
        return table
    return table.with_columns(pl.when(pl.col("model feature").is_in([f"driver:{e}" for e in curated]))
                              .then(pl.col("sample's value") + CURATED_MARK).otherwise(pl.col("sample's value"))
                              .alias("sample's value"))


def curated_text(notes: list[str]) -> str:
    return ("\n\nCurated correction of GDSC's event table, read by the model: " + "; ".join(notes) + ".") if notes else ""


def explain_sample(service, explainer: Explainer, report, sample: str, drug: str) -> tuple[pl.DataFrame, dict]:
    if sample not in report.samples:
        raise UserError(f"no sample {sample!r} in the uploaded file; it has {', '.join(report.samples[:5])}"
                        f"{' …' if len(report.samples) > 5 else ''}.")
    return _explain_row(service, explainer, report.profiles, report.samples.index(sample), drug)


def drug_features(catalog: Catalog, drug: str, top: int = 15) -> pd.DataFrame:
    """The features with the largest mean |contribution| to the drug over held-out GDSC lines (LCO fold models)."""
    table = catalog.evaluation("lco_contributions.parquet")
    if table is None:
        return pd.DataFrame({"feature": [], "mean |contribution| (ln µM)": []})
    part = table.filter(pl.col("drug") == drug).sort("rank").head(top)
    return pd.DataFrame({
        "feature": [readable(f) for f in part["feature"]],
        "mean |contribution| (ln µM)": part["mean_abs_contribution"].cast(pl.Float64).round(3).to_list(),
        "mean contribution (ln µM)": part["mean_contribution"].cast(pl.Float64).round(3).to_list(),
        "model feature": part["feature"].to_list()})


def _screen_note(catalog: Catalog, drug: str) -> str:
    """Which screen an output answers for, and the other screen's output for the same drug, if any."""
    table = catalog.drug_table_all()
    row = table.filter(pl.col("drug") == drug)
    if row.is_empty():
        return "GDSC2 screen"
    others = table.filter((pl.col("name") == row["name"][0]) & (pl.col("drug") != drug))["drug"].to_list()
    return f"{row['screen'][0]} screen" + (f"; the other screen's answer: {others[0]}" if others else "")


def drug_summary(catalog: Catalog, drug: str) -> str:
    """Held-out accuracy, known targets and the canonical events of the biomarker benchmark, for one drug."""
    lines = [f"**{drug}** ({_screen_note(catalog, drug)}). {_held_out_pearson(catalog, drug)}"]
    targets = catalog.drug_targets.get(drug)
    lines.append(f"Target(s): {targets}." if targets else
                 "Target: not named in the pinned GDSC files (they name targets for a handful of drugs only).")
    benchmark = catalog.evaluation("biomarkers.json") or {}
    # the benchmark names drugs as their screen does: GDSC1's pairs are scored on GDSC1's outputs, 'name [GDSC1]'
    pairs = [*benchmark.get("pairs", []), *({**p, "drug": f"{p['drug']} [GDSC1]"} for p in benchmark.get("gdsc1_pairs", []))]
    rows = [p for p in pairs if p["drug"] == drug and p["model"] == "mlp_ensemble"]
    for p in rows:
        lines.append(f"Canonical event **{readable('driver:' + p['event'])}** ({p['carriers']} carriers; source: "
                     f"{p['source']}): measured carriers-minus-rest difference {p['measured_difference']:+.2f} ln µM, "
                     f"held-out predicted {p['predicted_difference']:+.2f} (recovery {p['recovery']:.2f}).")
    if benchmark and not rows:
        lines.append("No canonical driver event of the biomarker benchmark concerns this drug.")
    return "\n\n".join(lines)


def coverage_text(conformal: dict) -> str:
    coverage = conformal.get("empirical_coverage")
    if coverage is None:
        return ""
    return (f"80% split-conformal intervals covered **{coverage:.1%}** of {conformal['test_pairs']:,} held-out pairs "
            f"({conformal.get('coverage_method', 'cell lines not used to calibrate them')}). {GUARANTEE}")


def exceptional_text(stats: dict) -> str:
    """What the intervals and the ranking mean for the responses users look for most: each drug's most sensitive."""
    if not stats or stats.get("coverage") is None:
        return ""
    screens = stats.get("by_screen") or {}
    over = (" over both screens (" + ", ".join(f"{s} {v['recall']:.0%}" for s, v in screens.items()) + ")"
            if screens else "")
    return (f"**Exceptional responders.** Among the pairs *predicted* in a drug's {stats['share']:.0%} most sensitive, "
            f"the 80% interval covered {stats['predicted_coverage']:.0%} of measured values ({stats['predicted_pairs']:,} "
            f"held-out pairs): the intervals hold for the predictions you can see. The {stats['share']:.0%} most "
            f"sensitive *measured* responses of each drug ({stats['pairs']:,} pairs) are another matter: the interval "
            f"covered only **{stats['coverage']:.0%}** of them, and {stats['recall']:.0%}{over} were predicted among the "
            f"drug's {stats['top']:.0%} most sensitive. An exceptional response is mostly predicted as sensitive, not as "
            "exceptional: the model cannot tell the extreme responders among the lines it calls sensitive, so a low "
            "percentile says \"likely among the most sensitive\", not how far a line will go."
            + references_text(stats.get("references") or {}))


def references_text(references: dict) -> str:
    """That recall beside what another measurement of the same pairs recalls (empty where the assets have none)."""
    parts = []
    other = {r["screen"]: r for r in references.get("other_screen", [])}
    if {"GDSC2", "GDSC1"} <= set(other):
        a, b = other["GDSC2"], other["GDSC1"]
        parts.append(f"on the {a['drugs']} drugs both screens measured, one screen's own measurement of the same line "
                     f"and drug recalls the other's most sensitive pairs at {a['recall']:.0%} (GDSC2's, by GDSC1) and "
                     f"{b['recall']:.0%} (the reverse), where the model recalls {a['network']:.0%} of GDSC2's and "
                     f"{b['network']:.0%} of GDSC1's (the model learnt each screen's own assay from the training lines, "
                     "which the other screen's measurement cannot know: beating it is not beating a re-test)")
    if "replicate" in references:
        r = references["replicate"]
        parts.append(f"where GDSC2 lists a drug twice ({r['drugs']} drugs), one entry's measurement recalls the "
                     f"other's at {r['recall']:.0%} (the model {r['network']:.0%})")
    return (" For comparison, " + "; ".join(parts) + ". Each of these is one noisy measurement: reference points, "
            "not bounds.") if parts else ""


def coverage_by_tissue(conformal: dict) -> pd.DataFrame:
    rows = [{"tissue": t, "coverage": round(v["coverage"], 3), "pairs": v["pairs"]}
            for t, v in conformal.get("per_tissue", {}).items()]
    return pd.DataFrame(rows or {"tissue": [], "coverage": [], "pairs": []})


def coverage_by_drug(conformal: dict) -> pd.DataFrame:
    rows = [{"drug": d, "coverage": round(v["coverage"], 3), "pairs": v["calibration_pairs"],
             "interval half-width (ln µM)": round(v["half_width"], 2)} for d, v in conformal.get("drugs", {}).items()]
    frame = pd.DataFrame(rows or {"drug": [], "coverage": [], "pairs": [], "interval half-width (ln µM)": []})
    return frame.sort_values("coverage", kind="stable").reset_index(drop=True)


def unknown_events_text(context: dict) -> str:
    """The sample's unknown driver events that would move its predictions most, if it carried them."""
    effects = context["unknown_events"]
    if not effects:
        return ("**Driver events.** None of the events the model reads is unknown for this sample, or none would move "
                "a prediction by 0.25 ln µM or more.")
    lines = ["**Unknown driver events that would change this sample's predictions** (if it carried them; the model "
             "reads an unknown event as nothing, never as wild type): "]
    for effect in effects:
        drugs = ", ".join(f"{d} {v:+.2f}" for d, v in effect["drugs"].items())
        lines.append(f"- {readable('driver:' + effect['event'])} unknown: {drugs} ln µM")
    return "\n".join(lines)
