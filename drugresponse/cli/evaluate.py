"""``drugresponse evaluate``: cross-validate the model and the baselines on saved, seeded folds."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError
from drugresponse.train.evaluation.model_names import MODEL_NAMES, SPLITS, TUNED_MODEL

from .common import RESULTS_DIR, add_model_options, add_parallel_options, matrix


def check_parallel_options(args) -> None:
    if args.workers < 0 or args.threads < 1:
        raise UserError("--workers must be 0 (serial) or more, and --threads at least 1.")


def run(args) -> None:
    from drugresponse.train.evaluation.cross_validation import EvaluationConfig, evaluate
    from drugresponse.train.evaluation.plots import write_plots
    from drugresponse.train.evaluation.results import markdown_table

    check_parallel_options(args)
    out_dir = Path(args.out)
    data = matrix(args)
    models, merge, tuned = tuple(args.models or MODEL_NAMES), args.merge, None
    if args.tuned:  # the tuned model, added to the saved table unless --models says otherwise
        from drugresponse.train.evaluation.tuning import tuned_configs

        tuned = tuned_configs(out_dir / f"{args.dataset}_{args.split}_tuning.json", data, args.split)
        models, merge = tuple(args.models or (TUNED_MODEL,)), args.merge or not args.models
    config = EvaluationConfig(dataset=args.dataset, split=args.split, n_folds=args.folds, seed=args.seed,
                              preset=args.preset, models=models, threads=args.threads, workers=args.workers,
                              address=args.address, merge=merge, tuned=tuned)
    records = evaluate(data, config, out_dir)
    write_plots(out_dir, args.dataset, args.split)
    print(markdown_table(records))


def add_command(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="cross-validate the model and the baselines on seeded folds",
                                   description="Cross-validation on saved, seeded folds shared by every model: "
                                               "lpo holds out pairs, lco whole cell lines, lto whole tissues.")
    add_model_options(evaluate)
    evaluate.add_argument("--split", required=True, choices=SPLITS)
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.add_argument("--models", nargs="+", default=None, choices=(*MODEL_NAMES, TUNED_MODEL), metavar="MODEL",
                          help=f"models to run (default all): {', '.join(MODEL_NAMES)}; {TUNED_MODEL} with --tuned")
    evaluate.add_argument("--out", default=str(RESULTS_DIR), help="results folder (default benchmarks/results)")
    evaluate.add_argument("--tuned", action="store_true",
                          help=f"evaluate {TUNED_MODEL}: each fold's configuration from `drugresponse tune` (its "
                               f"<dataset>_<split>_tuning.json in --out), added to the saved table")
    evaluate.add_argument("--merge", action="store_true",
                          help="add the --models run to the saved results of this split (same data, seed, preset and "
                               "folds) instead of replacing them, e.g. to add one baseline to the table")
    add_parallel_options(evaluate)
    evaluate.set_defaults(func=run)
