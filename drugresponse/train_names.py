"""Names the CLI offers before any stage is imported (kept here so `--help` never imports torch)."""

SPLITS = ("lpo", "lco", "lto")
MODEL_NAMES = ("drug_mean", "tissue_drug_mean", "drug_mean_plus_cell_effect", "ridge_per_drug", "ridge_per_drug_drivers",
               "gradient_boosting_per_drug", "mlp_ensemble")
TUNED_MODEL = "mlp_ensemble_tuned"  # evaluated with `evaluate --tuned`, after `drugresponse tune`
