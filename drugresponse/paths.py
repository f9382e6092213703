"""Where things live: the data cache and the committed assets."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

DATA_DIR_ENV = "DRUGRESPONSE_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"


def default_data_dir() -> Path:
    """The data folder: ``$DRUGRESPONSE_DATA_DIR`` if set, else a per-user cache folder."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path(user_cache_dir("drugresponse"))
