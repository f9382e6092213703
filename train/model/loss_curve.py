"""The training and validation loss per epoch, as a PNG (the loss-curve plot the seed study showed).

Also the one place a matplotlib figure is written to disk (``save_figure``): the evaluation plots use it too.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from drugresponse.atomic_files import atomic_path  # noqa: E402

DPI = 110


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG to ``path`` whole or not at all, and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def loss_curve_figure(train_loss: list[float], val_loss: list[float], title: str,
                      val_label: str = "validation (held-out cell lines)",
                      ylabel: str = "masked MSE (drug-standardised)"):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="training")
    ax.plot(epochs, val_loss, label=val_label)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend()
    return fig


def loss_curve_plot(train_loss: list[float], val_loss: list[float], title: str, path: Path, **labels) -> Path:
    """Training and validation loss per epoch, written to ``path``."""
    return save_figure(loss_curve_figure(train_loss, val_loss, title, **labels), path)


def loss_curve_png(train_loss: list[float], val_loss: list[float], title: str) -> bytes:
    """The same figure as PNG bytes (for a file inside a checkpoint folder)."""
    fig = loss_curve_figure(train_loss, val_loss, title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
