"""``drugresponse predict``: score a cohort of profiles into a table of predictions, no app needed."""

from __future__ import annotations

import time
from pathlib import Path

from drugresponse.errors import UserError

from .common import add_onnx_options


def run(args) -> None:
    from drugresponse.serve.batch import predict_file, report_path, skipped_path
    from drugresponse.serve.calibration import Calibration
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.uploads import ProfileSchema

    if args.chunk < 1:
        raise UserError("--chunk must be at least 1 (samples per chunk).")
    model = Path(args.model)
    runtime = load_runtime(model, args.provider, threads=args.threads)
    calibration = Calibration.load(model.parent / "evaluation", runtime.drugs)
    start = time.perf_counter()
    report = predict_file(runtime, calibration, Path(args.input), Path(args.out), args.chunk, not args.quiet,
                          args.skip_invalid, ProfileSchema.beside(runtime, model),
                          Path(args.mutations) if args.mutations else None)
    seconds = time.perf_counter() - start
    print(f"wrote {report['out']}: {report['samples']:,} samples x {report['drugs']} drugs ({report['rows']:,} rows, "
          f"{report['format']}, {report['layout']}) in {seconds:.1f} s on {runtime.provider}"
          + (f"; {report['flagged']} sample(s) flagged (see the flag column)" if report["flagged"] else ""))
    for note in report["notes"]:
        print(f"  {note}")
    if args.skip_invalid:
        print(f"{report['skipped']} sample(s) skipped; the reasons are in {skipped_path(Path(args.out))}")
    print(f"the model, the input and these notes are recorded in {report_path(Path(args.out))}")


def add_command(commands) -> None:
    predict = commands.add_parser(
        "predict", help="score a cohort of profiles (CSV or parquet) into a table of predictions, no app needed",
        description="Batch scoring: every sample of INPUT for every drug, read in one pass in chunks with the app's "
                    "readers and checks: the app's long or wide layout, genes-as-rows tables (nf-core/rnaseq merged, "
                    "RSEM, Salmon, GCT) or genes-as-columns, as delimited text, parquet or xlsx, genes named by "
                    "symbol or Ensembl ID. OUTPUT (.parquet or .csv) has one row per sample and drug: ln_ic50, "
                    "ic50_um, interval_low/high (80%, ln µM), percentile among held-out GDSC predictions, "
                    "relative_call (a rank among GDSC lines, not a dose), flag; OUTPUT.report.json names the model "
                    "and the input and says how names were mapped.")
    predict.add_argument("input", help="profiles file (any layout and format the app accepts for expression)")
    predict.add_argument("--mutations", default=None, metavar="FILE",
                         help="a mutation list for the same samples (annotated VCF, MAF, or a table of sample, gene "
                              "and protein change), paired by sample name; its GDSC events are set for each sample")
    predict.add_argument("-o", "--out", required=True, help="predictions file to write (.parquet or .csv)")
    add_onnx_options(predict)
    predict.add_argument("--chunk", type=int, default=512, help="samples per chunk (bounds memory; default 512)")
    predict.add_argument("--threads", type=int, default=0, help="onnxruntime threads (default 0: all cores)")
    predict.add_argument("--skip-invalid", action="store_true",
                         help="leave out samples that fail the checks and list them, with the reason, in "
                              "OUTPUT.skipped.csv (default: the first such sample stops the run, writing nothing)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=run)
