"""The driver-event head: per-drug effects of the cancer events that decide targeted-drug response.

Expression models see BRAF-mutant melanoma or BCR-ABL leukaemia only through their expression correlates,
and shrink what they see (a per-drug ridge recovers under half of the BRAF effect on dabrafenib). Rare,
binary events need the opposite treatment from 2,000 noisy genes: few of them, chosen per drug, lightly
penalised. So, for each drug, on the training cell lines only:

1. take the leave-one-out residuals of the expression ridge (what expression does not predict for a line
   it has not seen);
2. screen every event carried by at least ``min_carriers`` lines (and absent from as many) with Welch's
   t-test of those residuals, carriers against the rest, as GDSC's own ANOVA screen does; keep events
   with p < ``max_p``, at most ``max_events_per_drug`` of the strongest;
3. fit a ridge with penalty ``penalty`` (in pseudo-lines) of the residuals on the kept events, centred on
   their training carrier frequency.

With ``within_tissue`` (the shipped setting), tissue is a covariate of steps 2 and 3, as in GDSC's ANOVA: residuals
and events are centred within each tissue, the screen is the t-test of the within-tissue slope and the ridge is fitted
on the centred values. An event learnt across tissues is otherwise partly a lineage marker, which costs accuracy on
organ systems the model never saw (LTO).

At prediction an event is centred on its training carrier frequency (over all tissues), and an unknown event (NaN)
is imputed with that frequency, so it contributes nothing: unknown never reads as wild type. The head is added to the
expression model's prediction; its contribution per event is exact and signed (``attributions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from .modules import DriverEffects


@dataclass(frozen=True)
class HeadConfig:
    min_carriers: int = 5
    max_p: float = 1e-3
    penalty: float = 10.0
    max_events_per_drug: int = 20
    # Tissue as a covariate, as GDSC's ANOVA screens events: residuals and events are both centred within each tissue
    # before the screen (a t-test of the within-tissue slope) and the fit, so an event that only marks a lineage
    # explains nothing and a real event's effect is its contrast inside tissues. False: across tissues, as first
    # shipped.
    within_tissue: bool = False


def _tissue_centred(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``values`` [lines, k] minus each group's column means (the tissue fixed effects, by Frisch-Waugh-Lovell)."""
    labels, index = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(labels), values.shape[1]))
    np.add.at(sums, index, values)
    counts = np.bincount(index, minlength=len(labels))[:, None]
    return values - (sums / counts)[index]


