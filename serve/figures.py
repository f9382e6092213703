"""The app's two explanatory figures (plotly, shown with ``gr.Plot``): prediction intervals against the GDSC
distribution, and a prediction's largest feature contributions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from .service import HIGH, LOW

SENSITIVE_COLOUR, RESISTANT_COLOUR = "#2b8cbe", "#e34a33"


def intervals(table: pl.DataFrame, value: str, reference: dict[str, np.ndarray], sample: str) -> go.Figure:
    """Each chosen drug: the GDSC lines' held-out predictions (box) and this sample's prediction with its 80%
    interval (error bar). ``value`` is the table's prediction column."""
    figure = go.Figure()
    for drug in table["drug"]:
        figure.add_trace(go.Box(x=reference[drug], y=[drug] * len(reference[drug]), name=drug, orientation="h",
                                marker_color="#bbbbbb", boxpoints=False, showlegend=False, hoverinfo="skip"))
    if table.height:
        point = table[value].to_numpy()
        figure.add_trace(go.Scatter(
            x=point, y=table["drug"].to_list(), mode="markers", name=sample, marker={"size": 11, "color": "#222222"},
            error_x={"type": "data", "symmetric": False, "array": table[HIGH].to_numpy() - point,
                     "arrayminus": point - table[LOW].to_numpy()},
            customdata=table.select("IC50 (µM)", "percentile among GDSC lines (held out)").to_numpy(),
            hovertemplate="%{y}: ln IC50 %{x:.2f} (IC50 %{customdata[0]} µM), %{customdata[1]:.0f}th percentile"
                          "<extra></extra>"))
    figure.update_layout(
        title=f"{sample}: predictions with 80% intervals, against GDSC cell lines (boxes: held-out predictions)",
        xaxis_title="ln IC50 (µM); left = more sensitive", height=140 + 45 * max(table.height, 1),
        margin={"l": 10, "r": 10, "t": 50, "b": 40}, boxmode="overlay")
    return figure


def contributions(table: pl.DataFrame, title: str) -> go.Figure:
    """Horizontal bars, largest |contribution| on top; blue toward sensitive, red toward resistant."""
    ordered = table.reverse()  # plotly draws the first category at the bottom
    values = ordered["contribution (ln µM)"].to_numpy()
    labels = [f"{f} ({v})" for f, v in zip(ordered["feature"], ordered["sample's value"])]
    figure = go.Figure(go.Bar(
        x=values, y=labels, orientation="h",
        marker_color=[SENSITIVE_COLOUR if v < 0 else RESISTANT_COLOUR for v in values],
        customdata=ordered.select("among GDSC lines", "pushes toward").to_numpy(),
        hovertemplate="%{y}<br>%{customdata[0]}<br>contribution %{x:+.3f} ln µM, toward %{customdata[1]}"
                      "<extra></extra>"))
    figure.update_layout(title=title, xaxis_title="contribution to ln IC50 (µM): ← toward sensitive | toward "
                                                  "resistant →", height=160 + 28 * max(table.height, 1),
                         margin={"l": 10, "r": 10, "t": 50, "b": 40})
    return figure
