"""The PyTorch model: raw profile in, ln IC50 (µM) for every drug out.

Owns its settings (``config``, ``presets``), the fitted preprocessing (``preprocessing``), the torch modules
(``modules``), the driver-event head (``driver_head``), the per-drug ridge solver it blends with
(``ridge_solver``), the fit procedure (``fit``), the predictor under the evaluation's contract (``predictor``),
per-feature contributions (``attributions``), checkpoints (``checkpoint``) and the final training
(``final_model``). Imports ``train.data``; never ``baselines`` or ``evaluation``.
"""
