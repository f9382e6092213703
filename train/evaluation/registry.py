"""Which predictor each model name builds: the baselines, the neural model, and the tuned neural model.

Every predictor follows one contract (drevalpy-style)::

    predictor.fit(matrix, train_mask, split, seed) -> predictor
    predictor.predict(matrix, rows) -> float32 [len(rows), n_drugs]   # ln IC50, µM

``train_mask`` marks the measured pairs a predictor may learn from; everything else in ``matrix.ln_ic50`` must be
treated as unseen. Profiles of any cell line may be read (they are inputs, not answers), but anything fitted
(scaling, gene selection) uses training cell lines only.
"""

from __future__ import annotations

from drugresponse.errors import UserError

from ..baselines.naive import DrugMean, DrugMeanPlusCellEffect, TissueDrugMean
from ..baselines.ridge import RidgePerDrug
from ..baselines.trees import GradientBoostingPerDrug
from ..model.config import ModelConfig
from ..model.predictor import NeuralPredictor
from ..model.presets import PRESETS, candidates_for
from .model_names import MODEL_NAMES, NEURAL_MODEL, TUNED_MODEL

BASELINES = {
    "drug_mean": DrugMean,
    "tissue_drug_mean": TissueDrugMean,
    "drug_mean_plus_cell_effect": DrugMeanPlusCellEffect,
    "ridge_per_drug": RidgePerDrug,
    "ridge_per_drug_drivers": lambda: RidgePerDrug(name="ridge_per_drug_drivers", drivers=True),
    "gradient_boosting_per_drug": GradientBoostingPerDrug,
}


def make_predictor(name: str, preset: str, tuned: dict | None = None):
    """A fresh, unfitted predictor for ``name``; ``tuned`` is the configuration of the tuned model for one fold."""
    if name in BASELINES:
        return BASELINES[name]()
    if name == NEURAL_MODEL:
        return NeuralPredictor(config=PRESETS[preset], candidates=candidates_for(preset))
    if name == TUNED_MODEL:
        if tuned is None:
            raise UserError(f"{TUNED_MODEL} needs tuning results: run `drugresponse tune` first, then evaluate --tuned.")
        config = ModelConfig.from_dict(tuned)
        return NeuralPredictor(config=config, candidates=(config,), name=TUNED_MODEL)
    raise UserError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}.")


# Models whose inputs hold no driver event (expression, tissue and the training responses only): their evaluation
# does not change when the event table does (tests/test_driver_overrides.py permutes the events to check it).
READS_NO_DRIVER_EVENTS = ("drug_mean", "tissue_drug_mean", "drug_mean_plus_cell_effect", "ridge_per_drug")


def is_baseline(name: str) -> bool:
    return name in BASELINES
