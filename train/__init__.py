"""Training stage (installed as ``drugresponse.train``): GDSC data in, a trained checkpoint and honest figures out.

Sub-packages, in the order imports may run (a package imports only those before it, never back):

- ``data``: the pinned source files, the tidy bundle, cell-line name matching, the response matrix and the ways
  pairs are held out (outer folds and inner splits);
- ``model``: the fitted preprocessing, the torch modules, the driver-event head, the fit procedure, the predictor,
  attributions, presets and checkpoints;
- ``baselines``: the naive, ridge and tree baselines (they reuse the model's ridge solver and driver head);
- ``evaluation``: metrics, cross-validation, tuning, tasks on Ray, plots;
- ``compounds``: the structure model for new compounds and its leave-drug-out evaluation (no torch: closed-form);
- ``seed_study``: the reproduction of the seed study's pipeline, beside the rest (it reads data and evaluation).

Nothing here is imported by ``serve/``; ``export/`` reads ``data`` and ``model``.
"""
