"""Fit a DrugResponseModel on the training pairs of a response matrix.

Each ensemble member holds out its own random 15% of the training cell lines (or pairs, for LPO)
as an inner validation set for early stopping; the ridge blend weight is chosen on member 0's inner
validation set. Nothing here ever sees a test fold.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from .bundle import MODALITIES
from .matrix import ResponseMatrix
from .model import DrugResponseModel, ModelConfig, MultiTaskNet, round_weights_to_half
from .preprocessing import FittedScaling, Preprocessor
from .ridge import fit_ridge_per_drug
from .splits import inner_split

INNER_FRACTION = 0.15
RIDGE_ALPHAS = (1e2, 3e2, 1e3, 3e3, 1e4, 3e4)
BLEND_WEIGHTS = tuple(np.round(np.arange(0.0, 1.01, 0.1), 2))


@dataclass
class FitHistory:
    """Per-member loss curves (masked MSE on drug-standardised ln IC50) and choices made on inner data."""

    train_loss: list[list[float]] = field(default_factory=list)
    val_loss: list[list[float]] = field(default_factory=list)
    best_epoch: list[int] = field(default_factory=list)
    ridge_alpha: float | None = None
    ridge_weight: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def standardise_targets(ln_ic50: np.ndarray, train_mask: np.ndarray):
    """Drug-wise z-scores from training pairs: (z with 0 where unmeasured, drug mean, drug sd)."""
    y = np.where(train_mask, ln_ic50, np.nan)
    with np.errstate(all="ignore"):
        drug_mean = np.nanmean(y, axis=0)
        drug_sd = np.nanstd(y, axis=0)
    drug_mean = np.nan_to_num(drug_mean, nan=float(np.nanmean(y))).astype(np.float32)
    drug_sd = np.maximum(np.nan_to_num(drug_sd, nan=1.0), 1e-2).astype(np.float32)
    z = np.nan_to_num((ln_ic50 - drug_mean) / drug_sd).astype(np.float32)
    return z, drug_mean, drug_sd


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (((pred - target) ** 2) * mask).sum() / mask.sum().clamp(min=1)


def _set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def train_member(features: torch.Tensor, z: torch.Tensor, train_mask: np.ndarray, val_mask: np.ndarray,
                 config: ModelConfig, seed: int, progress: tqdm | None = None):
    """Train one MLP with early stopping on ``val_mask``; return (net, train curve, val curve, best epoch)."""
    _set_seed(seed)
    net = MultiTaskNet(features.shape[1], z.shape[1], config.hidden, config.dropout, config.input_dropout)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    rows = np.nonzero(train_mask.any(axis=1))[0]
    val_rows = np.nonzero(val_mask.any(axis=1))[0]
    tm, vm = torch.from_numpy(train_mask.astype(np.float32)), torch.from_numpy(val_mask.astype(np.float32))
    generator = torch.Generator().manual_seed(seed)
    best = (float("inf"), 0, None)
    train_curve, val_curve = [], []
    for epoch in range(config.max_epochs):
        net.train()
        order = rows[torch.randperm(len(rows), generator=generator).numpy()]
        total, weight = 0.0, 0.0
        for start in range(0, len(order), config.batch_size):
            batch = torch.from_numpy(order[start:start + config.batch_size])
            loss = _masked_mse(net(features[batch]), z[batch], tm[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            n = float(tm[batch].sum())
            total, weight = total + loss.item() * n, weight + n
        net.eval()
        with torch.no_grad():
            val_loss = float(_masked_mse(net(features[val_rows]), z[val_rows], vm[val_rows]))
        train_curve.append(total / max(weight, 1.0))
        val_curve.append(val_loss)
        if progress is not None:
            progress.set_postfix(epoch=epoch + 1, train=f"{train_curve[-1]:.3f}", val=f"{val_loss:.3f}")
        if val_loss < best[0] - 1e-5:
            best = (val_loss, epoch, {k: v.clone() for k, v in net.state_dict().items()})
        elif epoch - best[1] >= config.patience:
            break
    net.load_state_dict(best[2])
    net.eval()
    return net, train_curve, val_curve, best[1] + 1


def _ridge_layer(weights: np.ndarray, intercepts: np.ndarray) -> torch.nn.Linear:
    layer = torch.nn.Linear(weights.shape[0], weights.shape[1])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weights.T.astype(np.float32)))
        layer.bias.copy_(torch.from_numpy(intercepts.astype(np.float32)))
    return layer


def fit_model(matrix: ResponseMatrix, train_mask: np.ndarray, config: ModelConfig, seed: int = 0,
              split: str = "lco", show_progress: bool = True) -> tuple[DrugResponseModel, FitHistory]:
    """Fit preprocessing, drug standardisation, the ensemble and the ridge blend on ``train_mask``."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    train_rows = np.nonzero(train_mask.any(axis=1))[0]
    scaling = FittedScaling.fit({m: matrix.profiles[m][train_rows] for m in MODALITIES},
                                config.n_expression_genes, config.n_copy_number_genes, config.min_mutated)
    preprocessor = Preprocessor(scaling)
    with torch.no_grad():
        features = preprocessor(*(torch.from_numpy(matrix.profiles[m]) for m in MODALITIES))
    z_np, drug_mean, drug_sd = standardise_targets(matrix.ln_ic50, train_mask)
    z = torch.from_numpy(z_np)

    history = FitHistory()
    members, member0_split = [], None
    progress = tqdm(range(config.ensemble), desc="training ensemble", unit="member", file=sys.stderr,
                    disable=not show_progress)
    for k in progress:
        inner_train, inner_val = inner_split(train_mask, split, INNER_FRACTION, seed * 1000 + k)
        net, train_curve, val_curve, best_epoch = train_member(features, z, inner_train, inner_val, config,
                                                               seed * 1000 + k, progress)
        members.append(net)
        history.train_loss.append(train_curve)
        history.val_loss.append(val_curve)
        history.best_epoch.append(best_epoch)
        if k == 0:
            member0_split = (inner_train, inner_val)
    progress.close()

    ridge, n_expr = None, len(scaling.genes["expression"])
    if config.blend_ridge:
        inner_train, inner_val = member0_split
        x = features[:, :n_expr].numpy()
        weights, intercepts = fit_ridge_per_drug(x, z_np, inner_train, RIDGE_ALPHAS)
        val_rows = np.nonzero(inner_val.any(axis=1))[0]
        vm = inner_val[val_rows]
        with torch.no_grad():
            net_val = members[0](features[val_rows]).numpy()
        target = z_np[val_rows]
        best = (float("inf"), None, 0.0)
        for a, alpha in enumerate(RIDGE_ALPHAS):
            ridge_val = x[val_rows] @ weights[a] + intercepts[a]
            for w in BLEND_WEIGHTS:
                err = float(np.mean((((1 - w) * net_val + w * ridge_val) - target)[vm] ** 2))
                if err < best[0]:
                    best = (err, alpha, float(w))
        history.ridge_alpha, history.ridge_weight = best[1], best[2]
        if history.ridge_weight > 0:
            weights, intercepts = fit_ridge_per_drug(x, z_np, train_mask, (history.ridge_alpha,))
            ridge = _ridge_layer(weights[0], intercepts[0])
    model = DrugResponseModel(preprocessor, members, torch.from_numpy(drug_mean.astype(np.float32)),
                              torch.from_numpy(drug_sd.astype(np.float32)), ridge, history.ridge_weight, n_expr)
    round_weights_to_half(model)  # the shipped ONNX file stores float16 weights: evaluate exactly those
    model.eval()
    return model, history


def predict(model: DrugResponseModel, matrix: ResponseMatrix, rows: np.ndarray) -> np.ndarray:
    """ln IC50 [len(rows), drugs] through the full model, raw profiles in."""
    with torch.no_grad():
        return model(*(torch.from_numpy(matrix.profiles[m][rows]) for m in MODALITIES)).numpy()
