"""Sub-commands for the model stages (train, evaluate, export, serve), each imported only when run."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError
from .paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


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
    from drugresponse.train.evaluate import EvaluationConfig, combine_parts, evaluate, markdown_table
    from drugresponse.train.report import write_plots

    out_dir = Path(args.out)
    if args.combine:
        records = combine_parts(out_dir, args.dataset.upper(), args.split)
    else:
        config = EvaluationConfig(dataset=args.dataset.upper(), split=args.split, n_folds=args.folds,
                                  seed=args.seed, preset=args.preset, models=tuple(args.models),
                                  only_folds=tuple(args.only_folds) if args.only_folds else None)
        if config.only_folds and not set(config.only_folds) <= set(range(config.n_folds)):
            raise UserError(f"--only-folds must be between 0 and {config.n_folds - 1}.")
        records = evaluate(_matrix(args), config, out_dir)
        if config.only_folds:
            print(markdown_table(records))
            print(f"partial run written as {config.stem}.*; merge the parts with --combine")
            return
    write_plots(out_dir, args.dataset.upper(), args.split)
    print(markdown_table(records))


def add_stage_commands(stages, add_data_dir, bundle_path, assets_dir: Path) -> None:
    from drugresponse.train_names import MODEL_NAMES, SPLITS  # light module: no torch import

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
    train.add_argument("--out", default=str(REPO_ROOT / "checkpoints" / "gdsc2"), help="checkpoint folder")
    train.set_defaults(func=cmd_train)

    evaluate = stages.add_parser("evaluate", help="cross-validate the model and the baselines on seeded folds",
                                 description="Cross-validation on saved, seeded folds shared by every model: "
                                             "lpo holds out pairs, lco whole cell lines, lto whole tissues.")
    common(evaluate)
    evaluate.add_argument("--split", required=True, choices=SPLITS)
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES, metavar="MODEL",
                          help=f"models to run (default all): {', '.join(MODEL_NAMES)}")
    evaluate.add_argument("--out", default=str(RESULTS_DIR), help="results folder (default benchmarks/results)")
    evaluate.add_argument("--only-folds", type=int, nargs="+", metavar="K",
                          help="run only these folds (e.g. one per machine core), as a part to --combine later")
    evaluate.add_argument("--combine", action="store_true",
                          help="merge the partial runs of this split into its standard results")
    evaluate.set_defaults(func=cmd_evaluate)

    add_export_command(stages, add_data_dir, bundle_path)
    add_serve_command(stages)
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
    export.add_argument("--checkpoint", default=str(REPO_ROOT / "checkpoints" / "gdsc2"))
    export.add_argument("--out", default=str(REPO_ROOT / "assets" / "model.onnx"))
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


def add_serve_command(stages) -> None:
    serve = stages.add_parser("serve", help="run the web app (Gradio + onnxruntime, no torch)",
                              description="Serve the app on loopback by default. It reads only the assets folder "
                                          "beside --model.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--model", default=str(REPO_ROOT / "assets" / "model.onnx"))
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
    else:
        import numpy as np

        cells = sorted(table["CELL_LINE_NAME"].unique().to_list())
        held_out = set(np.random.default_rng(args.seed).choice(cells, len(cells) // 5, replace=False).tolist())
    ours = pl.read_parquet(predictions_path) if predictions_path.is_file() else None
    records, curves = run(table, held_out, ours, SeedStudyConfig(epochs=args.epochs, seed=args.seed))
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
