"""Writing files whole or not at all: a reader, or an interrupted run, never sees half a file.

Every result, asset and output file the project writes goes through here. The content is written to a hidden
temporary name beside the target (same folder, so the rename stays on one file system) and renamed over the
target only when the writer finished; if the writer fails, the temporary file is removed and the target is left
as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


class PartialFile:
    """A file written in several steps (a streaming writer): write to ``tmp``; ``commit`` renames it to ``path``,
    ``abort`` removes it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temporary_name(self.path)

    def commit(self) -> None:
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write to; on leaving the block rename it to ``path``, or remove it on an error.

    For writers that want a path (``pq.write_table``, ``fig.savefig``, ``onnx.save``).
    """
    partial = PartialFile(path)
    try:
        yield partial.tmp
        partial.commit()
    finally:
        partial.abort()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def copy_file_atomic(source: Path, path: Path) -> None:
    """A copy of ``source`` at ``path``, whole or not at all."""
    write_bytes_atomic(path, Path(source).read_bytes())


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, payload, indent: int | None = 2) -> None:
    """``payload`` as JSON (NaN written as NaN, as Python's json does) followed by a newline."""
    write_text_atomic(path, json.dumps(payload, indent=indent, allow_nan=True) + "\n")


def write_parquet_atomic(path: Path, frame, **options) -> None:
    """A polars DataFrame as parquet; ``options`` go to ``DataFrame.write_parquet`` (compression, ...)."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, **options)


@contextlib.contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield an empty staging folder to fill; on leaving the block it replaces the folder ``path`` (the old one, if
    any, is removed), or it is removed on an error. Files inside a staging folder need no renaming of their own."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}-partial-") as tmp:
        staging = Path(tmp) / path.name
        staging.mkdir()
        yield staging
        if path.exists():  # moved into the temporary folder, which is deleted with it
            shutil.move(str(path), str(Path(tmp) / "old"))
        staging.rename(path)


@contextlib.contextmanager
def staged_files(folder: Path, names: list[str]) -> Iterator[Path]:
    """Yield a staging folder (inside ``folder``) to write the files ``names`` into; on leaving the block, once all
    were written, each is renamed into ``folder``; on an error nothing in ``folder`` changes. For files that belong
    together (a model and its sidecars): none is replaced unless every one was written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".staged-") as tmp:
        yield Path(tmp)
        for name in names:
            os.replace(Path(tmp) / name, folder / name)
