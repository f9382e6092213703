"""Samples' model inputs as a file is read: one row per sample, one column per feature, NaN where not given.

A sample's arrays are made when its name is first seen, and only after the sample count has been checked against
the limits, so a file that names more samples than allowed is refused before it costs memory per sample.
"""

from __future__ import annotations

import numpy as np

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from .cells import line_of
from .limits import Limits
from .schema import ProfileSchema


class SampleArrays:
    """Growing arrays [samples, features] per modality; ``given`` marks cells a file has set (to refuse repeats)."""

    def __init__(self, schema: ProfileSchema, limits: Limits, capacity: int = 16):
        self.schema, self.limits = schema, limits
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.width = {m: len(schema.features[m]) for m in MODALITIES}
        self.values = {m: np.full((capacity, self.width[m]), np.nan, np.float32) for m in MODALITIES}
        self.given = {m: np.zeros((capacity, self.width[m]), bool) for m in MODALITIES}

    def __len__(self) -> int:
        return len(self.names)

    def rows(self, names: list[str]) -> np.ndarray:
        """Row of each name, adding the new ones (the sample limit is checked before anything is allocated)."""
        new = [n for n in dict.fromkeys(names) if n not in self.index]
        if new:
            self.limits.check_samples(len(self.names) + len(new))
            self._grow(len(self.names) + len(new))
            for name in new:
                self.index[name] = len(self.names)
                self.names.append(name)
        return np.fromiter((self.index[n] for n in names), dtype=np.int64, count=len(names))

    def _grow(self, needed: int) -> None:
        capacity = len(self.values[MODALITIES[0]])
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)
        for m in MODALITIES:
            values = np.full((capacity, self.width[m]), np.nan, np.float32)
            given = np.zeros((capacity, self.width[m]), bool)
            values[: len(self.names)] = self.values[m][: len(self.names)]
            given[: len(self.names)] = self.given[m][: len(self.names)]
            self.values[m], self.given[m] = values, given

    def put(self, modality: str, rows: np.ndarray, columns: np.ndarray, values: np.ndarray,
            lines: int | np.ndarray) -> None:
        """Set cells; a cell the file sets twice is refused, with the line of the second."""
        flat = rows * self.width[modality] + columns
        repeated = np.ones(len(flat), bool)
        repeated[np.unique(flat, return_index=True)[1]] = False
        again = self.given[modality][rows, columns] | repeated
        if again.any():
            k = int(np.argmax(again))
            raise UserError(f"line {line_of(lines, k)}: sample {self.names[rows[k]]!r} has {modality} for "
                            f"{self.schema.features[modality][columns[k]]!r} more than once; give each measurement "
                            "once.")
        self.values[modality][rows, columns] = values
        self.given[modality][rows, columns] = True

    def take(self, keep_last: int = 0) -> tuple[list[str], dict[str, np.ndarray]]:
        """Remove and return every sample but the last ``keep_last`` (in the order first seen)."""
        n = len(self.names) - keep_last
        names, profiles = self.names[:n], {m: self.values[m][:n].copy() for m in MODALITIES}
        for m in MODALITIES:
            self.values[m][: keep_last] = self.values[m][n:n + keep_last]
            self.values[m][keep_last:] = np.nan
            self.given[m][: keep_last] = self.given[m][n:n + keep_last]
            self.given[m][keep_last:] = False
        self.names = self.names[n:]
        self.index = {name: i for i, name in enumerate(self.names)}
        return names, profiles

    def profiles(self) -> dict[str, np.ndarray]:
        return {m: self.values[m][: len(self.names)] for m in MODALITIES}
