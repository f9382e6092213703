"""``drugresponse tune``: Optuna search of the model's settings, nested in the saved outer folds."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError
from drugresponse.train.evaluation.model_names import SPLITS

from .common import RESULTS_DIR, add_model_options, add_parallel_options, matrix
from .evaluate import check_parallel_options


def run(args) -> None:
    from drugresponse.train.evaluation.tuning import tune

    check_parallel_options(args)
    if args.trials < 1 or (args.time_budget is not None and args.time_budget <= 0):
        raise UserError("--trials must be at least 1 and --time-budget positive.")
    out_dir = Path(args.out)
    folds = out_dir / "folds" / f"{args.dataset}_{args.split}_seed{args.seed}.parquet"
    if not folds.is_file():
        raise UserError(f"no saved folds at {folds}; run `drugresponse evaluate --split {args.split}` first, so the "
                        "search is nested in the folds the evaluation uses.")
    out = out_dir / f"{args.dataset}_{args.split}_tuning.json"
    tune(matrix(args), args.split, folds, out, args.trials, args.time_budget, args.seed, args.preset, args.workers,
         args.address, args.threads)
    print(f"wrote {out}; score it with `drugresponse evaluate --split {args.split} --tuned`")


def add_command(commands) -> None:
    tune = commands.add_parser("tune", help="search hyper-parameters inside each outer fold (Optuna on Ray)",
                               description="Optuna (TPE, median pruning) over learning rate, batch size, epochs, "
                                           "patience, width, depth, dropout, input dropout, weight decay, gene count "
                                           "and modality set, nested in the saved outer folds: trials see inner splits "
                                           "only. Writes <dataset>_<split>_tuning.json; then `evaluate --tuned` scores "
                                           "the result.")
    add_model_options(tune)
    tune.add_argument("--split", required=True, choices=SPLITS)
    tune.add_argument("--trials", type=int, default=20, help="trials per outer fold (default 20)")
    tune.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                      help="stop every fold's study when the run has used about this much time in all")
    tune.add_argument("--out", default=str(RESULTS_DIR), help="results folder (the saved folds are read from it)")
    add_parallel_options(tune)
    tune.set_defaults(func=run)