def tissue_screen(residuals: np.ndarray, events: np.ndarray, tissues: np.ndarray, min_carriers: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values and slopes [events, drugs] of residuals on each event with tissue as a covariate (both
    centred within tissue; the t-test of the slope with n - tissues - 1 degrees of freedom). An unknown event is
    imputed with the event's mean over the drug's lines before centring (a small weight, not none); an event with
    fewer than ``min_carriers`` known carriers or non-carriers among a drug's lines (counted over all tissues), or
    that does not vary within any tissue, gets p = 1."""
    n_events, n_drugs = events.shape[1], residuals.shape[1]
    p_values, effects = np.ones((n_events, n_drugs)), np.zeros((n_events, n_drugs))
    known = ~np.isnan(events)
    for j in range(n_drugs):
        measured = ~np.isnan(residuals[:, j])
        if measured.sum() < 3:
            continue
        e, k, t = events[measured], known[measured], tissues[measured]
        carriers, others = np.where(k, e, 0).sum(axis=0), np.where(k, 1 - e, 0).sum(axis=0)
        filled = np.where(k, e, np.nanmean(np.where(k, e, np.nan), axis=0)[None, :])
        filled = np.nan_to_num(filled)
        x = _tissue_centred(filled, t)
        y = _tissue_centred(residuals[measured, j][:, None].astype(np.float64), t)[:, 0]
        sxx, sxy, syy = (x * x).sum(axis=0), x.T @ y, float(y @ y)
        dof = int(measured.sum()) - len(np.unique(t)) - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = sxy / sxx
            sigma2 = np.maximum(syy - slope * sxy, 0) / max(dof, 1)
            tstat = slope / np.sqrt(sigma2 / sxx)
            p = 2 * stats.t.sf(np.abs(tstat), max(dof, 1))
        testable = (carriers >= min_carriers) & (others >= min_carriers) & (sxx > 1e-9) & np.isfinite(p) & (dof > 0)
        p_values[testable, j] = p[testable]
        effects[testable, j] = slope[testable]
    return p_values, effects


def welch_screen(residuals: np.ndarray, events: np.ndarray, min_carriers: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Welch t-test p-values and mean differences (carriers - rest), each [events, drugs].

    ``residuals`` [lines, drugs] (NaN = not measured), ``events`` [lines, events] (0/1, NaN = unknown). An
    event with fewer than ``min_carriers`` carriers or non-carriers among a drug's lines gets p = 1.
    """
    n_events, n_drugs = events.shape[1], residuals.shape[1]
    p_values, effects = np.ones((n_events, n_drugs)), np.zeros((n_events, n_drugs))
    known = ~np.isnan(events)
    carrier = np.where(known, events, 0.0)
    for j in range(n_drugs):
        measured = ~np.isnan(residuals[:, j])
        r, k, c = residuals[measured, j], known[measured].astype(float), carrier[measured]
        n1, n0 = c.sum(axis=0), (k - c).sum(axis=0)
        s1, q1 = c.T @ r, c.T @ (r * r)
        s0, q0 = k.T @ r - s1, k.T @ (r * r) - q1
        with np.errstate(divide="ignore", invalid="ignore"):
            m1, m0 = s1 / n1, s0 / n0
            v1 = np.maximum(q1 - n1 * m1 ** 2, 0) / (n1 - 1)
            v0 = np.maximum(q0 - n0 * m0 ** 2, 0) / (n0 - 1)
            a, b = v1 / n1, v0 / n0
            t = (m1 - m0) / np.sqrt(a + b)
            df = (a + b) ** 2 / (a ** 2 / (n1 - 1) + b ** 2 / (n0 - 1))  # Welch-Satterthwaite
            p = 2 * stats.t.sf(np.abs(t), df)
        testable = (n1 >= min_carriers) & (n0 >= min_carriers) & np.isfinite(p)
        p_values[testable, j] = p[testable]
        effects[testable, j] = (m1 - m0)[testable]
    return p_values, effects


@dataclass
class DriverHead:
    """Per-drug linear effects of selected driver events, fitted on expression-model residuals."""

    config: HeadConfig = HeadConfig()
    events_: np.ndarray | None = None  # indices (into the drivers input) of events kept for any drug
    frequency_: np.ndarray | None = None  # training carrier frequency of those events (centring and imputation)
    weights_: np.ndarray | None = None  # [kept events, drugs], in the residuals' unit; 0 where not selected
    p_values_: np.ndarray | None = None  # [kept events, drugs] screen p-values on the training lines

    def fit(self, events: np.ndarray, residuals: np.ndarray, tissues: np.ndarray | None = None) -> "DriverHead":
        """``events`` [training lines, all events], ``residuals`` [training lines, drugs] (NaN = not measured),
        ``tissues`` [training lines] (needed when the head works within tissue)."""
        cfg = self.config
        if cfg.within_tissue:
            if tissues is None:
                raise ValueError("a within-tissue driver head needs the training lines' tissues")
            p_values, _ = tissue_screen(residuals, events, tissues, cfg.min_carriers)
        else:
            p_values, _ = welch_screen(residuals, events, cfg.min_carriers)
        selected = p_values < cfg.max_p
        for j in np.nonzero(selected.sum(axis=0) > cfg.max_events_per_drug)[0]:
            strongest = np.argsort(p_values[:, j], kind="stable")[: cfg.max_events_per_drug]
            selected[:, j] = False
            selected[strongest, j] = True
        self.events_ = np.nonzero(selected.any(axis=1))[0].astype(np.int64)
        frequency = np.nanmean(events[:, self.events_], axis=0) if len(self.events_) else np.zeros(0)
        self.frequency_ = np.nan_to_num(frequency).astype(np.float32)
        centred = self.centred(events)
        selected = selected[self.events_]
        self.weights_ = np.zeros(selected.shape, dtype=np.float32)
        for j in np.nonzero(selected.any(axis=0))[0]:
            lines = ~np.isnan(residuals[:, j])
            kept = np.nonzero(selected[:, j])[0]
            z = centred[lines][:, kept].astype(np.float64)
            r = residuals[lines, j] - residuals[lines, j].mean()
            if cfg.within_tissue:  # the tissue fixed effects out of both sides: the effect is the within-tissue one
                z, r = _tissue_centred(z, tissues[lines]), _tissue_centred(r[:, None], tissues[lines])[:, 0]
            self.weights_[kept, j] = np.linalg.solve(z.T @ z + cfg.penalty * np.eye(len(kept)), z.T @ r)
        self.p_values_ = p_values[self.events_].astype(np.float32)
        return self

    def effects(self, scale: np.ndarray | None = None) -> DriverEffects:
        """The fitted head as the model's torch module; ``scale`` [drugs] converts the weights from the residuals'
        unit (e.g. drug-standardised) to ln µM."""
        weights = self.weights_ if scale is None else self.weights_ * scale[None, :]
        return DriverEffects(torch.from_numpy(self.events_), torch.from_numpy(self.frequency_), torch.from_numpy(weights))

    def centred(self, events: np.ndarray) -> np.ndarray:
        """Kept events centred on the training frequency, unknown (NaN) -> 0: [lines, kept events]. Computed by the
        model's own module, so fitting, the ridge baseline and the exported graph centre events one way."""
        module = DriverEffects(torch.from_numpy(self.events_), torch.from_numpy(self.frequency_), torch.zeros(0))
        with torch.no_grad():
            return module.centred(torch.from_numpy(np.ascontiguousarray(events, dtype=np.float32))).numpy()

    def contribution(self, events: np.ndarray) -> np.ndarray:
        """The head's additive prediction [lines, drugs] for raw events (0/1, NaN = unknown)."""
        return self.centred(events) @ self.weights_
