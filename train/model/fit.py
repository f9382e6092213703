"""The fit procedure: a DrugResponseModel fitted on the training pairs of a response matrix.

Each ensemble member is early-stopped on one part of an inner partition of the training cell lines (pairs
for LPO, tissue groups for LTO). Every training pair thus has an out-of-sample prediction from one member;
with the ridge's leave-one-out predictions, these choose the ridge penalty and blend weight, and their
residuals are what the driver head is fitted on. Nothing here ever sees a test fold.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ..data.bundle import MODALITIES, OMICS
from ..data.response_matrix import ResponseMatrix, drug_means
from ..data.splits import inner_partition
from .config import ModelConfig
from .driver_head import DriverHead
from .modules import DrugResponseModel, MultiTaskNet, round_weights_to_half
from .preprocessing import FittedScaling, Preprocessor
from .ridge_solver import fit_ridge_per_drug

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
    driver_events: int = 0  # events the driver head kept for at least one drug
    driver_pairs: int = 0  # (event, drug) effects it fitted

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def standardise_targets(ln_ic50: np.ndarray, train_mask: np.ndarray):
    """Drug-wise z-scores from training pairs: (z with 0 where unmeasured, drug mean, drug sd)."""
    y = np.where(train_mask, ln_ic50, np.nan)
    with np.errstate(all="ignore"):
        drug_sd = np.nanstd(y, axis=0)
    drug_mean = drug_means(ln_ic50, train_mask)
    drug_sd = np.maximum(np.nan_to_num(drug_sd, nan=1.0), 1e-2).astype(np.float32)
    z = np.nan_to_num((ln_ic50 - drug_mean) / drug_sd).astype(np.float32)
    return z, drug_mean, drug_sd


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (((pred - target) ** 2) * mask).sum() / mask.sum().clamp(min=1)


def _set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def train_member(features: torch.Tensor, z: torch.Tensor, train_mask: np.ndarray, val_mask: np.ndarray,
                 config: ModelConfig, seed: int, progress: tqdm | None = None, should_stop=None):
    """Train one MLP with early stopping on ``val_mask``; return (net, train curve, val curve, best epoch).

    ``should_stop(epoch, val_loss)``, if given, is asked after every epoch (a tuner's pruner); True stops early.
    """
    _set_seed(seed)
    net = MultiTaskNet(features.shape[1], z.shape[1], config.hidden, config.dropout, config.input_dropout)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    rows = np.nonzero(train_mask.any(axis=1))[0]
    val_rows = np.nonzero(val_mask.any(axis=1))[0]
    emphasis = 1.0 + config.extreme_weight * (z < config.extreme_z).float()  # 1 everywhere unless asked for
    tm, vm = torch.from_numpy(train_mask.astype(np.float32)) * emphasis, torch.from_numpy(val_mask.astype(np.float32)) * emphasis
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
        if should_stop is not None and should_stop(epoch, val_loss):
            break
        elif epoch - best[1] >= config.patience:
            break
    net.load_state_dict(best[2])
    net.eval()
    return net, train_curve, val_curve, best[1] + 1


def inner_features(matrix: ResponseMatrix, inner_train: np.ndarray, config: ModelConfig) -> torch.Tensor:
    """Every line's features, with the preprocessing fitted on the inner training lines only."""
    rows = np.nonzero(inner_train.any(axis=1))[0]
    scaling = FittedScaling.fit({m: matrix.profiles[m][rows] for m in OMICS},
                                config.n_expression_genes, config.n_copy_number_genes, config.min_mutated)
    with torch.no_grad():
        return Preprocessor(scaling)(*(torch.from_numpy(matrix.profiles[m]) for m in OMICS))


def score_on_inner_split(matrix: ResponseMatrix, inner_train: np.ndarray, inner_val: np.ndarray, config: ModelConfig,
                         seed: int, features: torch.Tensor | None = None, should_stop=None) -> tuple[list[float], int]:
    """How a candidate setting does on an inner split: one member trained on ``inner_train``, early-stopped on
    ``inner_val``; returns (validation loss per epoch, best epoch). ``features`` may be passed when several
    candidates share the same preprocessing settings; ``should_stop`` is a tuner's pruner (see ``train_member``)."""
    if features is None:
        features = inner_features(matrix, inner_train, config)
    z = torch.from_numpy(standardise_targets(matrix.ln_ic50, inner_train)[0])
    _, _, val_curve, best_epoch = train_member(features, z, inner_train, inner_val, config, seed,
                                               should_stop=should_stop)
    return val_curve, best_epoch


def _ridge_layer(weights: np.ndarray, intercepts: np.ndarray) -> torch.nn.Linear:
    layer = torch.nn.Linear(weights.shape[0], weights.shape[1])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weights.T.astype(np.float32)))
        layer.bias.copy_(torch.from_numpy(intercepts.astype(np.float32)))
    return layer


