"""``drugresponse screen``: score a compound library against every GDSC line or a cohort, no app needed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from drugresponse.errors import UserError

from .common import add_onnx_options, add_ray_options


def targets_for(args, model: Path, meta: dict):
    """Every GDSC line with its measured anchors, or each sample of --profiles with the genomic model's."""
    import numpy as np

    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.screening import Targets

    runtime = load_runtime(model, "cpu", threads=args.threads)
    from drugresponse.serve.compounds import anchor_columns

    columns = anchor_columns(runtime.drugs, meta["anchors"])
    if args.profiles:
        from drugresponse.serve.uploads import ProfileSchema, read_cohort

        cohort = read_cohort(Path(args.profiles), ProfileSchema.beside(runtime, model), 512)
        names, anchors = [], []
        for report, _ in cohort.chunks:
            names += report.samples
            anchors.append(runtime.predict(report.profiles)[:, columns])
        if not names:
            raise UserError(f"{args.profiles} holds no sample that could be read.")
        return Targets(names, [""] * len(names), np.concatenate(anchors).astype(np.float32),
                       np.ones(len(names), dtype=bool))
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.compounds import gdsc_line_anchors

    catalog = Catalog.load(model.parent)
    anchors, predicted = gdsc_line_anchors(catalog, runtime, meta["anchors"])
    return Targets(catalog.cell_lines["cell_line"].to_list(), catalog.cell_lines["tissue"].to_list(), anchors,
                   predicted)


def run(args) -> None:
    from drugresponse.serve.screening import refused_path, screen

    model = Path(args.model)
    compound, sidecar = model.parent / "compound.onnx", model.parent / "compound.json"
    if not compound.is_file() or not sidecar.is_file():
        raise UserError(f"no compound model beside {model} (compound.onnx and compound.json); the repository ships "
                        "one in assets/, or write it with `drugresponse export --compound`.")
    meta = json.loads(sidecar.read_text())
    if args.workers < 0:
        raise UserError("--workers must be 0 (in this process) or more.")
    start = time.perf_counter()
    targets = targets_for(args, model, meta)
    report = screen(compound, meta, targets, Path(args.library), Path(args.out), args.chunk, args.top,
                    args.skip_invalid, args.workers, args.address, not args.quiet,
                    Path(args.profiles) if args.profiles else None)
    what = "samples" if args.profiles else "GDSC cell lines"
    print(f"wrote {report['out']}: {report['compounds']:,} compounds x {report['targets']:,} {what}"
          f"{f' (top {args.top} each)' if args.top else ''}, {report['rows']:,} rows, most sensitive first within "
          f"each compound, in {time.perf_counter() - start:.1f} s")
    if args.skip_invalid:
        print(f"{report['refused']} compound(s) refused; the reasons are in {refused_path(Path(args.out))}")


def add_command(commands) -> None:
    screen = commands.add_parser(
        "screen", help="score a compound library (SMILES) against every GDSC line or a cohort of profiles",
        description="Virtual screening with the structure model: every compound of LIBRARY (.smi: a SMILES per "
                    "line, optionally a name after it; .csv/.tsv: a smiles column, optionally name or id) against "
                    "every GDSC cell line (measured responses as the line's side) or each sample of --profiles (the "
                    "genomic model's predictions as the sample's side). OUTPUT (.parquet or .csv) has one row per "
                    "compound and line, most sensitive first within each compound: the compound's name and its "
                    "library_line, the standardised smiles, target (the cell line or sample), predicted_ln_ic50, the 80% "
                    "interval from leave-drug-out residuals, rank, and the Tanimoto similarity to the nearest known GDSC2 drug "
                    "(below 0.3 the structure adds little: see docs/EVALUATION.md). Counter-ions and solvents are stripped (draw the drug itself neutral: charges are read as drawn); what RDKit cannot read stops "
                    "the run with its line number (or is listed, with --skip-invalid).")
    screen.add_argument("library", help="compound library: .smi/.txt, or .csv/.tsv with a smiles column")
    screen.add_argument("-o", "--out", required=True, help="ranked table to write (.parquet or .csv)")
    screen.add_argument("--profiles", default=None, metavar="FILE",
                        help="score against the samples of this expression file (any layout `predict` reads) "
                             "instead of the GDSC lines")
    screen.add_argument("--top", type=int, default=None,
                        help="keep the N most sensitive lines (or samples) per compound (default: all)")
    add_onnx_options(screen)
    screen.add_argument("--chunk", type=int, default=256, help="compounds per chunk (default 256)")
    screen.add_argument("--threads", type=int, default=1, help="onnxruntime threads of the genomic model (default 1)")
    screen.add_argument("--skip-invalid", action="store_true",
                        help="leave out compounds RDKit cannot read or the limits refuse, listed with the reason in "
                             "OUTPUT.refused.csv (default: the first one stops the run, writing nothing)")
    add_ray_options(screen, "the chunks of compounds")
    screen.add_argument("--quiet", action="store_true", help="no progress bar")
    screen.set_defaults(func=run)
