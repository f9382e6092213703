"""Reading a prediction: percentile, call and interval, all calibrated on held-out GDSC predictions.

- percentile: the share of GDSC cell lines whose held-out prediction for the drug is lower (more
  sensitive), so a new sample is ranked among predictions made the same way as its own;
- call: sensitive below the 20th percentile, resistant above the 80th, intermediate between;
- interval: prediction ± the drug's split-conformal half-width (``conformal.json``, written at export from
  LCO out-of-fold residuals), nominal 80% coverage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from .conformal import half_widths, read_conformal

SENSITIVE, RESISTANT = 20.0, 80.0  # percentile cut-offs for the plain-words call
_SHIFT = 1e4  # see Calibration.__init__
HELD_OUT_FILE = "lco_heldout_all_drugs.parquet"  # every drug for each LCO-held-out line (written at export)


def read_held_out(evaluation_dir: Path, drugs: list[str]) -> tuple[list[str], np.ndarray]:
    """(cell lines, held-out predictions [lines, drugs] in ``drugs`` order, NaN for a drug the file lacks); no
    lines when the assets have no such file."""
    path = Path(evaluation_dir) / HELD_OUT_FILE
    if not path.is_file():
        return [], np.full((0, len(drugs)), np.nan, dtype=np.float32)
    table = pl.read_parquet(path)
    values = table.select([pl.col(d) if d in table.columns else pl.lit(None, pl.Float32).alias(d) for d in drugs])
    return table["cell_line"].to_list(), values.to_numpy()


class Calibration:
    @classmethod
    def load(cls, evaluation_dir: Path, drugs: list[str]) -> "Calibration":
        """From the assets' evaluation folder: the LCO held-out predictions and the conformal half-widths."""
        return cls(read_held_out(evaluation_dir, drugs)[1], drugs, read_conformal(evaluation_dir))

    def __init__(self, held_out: np.ndarray, drugs: list[str], conformal: dict | None):
        """``held_out`` [cell lines, drugs]: held-out predictions (NaN where a line has none)."""
        self.sorted = [np.sort(column[np.isfinite(column)]) for column in held_out.T]
        # every drug's sorted reference in one array, drug j's shifted by j * _SHIFT, so that one searchsorted
        # ranks a whole batch (ln µM predictions lie far inside +-_SHIFT / 2)
        self._counts = np.array([len(s) for s in self.sorted])
        self._starts = np.concatenate([[0], np.cumsum(self._counts)[:-1]])
        self._offsets = np.arange(len(self.sorted)) * _SHIFT
        self._all = np.concatenate([s.astype(np.float64) + o for s, o in zip(self.sorted, self._offsets)]
                                   or [np.zeros(0)])
        self.typical = np.array([np.median(s) if len(s) else np.nan for s in self.sorted])
        self.spread = np.array([np.std(s) if len(s) else np.nan for s in self.sorted]) + 1e-6
        self.conformal = conformal or {"drugs": {}}
        self.half_width = half_widths(self.conformal, drugs)

    def percentile(self, predictions: np.ndarray) -> np.ndarray:
        """[samples, drugs] -> % of GDSC lines with a lower held-out prediction (NaN for a NaN prediction)."""
        shifted = np.clip(predictions, -_SHIFT / 4, _SHIFT / 4) + self._offsets
        with np.errstate(invalid="ignore", divide="ignore"):
            out = 100.0 * (np.searchsorted(self._all, shifted) - self._starts) / self._counts
        return np.where(np.isnan(predictions) | (self._counts == 0), np.nan, out)

    @staticmethod
    def call(percentile: float) -> str:
        if not np.isfinite(percentile):
            return "n/a"
        return "sensitive" if percentile < SENSITIVE else "resistant" if percentile > RESISTANT else "intermediate"

    def interval(self, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper ends of the conformal interval, per drug (NaN where no half-width)."""
        return predictions - self.half_width, predictions + self.half_width
