"""Hugging Face Spaces entry point: serves the committed model in assets/ (no torch needed)."""

import os

from drugresponse.paths import ASSETS_DIR
from drugresponse.serve.app import create, launch

# The app reads uploads in a spawned worker process, which imports this file again as "__mp_main__": only the
# Space's own process (or an importer such as `gradio app.py`) builds the app.
if __name__ != "__mp_main__":
    app = create(ASSETS_DIR, provider=os.environ.get("DRUGRESPONSE_PROVIDER", "auto"))

if __name__ == "__main__":
    launch(app, host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"), port=int(os.environ.get("PORT", 7860)))
