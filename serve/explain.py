"""Why a prediction: the explanation graph (``model_explain.onnx``) read into tables a biologist can use.

The graph returns, for a profile and a drug, each feature's signed contribution to the predicted ln IC50
(negative: toward sensitive; positive: toward resistant) relative to the average training cell line,
and the value the model read for it. This module names the features in words, places each value among
the GDSC cell lines, and keeps the top contributions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl

from drugresponse.driver_events import kind as event_kind
from drugresponse.errors import UserError

from .runtime import session_options

TOP = 15
_REGION = re.compile(r"^(gain|loss)_cnaPANCAN(\d+)(?:_\((.*)\))?$")


def readable(feature: str) -> str:
    """``driver:BRAF_mut`` -> ``BRAF mutation``; ``expression:ERBB2`` -> ``ERBB2 expression``; ..."""
    kind, _, name = feature.partition(":")
    if kind == "expression":
        return f"{name} expression"
    if kind == "mutation":
        return f"{name} mutation (gene panel)"
    if kind == "copy_number":
        return f"{name} copy number"
    region = _REGION.match(name)
    if region:
        genes = region.group(3)
        where = f"the region with {genes.replace(',', ', ')}" if genes else f"recurrent region {region.group(2)}"
        return f"copy-number {region.group(1)} of {where}"
    if name == "MSI_FACTOR":
        return "microsatellite instability (MSI)"
    if event_kind(name) == "fusion":
        return f"{name[:-4]} fusion"
    return f"{name[:-4]} mutation" if name.endswith("_mut") else name


class Explainer:
    """Contributions for GDSC lines and uploaded profiles, placed among the GDSC lines' own values."""

    def __init__(self, path: Path, runtime, catalog_profiles: dict[str, np.ndarray]):
        if not Path(path).is_file():
            raise UserError(f"no explanation graph at {path}; re-run `drugresponse export`.")
        self.session = ort.InferenceSession(str(path), session_options(), providers=runtime.session.get_providers())
        meta = {k: json.loads(v) for k, v in self.session.get_modelmeta().custom_metadata_map.items()}
        self.features, self.method = meta["contribution_features"], meta["explanation"]
        self.runtime = runtime
        # the GDSC lines' values of every feature, for "where does this sample sit" (in chunks: the graph holds
        # every integration step of a batch in memory)
        n = len(catalog_profiles["expression"])
        values = [self._run({m: v[i:i + 64] for m, v in catalog_profiles.items()}, 0)[3] for i in range(0, n, 64)]
        self.reference = np.sort(np.concatenate(values), axis=0)

    def _run(self, profiles: dict[str, np.ndarray], drug: int):
        feed = self.runtime.feed(profiles)
        feed["drug"] = np.full(len(feed["expression"]), drug, dtype=np.int64)
        return self.session.run(None, feed)

    def _known(self, f: int) -> np.ndarray:
        column = self.reference[:, f]
        return column[np.isfinite(column)]

    def _percentile(self, f: int, value: float) -> float:
        """Share of GDSC lines (with a known value) below ``value``, in %."""
        column = self._known(f)
        return 100.0 * np.searchsorted(column, value) / len(column) if np.isfinite(value) and len(column) else np.nan

    def explain(self, profile: dict[str, np.ndarray], drug: int, top: int = TOP) -> tuple[pl.DataFrame, dict]:
        """The ``top`` largest contributions for one profile (arrays [1, features]) and one drug index."""
        contributions, prediction, baseline, values = self._run(profile, drug)
        contributions, values = contributions[0].astype(np.float64), values[0].astype(np.float64)
        order = np.argsort(-np.abs(contributions), kind="stable")[:top]
        rows = []
        for f in order:
            name = self.features[f]
            is_event = name.startswith("driver:") or name.startswith("mutation:")
            value = values[f]
            if is_event:
                shown = "unknown (not given)" if np.isnan(value) else ("carried" if value >= 0.5 else "not carried")
                where = f"carried by {np.mean(self._known(f) >= 0.5) * 100:.0f}% of GDSC lines"
            else:
                shown = f"{value:+.2f} SD from the GDSC mean"
                where = f"higher than {self._percentile(f, value):.0f}% of GDSC lines"
            rows.append({"feature": readable(name), "contribution (ln µM)": round(float(contributions[f]), 3),
                         "pushes toward": "sensitive" if contributions[f] < 0 else "resistant",
                         "sample's value": shown, "among GDSC lines": where, "model feature": name})
        summary = {"prediction": float(prediction[0]), "baseline": float(baseline[0]),
                   "sum_of_contributions": float(contributions.sum()), "shown": len(order),
                   "features": len(contributions)}
        return pl.DataFrame(rows), summary

    def caption(self, drug: str, summary: dict, held_out: float | None = None) -> str:
        """The explanation's caption; for a GDSC line (``held_out`` given) it names which of its two predictions is
        explained, so the in-sample number is never mistaken for the held-out one the table leads with."""
        which = ""
        if held_out is not None and np.isfinite(held_out):
            which = ("this explains the shipped model's in-sample prediction (the model was trained on this line; the "
                     "table's column \"ln IC50, model trained on this line\"), not the held-out prediction the table "
                     f"leads with ({held_out:.2f}, made by a fold model that never saw the line and is not shipped, so "
                     "its reasons cannot be shown). In-sample ")
        return (f"**{drug}**: {which}predicted ln IC50 {summary['prediction']:.2f} against {summary['baseline']:.2f} "
                f"for the average training cell line; the {summary['features']:,} contributions sum to "
                f"{summary['sum_of_contributions']:+.2f} (the top {summary['shown']} are shown). Method: "
                f"{self.method['method']}; baseline: {self.method['baseline']}. Contributions describe what this "
                "model does, not proven biology: a gene can stand in for a lineage or a correlated event.")

