"""The baselines every model is compared with, under the same predictor contract as the model.

``naive``: drug mean, tissue-drug mean, drug mean plus cell-line effect; ``ridge``: a per-drug ridge on
expression, optionally with the model's driver head; ``trees``: per-drug gradient-boosted trees. Imports
``train.data`` and the model's building blocks (``model.ridge_solver``, ``model.driver_head``); never
``evaluation``.
"""
