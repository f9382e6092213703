"""Samples' model inputs as a file is read: one row per sample, one column per feature, NaN where not given.

A sample's arrays are made when its name is first seen, and only after the sample count has been checked against
the limits, so a file that names more samples than allowed is refused before it costs memory per sample.

A cell given twice is refused, except where the caller asks to combine (expression in the long layout): its values
are then added up as they come, with their count, and combined by ``gene_tables.combine`` (the rule every layout
follows) when the sample is handed on, since the sample's scale is known only once all its values are read. The
count array is made at the first repeat and counts only repeated cells, so files without repeats cost what they did.
"""

from __future__ import annotations

import numpy as np

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from .cells import line_of
from .gene_tables import combine
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
        # for combined expression: each sample's largest value as given (its scale), and per cell the number of
        # values added up (made at the first repeat)
        self.largest = np.full(capacity, -np.inf, np.float32)
        self.counts: np.ndarray | None = None

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
        n = len(self.names)
        for m in MODALITIES:
            values = np.full((capacity, self.width[m]), np.nan, np.float32)
            given = np.zeros((capacity, self.width[m]), bool)
            values[:n] = self.values[m][:n]
            given[:n] = self.given[m][:n]
            self.values[m], self.given[m] = values, given
        largest = np.full(capacity, -np.inf, np.float32)
        largest[:n] = self.largest[:n]
        self.largest = largest
        if self.counts is not None:
            counts = np.zeros((capacity, self.width["expression"]), np.int32)
            counts[:n] = self.counts[:n]
            self.counts = counts

    def put(self, modality: str, rows: np.ndarray, columns: np.ndarray, values: np.ndarray,
            lines: int | np.ndarray, combine_repeats: bool = False) -> dict[int, int]:
        """Set cells; a cell the file sets twice is refused, with the line of the second, unless ``combine_repeats``
        (expression only): then its values are added up. Returns {column: most values given for one sample} for the
        columns of cells given more than once so far in this call's rows (empty when none)."""
        flat = rows * self.width[modality] + columns
        repeated = np.ones(len(flat), bool)
        repeated[np.unique(flat, return_index=True)[1]] = False
        again = self.given[modality][rows, columns] | repeated
        repeats = bool(again.any())
        if repeats and not combine_repeats:
            k = int(np.argmax(again))
            raise UserError(f"line {line_of(lines, k)}: sample {self.names[rows[k]]!r} has {modality} for "
                            f"{self.schema.features[modality][columns[k]]!r} more than once; give each measurement "
                            "once.")
        if combine_repeats:
            np.fmax.at(self.largest, rows, values)  # the scale is judged from the values as given, not their sums
        if not repeats:  # the usual case: no copy of the chunk's rows
            self.values[modality][rows, columns] = values
            self.given[modality][rows, columns] = True
            return {}
        first = ~again
        self.values[modality][rows[first], columns[first]] = values[first]
        self.given[modality][rows[first], columns[first]] = True
        return self._add(rows[again], columns[again], values[again])

    def _add(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray) -> dict[int, int]:
        """Add repeated expression values to their cells, counting the values that are not missing."""
        expression = self.values["expression"]
        self._counts()
        present = np.isfinite(values)
        rows, columns, values = rows[present], columns[present], values[present]
        before = expression[rows, columns]
        # a cell set once was not counted (only repeats are): it holds one value; one whose value was missing, none
        single = np.isfinite(before) & (self.counts[rows, columns] == 0)
        self.counts[rows[single], columns[single]] = 1
        expression[rows[np.isnan(before)], columns[np.isnan(before)]] = 0.0
        np.add.at(expression, (rows, columns), values)
        np.add.at(self.counts, (rows, columns), 1)
        most = np.zeros(self.width["expression"], np.int32)
        np.maximum.at(most, columns, self.counts[rows, columns])
        return {int(j): int(most[j]) for j in np.flatnonzero(most > 1)}

    def absorb(self, row: int, other: "SampleArrays") -> None:
        """Add a separate read of one sample (``other``'s first, unsettled) to ``row``: cells only ``other`` gives are
        copied with their counts; expression cells both give are added up, sums and counts, as repeats within one read
        are, and combined once the sample is handed on; any other cell given by both is refused, as in one read."""
        for m in MODALITIES:
            columns = np.flatnonzero(other.given[m][0])
            mine = self.given[m][row, columns]
            both, fresh = columns[mine], columns[~mine]
            if len(both) and m != "expression":
                raise UserError(f"sample {self.names[row]!r} has {m} for {self.schema.features[m][both[0]]!r} more "
                                "than once; give each measurement once.")
            self.values[m][row, fresh] = other.values[m][0, fresh]
            self.given[m][row, fresh] = True
            if m != "expression":
                continue
            self.largest[row] = np.fmax(self.largest[row], other.largest[0])
            if other.counts is None and not len(both):
                continue
            counts = self._counts()
            theirs = other.counts[0] if other.counts is not None else np.zeros(self.width[m], np.int32)
            counts[row, fresh] = theirs[fresh]
            values, added = self.values[m][row, both], other.values[m][0, both]
            # a count of 0 is one value, or none where it is missing
            n_mine = np.where(counts[row, both] > 0, counts[row, both], np.isfinite(values))
            n_theirs = np.where(theirs[both] > 0, theirs[both], np.isfinite(added))
            total = np.where(np.isfinite(values), values, 0) + np.where(np.isfinite(added), added, 0)
            self.values[m][row, both] = np.where(n_mine + n_theirs > 0, total, np.nan)
            counts[row, both] = n_mine + n_theirs

    def _counts(self) -> np.ndarray:
        if self.counts is None:
            self.counts = np.zeros(self.values["expression"].shape, np.int32)
        return self.counts

    def _settle(self, n: int) -> None:
        """Combine the added-up expression of the first ``n`` samples (``gene_tables.combine``), once they are whole."""
        if self.counts is None:
            return
        counts = self.counts[:n]
        repeated = counts > 1
        rows = np.flatnonzero(repeated.any(axis=1))
        if not len(rows):
            return
        expression = self.values["expression"]
        combined = combine(expression[rows], counts[rows], self.largest[rows])
        expression[rows] = np.where(repeated[rows], combined, expression[rows])
        counts[rows] = np.minimum(counts[rows], 1)

    def take(self, keep_last: int = 0) -> tuple[list[str], dict[str, np.ndarray]]:
        """Remove and return every sample but the last ``keep_last`` (in the order first seen)."""
        n = len(self.names) - keep_last
        self._settle(n)
        names, profiles = self.names[:n], {m: self.values[m][:n].copy() for m in MODALITIES}
        for m in MODALITIES:
            self.values[m][: keep_last] = self.values[m][n:n + keep_last]
            self.values[m][keep_last:] = np.nan
            self.given[m][: keep_last] = self.given[m][n:n + keep_last]
            self.given[m][keep_last:] = False
        self.largest[: keep_last] = self.largest[n:n + keep_last]
        self.largest[keep_last:] = -np.inf
        if self.counts is not None:
            self.counts[: keep_last] = self.counts[n:n + keep_last]
            self.counts[keep_last:] = 0
        self.names = self.names[n:]
        self.index = {name: i for i, name in enumerate(self.names)}
        return names, profiles

    def profiles(self) -> dict[str, np.ndarray]:
        """Every sample's inputs (views), repeated expression combined: call once the file is read."""
        self._settle(len(self.names))
        return {m: self.values[m][: len(self.names)] for m in MODALITIES}
