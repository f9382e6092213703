"""``drugresponse seed-study``: reproduce the seed study and show where its R² = 0.9999 came from."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError

from .common import RESULTS_DIR, add_data_dir, bundle_path


def run(args) -> None:
    from drugresponse.train.data.bundle import Bundle, is_valid_bundle
    from drugresponse.train.seed_study.ladder import SeedStudyConfig, held_out_lines, write_outputs
    from drugresponse.train.seed_study.ladder import run as run_ladder
    from drugresponse.train.seed_study.study_table import from_bundle, from_study_files

    out = Path(args.out)
    if args.from_dir:
        table = from_study_files(Path(args.from_dir))
    else:
        path = bundle_path(args)
        if not is_valid_bundle(path):
            raise UserError(f"no valid data bundle at {path}. Build it first with `drugresponse data build`.")
        table = from_bundle(Bundle.open(path), path.parent)
    held_out, label, ours = held_out_lines(table, Path(args.results), args.seed)
    records, curves = run_ladder(table, held_out, ours, SeedStudyConfig(epochs=args.epochs, seed=args.seed), label)
    write_outputs(records, curves, out)
    for r in records:
        print(f"({r['rung']}) {r['description']:<70} R² {r['r2']:.4f}  MSE {r['mse']:.4f}  "
              f"per-drug Pearson {r['per_drug_pearson']:.3f}")
    print(f"wrote {out / 'seed_study.json'} and {out / 'seed_study.md'}")


def add_command(commands) -> None:
    study = commands.add_parser("seed-study", help="reproduce the seed study and show where its R² = 0.9999 came from",
                                description="Train the seed study's network on its own columns and print a ladder of "
                                            "metrics from its setting to an honest one.")
    add_data_dir(study)
    study.add_argument("--from-dir", help="folder with the study's own files (GDSC response table, cell-line "
                                          "details, compound annotation; CSV or XLSX)")
    study.add_argument("--results", default=str(RESULTS_DIR), help="where the LCO folds and predictions are")
    study.add_argument("--out", default=str(RESULTS_DIR))
    study.add_argument("--epochs", type=int, default=20)
    study.add_argument("--seed", type=int, default=0)
    study.set_defaults(func=run)
