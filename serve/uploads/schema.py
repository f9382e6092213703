"""What a model takes, and which of a file's names stand for which of its inputs.

``ProfileSchema`` holds the model's features per input (genes for the omics, GDSC event names for drivers), the
ones it reads, and the resolvers that map what a user writes onto them: the model's own names first, then (for
genes) case, Ensembl IDs and current or previous HGNC symbols, and (for events) short aliases. Every mapping
that is not the model's own name is recorded, for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ..runtime import MODALITIES
from .identifiers import EventResolver, GeneResolver

IDENTIFIERS_FILE = "gene_identifiers.parquet"  # written into assets/ at export


def read_identifiers(assets: Path) -> pl.DataFrame | None:
    """The assets' gene identifier table (None in assets exported before it existed: model names only)."""
    path = Path(assets) / IDENTIFIERS_FILE
    return pl.read_parquet(path) if path.is_file() else None


@dataclass(frozen=True)
class ProfileSchema:
    """What a model takes: the features of each input and the ones it reads."""

    features: dict[str, list[str]]  # modality -> column names in input order
    features_read: dict[str, list[str]]
    genes: GeneResolver = field(default=None, compare=False)
    events: EventResolver = field(default=None, compare=False)

    @classmethod
    def of(cls, runtime, identifiers=None) -> "ProfileSchema":
        """The schema of a loaded model; ``identifiers`` is the assets' gene identifier table (or None: names must
        be the model's own, in any case)."""
        features = {m: runtime.features(m) for m in MODALITIES}
        return cls(features, runtime.features_read, GeneResolver(features["expression"], identifiers),
                   EventResolver(features["drivers"]))

    @classmethod
    def beside(cls, runtime, model_path: Path) -> "ProfileSchema":
        """The schema of a model file, with the identifier table of the assets folder it sits in."""
        return cls.of(runtime, read_identifiers(Path(model_path).parent))

    def resolver(self, modality: str):
        return self.events if modality == "drivers" else self.genes

    @property
    def read_columns(self) -> dict[str, np.ndarray]:
        """Column indices of the features the model reads, per modality."""
        if "_read_columns" not in self.__dict__:  # computed once: validation runs for every chunk of a cohort
            position = {m: {f: j for j, f in enumerate(self.features[m])} for m in MODALITIES}
            object.__setattr__(self, "_read_columns", {m: np.array([position[m][f] for f in self.features_read[m]],
                                                                   dtype=np.int64) for m in MODALITIES})
        return self.__dict__["_read_columns"]
