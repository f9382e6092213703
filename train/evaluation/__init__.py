"""Honest evaluation: every model and baseline on the same saved, seeded folds.

``model_names`` (the splits and model names the CLI offers; imports nothing heavy), ``metrics``, ``registry``
(which predictor a name builds), ``cross_validation`` (folds as tasks, records, out-of-fold predictions),
``results`` (writing and merging the result files), ``tuning`` (Optuna nested in the folds), ``ray_tasks``
(serial or Ray execution) and ``plots``. Imports ``data``, ``model`` and ``baselines``.
"""
