"""Training stage: data acquisition, the tidy bundle, splits, baselines, the PyTorch model, evaluation."""
