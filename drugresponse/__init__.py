"""drugresponse: predict cancer cell-line drug sensitivity (ln IC50, µM) from genomic profiles.

The stages live in sub-packages: ``drugresponse.train`` (data bundle, models, evaluation),
``drugresponse.export`` (one self-contained ONNX file) and ``drugresponse.serve`` (the Gradio app,
onnxruntime only). Importing this package imports none of them.
"""

__version__ = "0.1.0"
