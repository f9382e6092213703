"""Serving stage: the Gradio app on onnxruntime. Reads only ``assets/``; imports neither torch nor train."""
