"""Names the CLI offers before any stage is imported (kept here so `--help` never imports torch)."""

SPLITS = ("lpo", "lco", "lto")
MODEL_NAMES = ("drug_mean", "tissue_drug_mean", "drug_mean_plus_cell_effect", "ridge_per_drug", "mlp_ensemble")
