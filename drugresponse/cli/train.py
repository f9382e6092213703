"""``drugresponse train``: the final model on every (or every non-excluded) cell line of a screen."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError

from .common import CHECKPOINT_DIR, add_model_options, matrix


def read_names(path: str | None) -> set[str]:
    """Cell-line names from a text file, one per line (blank lines and # comments skipped)."""
    if not path:
        return set()
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UserError(f"cannot read --exclude-cell-lines file {path}: {exc.strerror}.") from exc
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def run(args) -> None:
    from drugresponse.train.model.final_model import exclude_cell_lines, train_final

    data, excluded, unknown = exclude_cell_lines(matrix(args), read_names(args.exclude_cell_lines))
    if unknown:
        print(f"warning: not in {args.dataset}, so not excluded: {', '.join(unknown)}")
    out = train_final(data, Path(args.out or CHECKPOINT_DIR.with_name(args.dataset.lower())), args.preset, args.seed,
                      excluded)
    print(f"checkpoint written to {out} ({len(excluded)} cell lines excluded)")


def add_command(commands) -> None:
    train = commands.add_parser("train", help="train the final model on all (or all but excluded) cell lines",
                                description="Train the multi-task network on every cell line of the dataset (default: both screens) "
                                            "(minus --exclude-cell-lines) and write a checkpoint with everything "
                                            "fitted on the training data.")
    add_model_options(train, dataset="BOTH")
    train.add_argument("--exclude-cell-lines", metavar="FILE", help="text file, one GDSC cell-line name per line")
    train.add_argument("--out", default=None,
                       help=f"checkpoint folder (default {CHECKPOINT_DIR.parent.name}/<dataset>, e.g. "
                            f"{CHECKPOINT_DIR.parent.name}/both, which `drugresponse export` reads)")
    train.set_defaults(func=run)
