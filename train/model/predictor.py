"""The neural model under the evaluation's predictor contract (``fit`` / ``predict``), its setting chosen inside each
fold among the preset's candidates."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from ..data.response_matrix import ResponseMatrix
from ..data.splits import inner_split
from .config import ModelConfig
from .fit import INNER_FRACTION, FitHistory, fit_model, predict, score_on_inner_split
from .modules import DrugResponseModel


@dataclass
class NeuralPredictor:
    """Multi-task MLP ensemble (+ ridge blend). ``candidates`` are compared on an inner split of the
    training data only, one member each; the winner is then fitted in full."""

    config: ModelConfig = field(default_factory=ModelConfig)
    candidates: tuple[ModelConfig, ...] = ()
    name: str = "mlp_ensemble"
    baseline: bool = False
    show_progress: bool = False
    model_: DrugResponseModel | None = None
    history_: FitHistory | None = None
    chosen_: ModelConfig | None = None
    search_: list = field(default_factory=list)

    def _select(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str, seed: int) -> ModelConfig:
        if len(self.candidates) <= 1:
            return self.candidates[0] if self.candidates else self.config
        inner_train, inner_val = inner_split(train_mask, split, INNER_FRACTION, seed * 1000 + 999, matrix.tissues)
        self.search_ = []
        for config in self.candidates:
            val_curve, best_epoch = score_on_inner_split(matrix, inner_train, inner_val, config, seed)
            self.search_.append({"config": config.to_dict(), "val_loss": min(val_curve), "best_epoch": best_epoch})
            print(f"  candidate val loss {min(val_curve):.4f} at epoch {best_epoch}: {config}", file=sys.stderr)
        best = int(np.argmin([s["val_loss"] for s in self.search_]))
        return self.candidates[best]

    def fit(self, matrix: ResponseMatrix, train_mask: np.ndarray, split: str = "lco", seed: int = 0):
        self.chosen_ = self._select(matrix, train_mask, split, seed)
        self.model_, self.history_ = fit_model(matrix, train_mask, self.chosen_, seed, split, self.show_progress)
        return self

    def predict(self, matrix: ResponseMatrix, rows: np.ndarray, drivers: bool = True) -> np.ndarray:
        """ln IC50; ``drivers=False`` leaves out the driver head (the ablation "without drivers")."""
        return predict(self.model_, matrix, rows, drivers)
