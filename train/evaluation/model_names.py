"""The splits, models and ablations the evaluation reports, by name: one list for the tables, the records and the
CLI (which offers them before any model code, and so torch, is imported)."""

from ..data.splits import SPLITS  # noqa: F401 (re-exported for the CLI)

NEURAL_MODEL = "mlp_ensemble"
MODEL_NAMES = ("drug_mean", "tissue_drug_mean", "drug_mean_plus_cell_effect", "ridge_per_drug", "ridge_per_drug_drivers",
               "gradient_boosting_per_drug", NEURAL_MODEL)  # the order tables show them in
TUNED_MODEL = "mlp_ensemble_tuned"  # evaluated with `evaluate --tuned`, after `drugresponse tune`
ONE_SCREEN_MODEL = "mlp_ensemble_one_screen"  # the network trained on one screen alone, beside the both-screens one
ABLATION_SUFFIX = "_without_drivers"  # the neural model's own prediction with its driver head left out
