"""Export stage: a trained checkpoint -> ONE self-contained ONNX file plus the assets the app reads."""