def fit_model(matrix: ResponseMatrix, train_mask: np.ndarray, config: ModelConfig, seed: int = 0,
              split: str = "lco", show_progress: bool = True) -> tuple[DrugResponseModel, FitHistory]:
    """Fit preprocessing, drug standardisation, the ensemble, the ridge blend and the driver head on ``train_mask``.

    The members are early-stopped on the parts of an inner partition of the training data (held out the way the
    outer split holds out), so every training pair has an out-of-sample prediction from the member that did not
    train on it; with the ridge's leave-one-out predictions these choose the blend and feed the driver head.
    """
    train_rows = np.nonzero(train_mask.any(axis=1))[0]
    scaling = FittedScaling.fit({m: matrix.profiles[m][train_rows] for m in OMICS},
                                config.n_expression_genes, config.n_copy_number_genes, config.min_mutated)
    preprocessor = Preprocessor(scaling)
    with torch.no_grad():
        features = preprocessor(*(torch.from_numpy(matrix.profiles[m]) for m in OMICS))
    z_np, drug_mean, drug_sd = standardise_targets(matrix.ln_ic50, train_mask)
    z = torch.from_numpy(z_np)

    history = FitHistory()
    members = []
    out_of_sample = np.full(z_np.shape, np.nan, dtype=np.float32)  # each training pair, by the member not fitted on it
    parts = inner_partition(train_mask, split, max(config.ensemble, 2), seed * 1000, matrix.tissues)
    progress = tqdm(range(config.ensemble), desc="training ensemble", unit="member", file=sys.stderr,
                    disable=not show_progress)
    for k in progress:
        inner_val = parts[k]
        net, train_curve, val_curve, best_epoch = train_member(features, z, train_mask & ~inner_val, inner_val,
                                                               config, seed * 1000 + k, progress)
        members.append(net)
        history.train_loss.append(train_curve)
        history.val_loss.append(val_curve)
        history.best_epoch.append(best_epoch)
        rows = np.nonzero(inner_val.any(axis=1))[0]
        with torch.no_grad():
            out_of_sample[rows] = np.where(inner_val[rows], net(features[rows]).numpy(), out_of_sample[rows])
    progress.close()

    ridge, n_expr = None, len(scaling.genes["expression"])
    x = features[:, :n_expr].numpy()
    fit = fit_ridge_per_drug(x[train_rows], z_np[train_rows], train_mask[train_rows], RIDGE_ALPHAS, loo=True)
    if split == "lto":  # a held-out line's tissue group must be unseen too, as it is for the members
        ridge_loo = _ridge_by_parts(x, z_np, train_mask, parts, train_rows)
    else:  # leave-one-out holds out a line (LCO) or a pair (LPO), as the members' parts do
        ridge_loo = z_np[train_rows] - fit.loo_residuals  # [alphas, rows, drugs] out-of-sample ridge predictions
    a, history.ridge_weight = _choose_blend(out_of_sample[train_rows], ridge_loo, z_np[train_rows],
                                            train_mask[train_rows], config.blend_ridge)
    history.ridge_alpha = RIDGE_ALPHAS[a]
    if history.ridge_weight > 0:
        ridge = _ridge_layer(fit.weights[a], fit.intercepts[a])
    head = None
    if config.drivers is not None:
        w = history.ridge_weight
        blended = (1 - w) * out_of_sample[train_rows] + w * ridge_loo[a]
        residuals = np.where(train_mask[train_rows], z_np[train_rows] - blended, np.nan)
        head = DriverHead(config.drivers).fit(matrix.profiles["drivers"][train_rows], residuals,
                                              matrix.tissues[train_rows])
        history.driver_events = len(head.events_)
        history.driver_pairs = int((head.weights_ != 0).sum())
    drivers = None if head is None else head.effects(drug_sd)  # fitted on drug-standardised residuals: to ln µM
    model = DrugResponseModel(preprocessor, members, torch.from_numpy(drug_mean.astype(np.float32)),
                              torch.from_numpy(drug_sd.astype(np.float32)), ridge, history.ridge_weight, n_expr,
                              drivers)
    round_weights_to_half(model)  # the shipped ONNX file stores float16 weights: evaluate exactly those
    model.eval()
    return model, history


def _ridge_by_parts(x: np.ndarray, z: np.ndarray, train_mask: np.ndarray, parts: list[np.ndarray],
                    train_rows: np.ndarray) -> np.ndarray:
    """Out-of-sample ridge predictions [alphas, train rows, drugs], each part predicted by a fit on the others."""
    out = np.full((len(RIDGE_ALPHAS), len(train_rows), z.shape[1]), np.nan)
    position = {row: i for i, row in enumerate(train_rows)}
    for part in parts:
        held = np.nonzero(part.any(axis=1))[0]
        fit_mask = train_mask & ~part
        rows = np.nonzero(fit_mask.any(axis=1))[0]
        fit = fit_ridge_per_drug(x[rows], z[rows], fit_mask[rows], RIDGE_ALPHAS)
        index = [position[r] for r in held]
        out[:, index] = np.einsum("rf,afd->ard", x[held].astype(np.float64), fit.weights) + fit.intercepts[:, None, :]
    return out


def _choose_blend(network: np.ndarray, ridge: np.ndarray, target: np.ndarray, mask: np.ndarray,
                  blend: bool) -> tuple[int, float]:
    """(penalty index, blend weight) minimising the out-of-sample error of (1 - w) network + w ridge over the
    training pairs; without a blend, the penalty the ridge alone prefers and weight 0."""
    best = (float("inf"), 0, 0.0)
    for a in range(ridge.shape[0]):
        for w in BLEND_WEIGHTS if blend else (1.0,):
            err = float(np.mean((((1 - w) * network + w * ridge[a]) - target)[mask] ** 2))
            if err < best[0]:
                best = (err, a, float(w))
    return best[1], best[2] if blend else 0.0


def predict(model: DrugResponseModel, matrix: ResponseMatrix, rows: np.ndarray, drivers: bool = True) -> np.ndarray:
    """ln IC50 [len(rows), drugs] through the full model (or without its driver head), raw profiles in."""
    with torch.no_grad():
        inputs = [torch.from_numpy(matrix.profiles[m][rows]) for m in MODALITIES]
        return (model(*inputs) if drivers else model.expression_part(*inputs[:3])).numpy()
