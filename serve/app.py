"""The Gradio app: pick a tissue, a cell line and drugs; see why; rank all drugs; upload a profile; the evaluation.

``build_app`` takes its dependencies; every handler is a line that calls the service, the explainer or a view.
Named endpoints for programs: /predict, /explain, /rank_drugs, /predict_profile, /profile_report, /predict_compound,
/model_info.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from . import arguments, compound_tab, figures, sample_tab, views
from .catalog import Catalog
from .compounds import CompoundModel, CompoundService
from .downloads import Downloads
from .explain import Explainer
from .messages import friendly
from .runtime import load_runtime
from .service import HELD_OUT, PredictionService
from .upload_route import middleware
from .uploads import APP, Limits

ALL_TISSUES = "all tissues"
DEFAULT_DRUGS = ("Dabrafenib", "Lapatinib", "Nutlin-3a (-)", "Cisplatin", "Docetaxel", "Selumetinib")
CONCURRENCY = 4
DELETE_CACHE = (600, 3600)  # seconds: (how often, how old)
READING = ("**How to read this.** ln IC50 is the natural log of the concentration (µM) that halves the cells' "
           "growth: lower means more sensitive. For a GDSC cell line the first number is the *held-out* prediction, "
           "made by a model that never saw that line (the honest one); the model you can download was trained on it "
           "and its in-sample number, beside it, sits closer to the measured value than a new tumour's would. The "
           "80% interval, the percentile and the call (sensitive < 20th percentile < intermediate < 80th < "
           "resistant) are calibrated on held-out predictions of the GDSC lines; a drug's most extreme responders are "
           "mostly predicted as sensitive, not as exceptional (Model tab).")


def build_app(service: PredictionService, explainer: Explainer, model_card: str = "",
              compounds: CompoundService | None = None) -> gr.Blocks:
    catalog = service.catalog
    first = catalog.names()[0]
    defaults = [d for d in DEFAULT_DRUGS if d in service.drugs] or service.drugs[:3]
    reference = views.held_out_reference(service)

    def cell_lines_for(tissue):
        names = catalog.names(None if tissue in (None, ALL_TISSUES) else tissue)
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    downloads = Downloads()
    # The API endpoints and the page's plots/CSVs need the same results: compute each once.
    ranking = functools.lru_cache(maxsize=64)(service.rank_drugs)
    def chosen(cell_line, drugs):
        return (arguments.name(cell_line, "the cell line"),
                arguments.names(drugs, "the drugs", len(service.drugs)))

    def predict(cell_line, drugs):
        return service.predict(*chosen(cell_line, drugs))  # Gradio renders polars directly

    def predict_plot(cell_line, drugs):
        cell_line, drugs = chosen(cell_line, drugs)
        return figures.intervals(service.predict(cell_line, drugs), HELD_OUT, reference, cell_line)

    def why_choices(drugs):
        chosen = list(drugs or []) or defaults
        return gr.Dropdown(choices=chosen, value=chosen[0])

    def why_gdsc(cell_line, drug):
        cell_line, drug = arguments.name(cell_line, "the cell line"), arguments.name(drug, "the drug")
        table, summary = views.explain_cell_line(service, explainer, cell_line, drug)
        held_out = float(service.held_out[catalog.row(cell_line), service.drug_columns([drug])[0]])
        return (figures.contributions(table, f"Why: {drug} for {cell_line}"),
                explainer.caption(drug, summary, held_out) + views.curated_text(summary["curated"]), table)

    @friendly
    def explain(source: str, drug: str, upload: gr.FileData | None = None) -> dict:
        """The 15 features that moved one drug's predicted ln IC50 most: for the GDSC cell line ``source`` or, with
        a profiles file, for the sample named ``source`` in it. Returns {"headers": [...], "data": [[...], ...]}."""
        source, drug = arguments.name(source, "the source (a cell line or sample)"), arguments.name(drug, "the drug")
        if upload is not None:
            table, summary = gate(upload, then=lambda _, report: views.explain_sample(service, explainer, report,
                                                                                      source, drug))
            explains, held_out = "the shipped model's prediction for the uploaded sample", None
        else:
            table, summary = views.explain_cell_line(service, explainer, source, drug)
            explains = ("the shipped model's in-sample prediction (it was trained on this GDSC line); the held-out "
                        "prediction, by a fold model that never saw the line, is given beside it and not explained")
            held_out = float(service.held_out[catalog.row(source), service.drug_columns([drug])[0]])
        return {"explains": explains, "curated_events": summary.get("curated", []),
                "prediction_ln_ic50": round(summary["prediction"], 4),
                "held_out_ln_ic50": None if held_out is None or not np.isfinite(held_out) else round(held_out, 4),
                "baseline_ln_ic50": round(summary["baseline"], 4),
                "headers": table.columns, "data": [list(row) for row in table.rows()]}

    def rank_drugs(cell_line):
        return ranking(arguments.name(cell_line, "the cell line"))

    @functools.lru_cache(maxsize=1024)  # one file per cell line, however often it is asked for (GDSC has ~1,000)
    def ranking_csv(cell_line):
        return downloads.csv(ranking(cell_line), f"ranking_{cell_line}", [service.provenance()], keep=True)

    def rank_extras(cell_line):
        cell_line = arguments.name(cell_line, "the cell line")
        top = ranking(cell_line).head(30).select("drug", "z vs typical").to_pandas()
        return top, ranking_csv(cell_line)

    def drug_view(drug):
        drug = arguments.name(drug, "the drug")
        return views.drug_features(catalog, drug), views.drug_summary(catalog, drug)

    def model_info() -> dict:
        """Model version, units, inputs read, training provenance, evaluation figures and the execution provider."""
        return service.model_info()

    histogram, residual_points = views.residuals(catalog)
    # Gradio keeps every upload and download in its cache: files older than an hour are deleted every ten minutes
    with gr.Blocks(title="drugresponse: drug sensitivity from genomic profiles", delete_cache=DELETE_CACHE) as app:
        gr.Markdown(
            "# drugresponse\nPredicted drug sensitivity (natural log of IC50, µM; lower = more sensitive) of cancer "
            f"cell lines from their genomic profile, for {views.drug_count(service)}, by a model trained on both GDSC "
            f"screens and evaluated on cell lines it never saw. It reads {views.inputs_read(service)}. **Research use only, not a clinical tool.** onnxruntime "
            f"provider: `{service.runtime.provider}`; model weights: "
            f"{service.runtime.metadata.get('precision', 'float32')}.")
        with gr.Row():
            tissue = gr.Dropdown([ALL_TISSUES, *catalog.tissues], value=ALL_TISSUES, label="Tissue")
            cell_line = gr.Dropdown(catalog.names(), value=first, label="Cell line (type to search)", filterable=True)
        with gr.Tabs():
            with gr.Tab("Predict"):
                drugs = gr.Dropdown(service.drugs, value=defaults, multiselect=True, label="Drugs",
                                    info="ln IC50: natural log of the concentration (µM) that halves growth; lower = "
                                         "more sensitive. GDSC2's drugs by name; GDSC1's (another assay, other "
                                         "drugs) as 'name [GDSC1]': a drug both screened has both answers")
                table = gr.Dataframe(label="Predictions", interactive=False)
                gr.Markdown(READING)
                interval_plot = gr.Plot(label="Predictions with 80% intervals against the GDSC lines")
                gr.Markdown("### Why this prediction\nThe features that moved this drug's prediction most, relative "
                            "to the average GDSC cell line. Blue bars push toward sensitive, red toward resistant.")
                why_drug = gr.Dropdown(defaults, value=defaults[0], label="Explain the prediction for",
                                       info="Contributions by integrated gradients (network) and exact weights (linear "
                                            "parts), against the average training cell line")
                why_plot = gr.Plot(label="Largest contributions")
                why_text = gr.Markdown()
                why_table = gr.Dataframe(label="Contributions (top 15)", interactive=False)
            with gr.Tab("Rank drugs"):
                rank_plot = gr.BarPlot(x="drug", y="z vs typical", sort="y", x_label_angle=-60, height=420,
                                       label="30 drugs this cell line is most sensitive to, relative to each drug's "
                                             "typical GDSC response (held-out predictions; z-score, negative = more "
                                             "sensitive)")
                rank_csv = gr.File(label="Full ranking (CSV)")
                rank_table = gr.Dataframe(label="All drugs, most to least sensitive", interactive=False)
            with gr.Tab("Your sample"):
                gate = sample_tab.build(service, explainer, downloads, reference, defaults)
            if compounds is not None:
                with gr.Tab("New compound"):
                    compound_tab.build(compounds, gate, downloads)
            with gr.Tab("Drug"):
                gr.Markdown("What the model has learned about one drug: the features with the largest mean "
                            "|contribution| over GDSC cell lines the models never saw (LCO folds), the drug's "
                            "targets where the pinned data names them, and how well the events that GDSC's published "
                            "analyses tie to it are recovered on held-out lines.")
                drug_pick = gr.Dropdown(sorted(service.drugs), value=defaults[0], label="Drug")
                drug_text = gr.Markdown(views.drug_summary(catalog, defaults[0]))
                drug_table = gr.Dataframe(views.drug_features(catalog, defaults[0]), interactive=False,
                                          label="Strongest features (held-out lines)")
                drug_plot = gr.ScatterPlot(views.actual_vs_predicted(catalog, defaults[0]), x="predicted",
                                           y="measured", label="This drug: actual vs predicted (held-out lines, LCO)")
            with gr.Tab("Model"):
                gr.Markdown("### How the model was evaluated\nFive-fold cross-validation; every model and baseline "
                            "on the same folds, each screen scored on its own (the network learnt both; "
                            "mlp_ensemble_one_screen is the same recipe trained on one screen). LCO holds out whole "
                            "cell lines, with their responses in both screens: the case of a new tumour. Pooled R² "
                            "and Pearson mostly measure how different drugs are from each other; per-drug Pearson "
                            "says whether the model ranks cell lines for a drug.")
                gr.Dataframe(views.metrics_table(catalog), label="Error metrics next to the baselines",
                             interactive=False)
                gr.Markdown(views.coverage_text(service.conformal))
                gr.Markdown(views.exceptional_text(service.exceptional))
                with gr.Row():
                    gr.Dataframe(views.coverage_by_tissue(service.conformal), interactive=False,
                                 label="80% interval coverage per tissue (held-out pairs)")
                    gr.Dataframe(views.coverage_by_drug(service.conformal), interactive=False,
                                 label="80% interval coverage per drug (held-out pairs), lowest first")
                with gr.Row():
                    gr.ScatterPlot(views.actual_vs_predicted(catalog), x="predicted", y="measured",
                                   label="Actual vs predicted, held-out cell lines (LCO, sample of 3,000 pairs)")
                    gr.BarPlot(histogram, x="residual", y="pairs", label="Residuals, measured - predicted (ln µM)")
                with gr.Row():
                    gr.ScatterPlot(residual_points, x="predicted", y="residual", label="Residuals vs predicted")
                    gr.LinePlot(views.loss_curves(catalog), x="epoch", y="loss", color="curve",
                                label="Training and validation loss per epoch (final model)")
                gr.Markdown(model_card)

        tissue.change(cell_lines_for, tissue, cell_line, api_visibility="private")
        gr.on([app.load, cell_line.change, drugs.change], friendly(predict), [cell_line, drugs], table,
              api_name="predict")
        gr.on([app.load, cell_line.change, drugs.change], friendly(predict_plot), [cell_line, drugs], interval_plot,
              api_visibility="private")
        drugs.change(why_choices, drugs, why_drug, api_visibility="private")
        gr.on([app.load, cell_line.change, why_drug.change], friendly(why_gdsc), [cell_line, why_drug],
              [why_plot, why_text, why_table], api_visibility="private")
        gr.api(explain, api_name="explain")
        gr.on([app.load, cell_line.change], friendly(rank_drugs), cell_line, rank_table, api_name="rank_drugs")
        gr.on([app.load, cell_line.change], friendly(rank_extras), cell_line, [rank_plot, rank_csv],
              api_visibility="private")
        drug_pick.change(friendly(drug_view), drug_pick, [drug_table, drug_text], api_visibility="private").then(
            lambda d: views.actual_vs_predicted(catalog, d), drug_pick, drug_plot, api_visibility="private")
        gr.api(model_info, api_name="model_info")
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    return app


def create(assets: Path, model: Path | None = None, provider: str = "auto", limits: Limits = APP) -> gr.Blocks:
    """Load the model, its explanation graph and the assets, and build the app; ``limits`` bound what an upload
    may cost (the public defaults, ``uploads.APP``, unless a self-hosted app chooses others)."""
    assets = Path(assets)
    runtime = load_runtime(model or assets / "model.onnx", provider)
    service = PredictionService(runtime, Catalog.load(assets), limits)
    explainer = Explainer(assets / "model_explain.onnx", runtime, service.catalog.profiles)
    card = (assets / "MODEL_CARD.md").read_text() if (assets / "MODEL_CARD.md").is_file() else ""
    print(f"model loaded: {len(service.drugs)} drugs, {len(runtime.genes):,} genes, {len(runtime.driver_names)} driver "
          f"events; onnxruntime provider {runtime.provider}", file=sys.stderr)
    compound_model = CompoundModel.load(assets)
    compounds = CompoundService(compound_model, service) if compound_model is not None else None
    if compounds is None:
        print(f"no compound model in {assets} (compound.onnx): the New compound tab is left out", file=sys.stderr)
    return build_app(service, explainer, card, compounds)


def launch(app: gr.Blocks, host: str, port: int, limits: Limits = APP, hourly_bytes: int | None = None, **kwargs):
    """Serve ``app``; a request body is held to what its headers declare, and an upload over the byte limit, beyond
    the bodies received at once or past the hour's ``hourly_bytes`` is refused before Gradio reads it
    (``upload_route``; by default the hour's budget is 80 uploads at the byte limit)."""
    gate = middleware(limits.max_bytes, hourly_bytes=hourly_bytes)
    if threading.current_thread() is threading.main_thread() and not kwargs.get("prevent_thread_lock"):
        # how Spaces, systemd and docker stop a server: exit normally, so the downloads folder is removed (atexit)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return app.launch(server_name=host, server_port=port, max_file_size=limits.max_bytes, theme=gr.themes.Soft(),
                      show_error=True, app_kwargs={"middleware": [gate]}, **kwargs)
