"""What partial profiles and other expression scales do to the shipped model's predictions.

    python benchmarks/partial_profiles.py [--lines 200]

Real GDSC profiles (the committed catalog) are degraded the way a user's platform degrades them, then scored
through the app's own upload checks (``serve/uploads.py``: refused, flagged or accepted) and the committed
model. For accepted samples: the per-drug Pearson correlation between the degraded and the full-profile
predictions across lines (averaged over drugs), and the mean |change| in ln µM, beside the between-line
spread of the full-profile predictions. Writes ``partial_profiles.json`` and ``partial_profiles.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, write_outputs  # noqa: E402


def scenarios(expression: np.ndarray, genes: list[str], read: list[str], rng) -> dict:
    """name -> (description, degraded expression). Every scenario keeps the sample's own values of the genes kept."""
    n, g = expression.shape
    model = np.isin(genes, read)
    out = {}

    def keep(mask):
        return np.where(mask, expression, np.nan)

    out["model genes only"] = ("only the genes the model reads", keep(np.broadcast_to(model, (n, g))))
    for share in (0.95, 0.8, 0.6, 0.4):
        mask = np.stack([~model | (model & (rng.random(g) < share)) for _ in range(n)])
        out[f"{share:.0%} of model genes"] = (f"a random {share:.0%} of the model's genes, every other gene", keep(mask))
    for share in (0.5, 0.2):
        mask = rng.random((n, g)) < share
        out[f"random {share:.0%} of all genes"] = (f"a random {share:.0%} of all {g:,} genes", keep(mask))
    top = np.argsort(-expression, axis=1)[:, : g // 4]
    mask = np.zeros((n, g), dtype=bool)
    np.put_along_axis(mask, top, True, axis=1)
    out["top 25% expressed"] = ("each sample's 25% most expressed genes", keep(mask))
    out["log scale changed"] = ("every value x 2.5 + 7 (another log base and offset)", expression * 2.5 + 7.0)
    out["non-linear, rank-preserving"] = ("sign(x) sqrt(|x|): same gene order, other spacing",
                                          np.sign(expression) * np.sqrt(np.abs(expression)))
    cohort = (expression - expression.mean(axis=0)) / (expression.std(axis=0) + 1e-6)
    out["cohort z-scores"] = ("each gene z-scored across the cohort of lines (what many pipelines export)", cohort)
    return out


def measure(runtime, schema, profiles: dict, full: np.ndarray, expression: np.ndarray) -> dict:
    from drugresponse.errors import UserError
    from drugresponse.serve.uploads.validate import validate

    samples = [f"s{i}" for i in range(len(expression))]
    degraded = {**profiles, "expression": expression.astype(np.float32)}
    refused = flagged = 0
    accepted = []
    for i in range(len(samples)):  # one sample at a time: the gate refuses a file at its first failing sample
        one = {m: v[i:i + 1] for m, v in degraded.items()}
        try:
            report = validate(samples[i:i + 1], one, {}, schema)
        except UserError:
            refused += 1
            continue
        flagged += bool(report.flags[0])
        accepted.append(i)
    result = {"samples": len(samples), "refused": refused, "flagged": flagged, "accepted": len(accepted)}
    if len(accepted) >= 10:
        rows = np.array(accepted)
        predicted = runtime.predict({m: v[rows] for m, v in degraded.items()})
        r = [np.corrcoef(predicted[:, j], full[rows, j])[0, 1] for j in range(full.shape[1])]
        result.update({"per_drug_pearson_with_full": float(np.nanmean(r)),
                       "mean_abs_change": float(np.abs(predicted - full[rows]).mean())})
    return result


def markdown(results: dict, meta: dict) -> str:
    lines = ["| upload | what it keeps | refused | flagged | accepted | per-drug r with full profile | mean |change| "
             "(ln µM) |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        corr = f"{r['per_drug_pearson_with_full']:.3f}" if "per_drug_pearson_with_full" in r else "n/a"
        change = f"{r['mean_abs_change']:.3f}" if "mean_abs_change" in r else "n/a"
        lines.append(f"| {name} | {r['description']} | {r['refused']} | {r['flagged']} | {r['accepted']} | {corr} | "
                     f"{change} |")
    lines += ["", f"{meta['lines']} GDSC lines from the committed catalog, committed model `{meta['model']}`; the "
              f"between-line sd of its full-profile predictions is {meta['prediction_sd']:.2f} ln µM (mean over drugs). "
              f"Refused / flagged: the app's upload checks (fewer than 50% / 90% of the model's expression genes). "
              f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores.", ""]
    return "\n".join(lines)


def main() -> None:
    from drugresponse.paths import ASSETS_DIR
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.uploads import ProfileSchema

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--model", type=Path, default=ASSETS_DIR / "model.onnx")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    runtime = load_runtime(args.model, "cpu")
    catalog = Catalog.load(args.model.parent)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(catalog.cell_lines.height, size=min(args.lines, catalog.cell_lines.height),
                              replace=False))
    profiles = {m: v[rows] for m, v in catalog.profiles.items()}
    full = runtime.predict(profiles)
    schema = ProfileSchema.of(runtime)
    results = {}
    for name, (description, expression) in scenarios(profiles["expression"], runtime.genes,
                                                     runtime.features_read["expression"], rng).items():
        results[name] = {"description": description, **measure(runtime, schema, profiles, full, expression)}
        print(name, results[name], file=sys.stderr)
    meta = {"lines": len(rows), "model": args.model.name, "prediction_sd": float(full.std(axis=0).mean()),
            "machine": describe()}
    write_outputs(args.out, "partial_profiles", {**meta, "scenarios": results}, markdown(results, meta))
    print(markdown(results, meta))


if __name__ == "__main__":
    main()
