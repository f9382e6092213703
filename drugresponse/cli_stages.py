"""Sub-commands for the model stages (train, evaluate, export, serve), each imported only when run."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import UserError
from .paths import ASSETS_DIR, WORK_DIR
from .train_names import MODEL_NAMES, TUNED_MODEL

RESULTS_DIR = WORK_DIR / "benchmarks" / "results"


def _matrix(args):
    from drugresponse.train.bundle import Bundle, is_valid_bundle
    from drugresponse.train.matrix import load_matrix

    path = args.bundle_path(args)
    if not is_valid_bundle(path):
        raise UserError(f"no valid data bundle at {path}. Build it first with `drugresponse data build`.")
    return load_matrix(Bundle.open(path), args.dataset)


def _read_exclusions(path: str | None) -> set[str]:
    if not path:
        return set()
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UserError(f"cannot read --exclude-cell-lines file {path}: {exc.strerror}.") from exc
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def cmd_train(args) -> None:
    from drugresponse.train.final import train_final

    import numpy as np

    exclude = _read_exclusions(args.exclude_cell_lines)
    matrix = _matrix(args)
    unknown = sorted(exclude - set(matrix.cell_lines))
    if exclude and len(unknown) == len(exclude):
        raise UserError(f"none of the {len(exclude)} cell lines in {args.exclude_cell_lines} is in {args.dataset}; "
                        f"expected GDSC names, one per line (e.g. {matrix.cell_lines[0]}).")
    if unknown:
        print(f"warning: not in {args.dataset}, so not excluded: {', '.join(unknown)}")
    excluded = sorted(exclude & set(matrix.cell_lines))
    if excluded:
        matrix = matrix.subset_cell_lines(np.array([i for i, c in enumerate(matrix.cell_lines) if c not in exclude]))
    out = train_final(matrix, Path(args.out), args.preset, args.seed, excluded)
    print(f"checkpoint written to {out} ({len(excluded)} cell lines excluded)")


def cmd_evaluate(args) -> None:
    from drugresponse.train.evaluate import EvaluationConfig, evaluate, markdown_table
    from drugresponse.train.report import write_plots

    if args.workers < 0 or args.threads < 1:
        raise UserError("--workers must be 0 (serial) or more, and --threads at least 1.")
    out_dir = Path(args.out)
    matrix = _matrix(args)
    models, merge, tuned = tuple(args.models or MODEL_NAMES), args.merge, None
    if args.tuned:  # the tuned model, added to the saved table unless --models says otherwise
        from drugresponse.train.tuning import tuned_configs

        tuned = tuned_configs(out_dir / f"{args.dataset.upper()}_{args.split}_tuning.json", matrix, args.split)
        models, merge = tuple(args.models or (TUNED_MODEL,)), args.merge or not args.models
    config = EvaluationConfig(dataset=args.dataset.upper(), split=args.split, n_folds=args.folds, seed=args.seed,
                              preset=args.preset, models=models, threads=args.threads, workers=args.workers,
                              address=args.address, merge=merge, tuned=tuned)
    records = evaluate(matrix, config, out_dir)
    write_plots(out_dir, args.dataset.upper(), args.split)
    print(markdown_table(records))


def cmd_tune(args) -> None:
    from drugresponse.train.tuning import tune

    if args.trials < 1 or (args.time_budget is not None and args.time_budget <= 0):
        raise UserError("--trials must be at least 1 and --time-budget positive.")
    out_dir = Path(args.out)
    folds = out_dir / "folds" / f"{args.dataset.upper()}_{args.split}_seed{args.seed}.parquet"
    if not folds.is_file():
        raise UserError(f"no saved folds at {folds}; run `drugresponse evaluate --split {args.split}` first, so the "
                        "search is nested in the folds the evaluation uses.")
    out = out_dir / f"{args.dataset.upper()}_{args.split}_tuning.json"
    tune(_matrix(args), args.split, folds, out, args.trials, args.time_budget, args.seed, args.preset, args.workers,
         args.address, args.threads)
    print(f"wrote {out}; score it with `drugresponse evaluate --split {args.split} --tuned`")


def add_parallel_options(parser) -> None:
    parser.add_argument("--workers", type=int, default=0,
                        help="run the folds as Ray tasks on this many local workers (default 0: serially, no Ray "
                             "needed; needs the [scale] extra)")
    parser.add_argument("--address", default=None,
                        help="join this Ray cluster (e.g. 10.0.0.5:6379, or auto) instead of starting a local one; "
                             "also read from RAY_ADDRESS. Every node needs this package installed.")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per fit (default 1; results depend on it, so compare runs at the same "
                             "value)")


def add_stage_commands(stages, add_data_dir, bundle_path, assets_dir: Path) -> None:
    from drugresponse.train_names import SPLITS  # light module: no torch import

    def common(parser):
        add_data_dir(parser)
        parser.add_argument("--dataset", default="GDSC2", type=str.upper, choices=["GDSC1", "GDSC2"],
                            help="which screen to learn (default GDSC2)")
        parser.add_argument("--seed", type=int, default=0, help="seed for folds, inner splits and weights")
        parser.add_argument("--preset", default="full", choices=["full", "quick"],
                            help="model settings: full (the published model) or quick (seconds, for smoke tests)")
        parser.set_defaults(bundle_path=bundle_path)

    train = stages.add_parser("train", help="train the final model on all (or all but excluded) cell lines",
                              description="Train the multi-task network on every cell line of the dataset "
                                          "(minus --exclude-cell-lines) and write a checkpoint with everything "
                                          "fitted on the training data.")
    common(train)
    train.add_argument("--exclude-cell-lines", metavar="FILE", help="text file, one GDSC cell-line name per line")
    train.add_argument("--out", default=str(WORK_DIR / "checkpoints" / "gdsc2"), help="checkpoint folder")
    train.set_defaults(func=cmd_train)

    evaluate = stages.add_parser("evaluate", help="cross-validate the model and the baselines on seeded folds",
                                 description="Cross-validation on saved, seeded folds shared by every model: "
                                             "lpo holds out pairs, lco whole cell lines, lto whole tissues.")
    common(evaluate)
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
    evaluate.set_defaults(func=cmd_evaluate)

    tune = stages.add_parser("tune", help="search hyper-parameters inside each outer fold (Optuna on Ray)",
                             description="Optuna (TPE, median pruning) over learning rate, batch size, epochs, patience, "
                                         "width, depth, dropout, input dropout, weight decay, gene count and modality "
                                         "set, nested in the saved outer folds: trials see inner splits only. Writes "
                                         "<dataset>_<split>_tuning.json; then `evaluate --tuned` scores the result.")
    common(tune)
    tune.add_argument("--split", required=True, choices=SPLITS)
    tune.add_argument("--trials", type=int, default=20, help="trials per outer fold (default 20)")
    tune.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                      help="stop every fold's study when the run has used about this much time in all")
    tune.add_argument("--out", default=str(RESULTS_DIR), help="results folder (the saved folds are read from it)")
    add_parallel_options(tune)
    tune.set_defaults(func=cmd_tune)

    add_export_command(stages, add_data_dir, bundle_path)
    add_serve_command(stages)
    add_predict_command(stages)
    add_seed_study_command(stages, add_data_dir, bundle_path)


def cmd_export(args) -> None:
    from drugresponse.export.pipeline import export_all
    from drugresponse.train.bundle import Bundle, is_valid_bundle

    bundle_path = args.bundle_path(args)
    if not is_valid_bundle(bundle_path):
        raise UserError(f"no valid data bundle at {bundle_path} (needed for the parity check and the app's "
                        f"profiles). Build it with `drugresponse data build`.")
    out = Path(args.out)
    report = export_all(Bundle.open(bundle_path), Path(args.checkpoint), out, Path(args.results))
    print(f"wrote {report['path']} ({report['bytes'] / 1e6:.2f} MB, opset {report['opset']})")
    print(f"  inputs:  {', '.join(f'{n} {s}' for n, s in report['inputs'])}")
    print(f"  outputs: {', '.join(f'{n} {s}' for n, s in report['outputs'])}")
    print(f"  parity with PyTorch on {report['parity']['cell_lines']} cell lines: max |difference| "
          f"{report['parity']['max_abs_diff']:.2e} ln µM (with missing values: "
          f"{report['parity']['max_abs_diff_with_missing']:.2e})")
    int8 = report["int8"]
    print(f"wrote {int8['path']} ({int8['bytes'] / 1e6:.2f} MB, int8 weights): max |difference| from PyTorch "
          f"{int8['parity']['max_abs_diff']:.3f} ln µM, RMS {int8['parity']['rms_diff']:.4f}")
    print(f"  sidecars {out.with_suffix('.json')}, {Path(int8['path']).with_suffix('.json')}; "
          f"model card {out.parent / 'MODEL_CARD.md'}")


def add_export_command(stages, add_data_dir, bundle_path) -> None:
    export = stages.add_parser("export", help="write the trained model as one self-contained ONNX file (+ int8 "
                                              "variant, app assets)",
                               description="Export a checkpoint to ONE ONNX file (raw profile in, ln IC50 for every "
                                           "drug out, preprocessing inside) and its int8-weight variant "
                                           "(<out>_int8.onnx), check both against PyTorch, and write the assets "
                                           "the app reads next to them.")
    add_data_dir(export)
    export.add_argument("--checkpoint", default=str(WORK_DIR / "checkpoints" / "gdsc2"))
    export.add_argument("--out", default=str(WORK_DIR / "assets" / "model.onnx"))
    export.add_argument("--results", default=str(RESULTS_DIR), help="evaluation results to embed (default "
                                                                    "benchmarks/results)")
    export.set_defaults(func=cmd_export, bundle_path=bundle_path)


def cmd_serve(args) -> None:
    from drugresponse.serve.app import create, launch

    model = Path(args.model)
    app = create(model.parent, model, args.provider)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}, reachable from other machines.", flush=True)
    launch(app, args.host, args.port)


def cmd_predict(args) -> None:
    import time

    from drugresponse.serve.batch import predict_file
    from drugresponse.serve.calibration import Calibration
    from drugresponse.serve.runtime import load_runtime

    if args.chunk < 1:
        raise UserError("--chunk must be at least 1 (samples per chunk).")
    model = Path(args.model)
    runtime = load_runtime(model, args.provider, threads=args.threads)
    calibration = Calibration.load(model.parent / "evaluation", runtime.drugs)
    start = time.perf_counter()
    report = predict_file(runtime, calibration, Path(args.input), Path(args.out), args.chunk, not args.quiet)
    seconds = time.perf_counter() - start
    print(f"wrote {report['out']}: {report['samples']:,} samples x {report['drugs']} drugs ({report['rows']:,} rows, "
          f"{report['layout']} layout) in {seconds:.1f} s on {runtime.provider}"
          + (f"; {report['flagged']} sample(s) flagged (see the flag column)" if report["flagged"] else ""))


def add_predict_command(stages) -> None:
    predict = stages.add_parser(
        "predict", help="score a cohort of profiles (CSV or parquet) into a table of predictions, no app needed",
        description="Batch scoring: every sample of INPUT (the app's long or wide layout, .csv or .parquet) for every "
                    "drug, streamed in chunks, validated as the app validates uploads. OUTPUT (.parquet or .csv) has "
                    "one row per sample and drug: ln_ic50, ic50_um, interval_low/high (80%), percentile among "
                    "held-out GDSC predictions, call, flag.")
    predict.add_argument("input", help="profiles file (.csv or .parquet)")
    predict.add_argument("-o", "--out", required=True, help="predictions file to write (.parquet or .csv)")
    predict.add_argument("--model", default=str(ASSETS_DIR / "model.onnx"),
                         help="the ONNX model, e.g. assets/model_int8.onnx (default: the committed float32 model)")
    predict.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"],
                         help="onnxruntime execution provider (auto: CUDA when available, else CPU)")
    predict.add_argument("--chunk", type=int, default=512, help="samples per chunk (bounds memory; default 512)")
    predict.add_argument("--threads", type=int, default=0, help="onnxruntime threads (default 0: all cores)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=cmd_predict)


def add_serve_command(stages) -> None:
    serve = stages.add_parser("serve", help="run the web app (Gradio + onnxruntime, no torch)",
                              description="Serve the app on loopback by default. It reads only the assets folder "
                                          "beside --model.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--model", default=str(ASSETS_DIR / "model.onnx"),
                       help="the ONNX model; the app reads the assets beside it (default: the committed model)")
    serve.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"],
                       help="onnxruntime execution provider (auto: CUDA when available, else CPU)")
    serve.set_defaults(func=cmd_serve)


def cmd_seed_study(args) -> None:
    import polars as pl

    from drugresponse.train.bundle import Bundle, is_valid_bundle
    from drugresponse.train.seed_study import SeedStudyConfig, run, write_outputs
    from drugresponse.train.seed_study_table import from_bundle, from_study_files

    out = Path(args.out)
    if args.from_dir:
        table = from_study_files(Path(args.from_dir))
    else:
        path = args.bundle_path(args)
        if not is_valid_bundle(path):
            raise UserError(f"no valid data bundle at {path}. Build it first with `drugresponse data build`.")
        table = from_bundle(Bundle.open(path), path.parent)
    folds_path = Path(args.results) / "folds" / "GDSC2_lco_seed0.parquet"
    predictions_path = Path(args.results) / "GDSC2_lco_predictions.parquet"
    if folds_path.is_file():
        held_out = set(pl.read_parquet(folds_path).filter(pl.col("fold") == 0)["cell_line"].to_list())
        label = "held-out cell lines (LCO fold 0)"
        ours = pl.read_parquet(predictions_path) if predictions_path.is_file() else None
    else:  # no saved folds to share: a random fifth of the lines, said as such, and no rung (e) to compare with
        import numpy as np

        cells = sorted(table["CELL_LINE_NAME"].unique().to_list())
        held_out = set(np.random.default_rng(args.seed).choice(cells, len(cells) // 5, replace=False).tolist())
        label = f"held-out cell lines (a random fifth, seed {args.seed}; no saved LCO folds)"
        ours = None
        print(f"warning: no saved LCO folds at {folds_path}; holding out a random fifth of the cell lines instead, and "
              "leaving out the comparison with the evaluated models (run `drugresponse evaluate --split lco` first "
              "for it).", file=sys.stderr)
    records, curves = run(table, held_out, ours, SeedStudyConfig(epochs=args.epochs, seed=args.seed), label)
    write_outputs(records, curves, out)
    for r in records:
        print(f"({r['rung']}) {r['description']:<70} R² {r['r2']:.4f}  MSE {r['mse']:.4f}  "
              f"per-drug Pearson {r['per_drug_pearson']:.3f}")
    print(f"wrote {out / 'seed_study.json'} and {out / 'seed_study.md'}")


def add_seed_study_command(stages, add_data_dir, bundle_path) -> None:
    study = stages.add_parser("seed-study", help="reproduce the seed study and show where its R² = 0.9999 came from",
                              description="Train the seed study's network on its own columns and print a ladder of "
                                          "metrics from its setting to an honest one.")
    add_data_dir(study)
    study.add_argument("--from-dir", help="folder with the study's own files (GDSC response table, cell-line "
                                          "details, compound annotation; CSV or XLSX)")
    study.add_argument("--results", default=str(RESULTS_DIR), help="where the LCO folds and predictions are")
    study.add_argument("--out", default=str(RESULTS_DIR))
    study.add_argument("--epochs", type=int, default=20)
    study.add_argument("--seed", type=int, default=0)
    study.set_defaults(func=cmd_seed_study, bundle_path=bundle_path)
