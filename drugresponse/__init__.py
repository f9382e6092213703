"""drugresponse: predict cancer cell-line drug sensitivity (ln IC50, µM) from genomic profiles.

The stages live in sub-packages: ``drugresponse.train`` (data bundle, models, evaluation),
``drugresponse.export`` (one self-contained ONNX file) and ``drugresponse.serve`` (the Gradio app,
onnxruntime only). Importing this package imports none of them.
"""

from pathlib import Path

__version__ = "0.2.0"

# In a source checkout the stage folders sit beside this one (train/, export/, serve/, assets/) and an install
# maps them to drugresponse.<stage>. When this folder is imported straight from the checkout — `python app.py` on
# a Space, where the checkout's drugresponse/ shadows the installed package — look for the stages there too.
_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "serve" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))  # noqa: F821 (a package's __path__)
