"""Where things live: the data cache, the committed assets, and the checkout's working folders."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

DATA_DIR_ENV = "DRUGRESPONSE_DATA_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT = PACKAGE_DIR.parent
IN_CHECKOUT = (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "train").is_dir()
# A wheel carries the assets inside the package (drugresponse/assets); a checkout keeps them at its root.
ASSETS_DIR = PACKAGE_DIR / "assets" if (PACKAGE_DIR / "assets" / "model.onnx").is_file() else CHECKOUT / "assets"
# Training and evaluation write beside the checkout when run from one, else under the current folder.
WORK_DIR = CHECKOUT if IN_CHECKOUT else Path.cwd()


def default_data_dir() -> Path:
    """The data folder: ``$DRUGRESPONSE_DATA_DIR`` if set, else a per-user cache folder."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path(user_cache_dir("drugresponse"))
