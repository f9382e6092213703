"""Hugging Face Spaces entry point: serves the committed model in assets/ (no torch needed)."""

import os

from drugresponse.paths import ASSETS_DIR
from drugresponse.serve.app import create, launch

app = create(ASSETS_DIR, provider=os.environ.get("DRUGRESPONSE_PROVIDER", "auto"))

if __name__ == "__main__":
    launch(app, host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"), port=int(os.environ.get("PORT", 7860)))
