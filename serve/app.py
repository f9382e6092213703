"""The Gradio app: pick a tissue, a cell line and drugs; rank all drugs; upload a profile; see the evaluation.

``build_app`` takes its dependencies; every handler is a line that calls the service or a view.
Named endpoints for programs: /predict, /rank_drugs, /predict_profile, /model_info.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import gradio as gr
import polars as pl

from drugresponse.errors import UserError

from . import views
from .catalog import Catalog
from .runtime import load_runtime
from .service import PredictionService
from .uploads import MAX_BYTES, __doc__ as UPLOAD_FORMAT

ALL_TISSUES = "all tissues"
DEFAULT_DRUGS = ("Cisplatin", "Docetaxel", "Erlotinib", "Lapatinib", "Nutlin-3a (-)", "Selumetinib")
CONCURRENCY = 4


def _friendly(fn):
    """Turn a UserError into a message in the page (and for API clients) instead of a stack trace."""
    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except UserError as exc:
            raise gr.Error(str(exc)) from None
    return wrapper


def _csv_file(table: pl.DataFrame, stem: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="drugresponse-"))
    path = folder / f"{stem}.csv"
    table.write_csv(path)
    return str(path)


def _upload_path(upload) -> str:
    if upload is None:
        raise UserError("no file uploaded; choose a CSV of sample profiles.")
    return upload if isinstance(upload, str) else getattr(upload, "path", None) or upload.name


def _read_upload(path: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise UserError(f"the file is {size / 1e6:.1f} MB; at most {MAX_BYTES / 1e6:.0f} MB is accepted.")
    return Path(path).read_bytes()


def build_app(service: PredictionService, model_card: str = "") -> gr.Blocks:
    catalog = service.catalog
    first = catalog.names()[0]
    defaults = [d for d in DEFAULT_DRUGS if d in service.drugs] or service.drugs[:3]
    oof_drugs = sorted(service.drugs)

    def cell_lines_for(tissue):
        names = catalog.names(None if tissue in (None, ALL_TISSUES) else tissue)
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    def predict(cell_line, drugs):
        return service.predict(cell_line, list(drugs or []))  # Gradio renders polars directly

    # The API endpoint and the page's plot/CSV both need these results: compute each once.
    ranking = functools.lru_cache(maxsize=64)(service.rank_drugs)
    upload_result = functools.lru_cache(maxsize=8)(lambda path: service.predict_profile(_read_upload(path)))

    def rank_drugs(cell_line):
        return ranking(cell_line)

    def rank_extras(cell_line):
        table = ranking(cell_line)
        top = table.head(30).select("drug", "z vs typical").to_pandas()
        return top, _csv_file(table, f"ranking_{cell_line}")

    def predict_profile(upload):
        return upload_result(_upload_path(upload))[0]

    def profile_extras(upload):
        table, report = upload_result(_upload_path(upload))
        return report.summary(), _csv_file(table, "predictions_uploaded_samples")

    def model_info() -> dict:
        """Model version, units, training provenance, evaluation figures and the execution provider."""
        return service.model_info()

    histogram, residual_points = views.residuals(catalog)
    with gr.Blocks(title="drugresponse: drug sensitivity from genomic profiles") as app:
        gr.Markdown(
            "# drugresponse\nPredicted drug sensitivity (natural log of IC50, µM; lower = more sensitive) of cancer "
            f"cell lines from their genomic profile, by a model trained on GDSC2 and evaluated on cell lines it never "
            f"saw. **Research use only, not a clinical tool.** onnxruntime provider: `{service.runtime.provider}`; "
            f"model weights: {service.runtime.metadata.get('precision', 'float32')}.")
        with gr.Row():
            tissue = gr.Dropdown([ALL_TISSUES, *catalog.tissues], value=ALL_TISSUES, label="Tissue")
            cell_line = gr.Dropdown(catalog.names(), value=first, label="Cell line (type to search)", filterable=True)
        with gr.Tabs():
            with gr.Tab("Predict"):
                drugs = gr.Dropdown(service.drugs, value=defaults, multiselect=True, label="Drugs")
                table = gr.Dataframe(label="Predictions", interactive=False)
                gr.Markdown("Percentile: share of GDSC cell lines predicted more sensitive to that drug. Interval: "
                            "split-conformal, from the drug's held-out (LCO) residuals; see the Model tab for its "
                            "measured coverage. The GDSC cell lines listed here were in the model's training "
                            "data, so their predictions sit closer to the measured values than a new sample's "
                            "would: the Model tab shows accuracy on cell lines the model never saw.")
            with gr.Tab("Rank drugs"):
                rank_plot = gr.BarPlot(x="drug", y="z vs typical", sort="y", x_label_angle=-60, height=420,
                                       label="30 drugs this cell line is most sensitive to, relative to each drug's "
                                             "typical GDSC response (z-score; negative = more sensitive)")
                rank_csv = gr.File(label="Full ranking (CSV)")
                rank_table = gr.Dataframe(label="All drugs, most to least sensitive", interactive=False)
            with gr.Tab("Your sample"):
                gr.Markdown("Upload your own samples' profiles.\n\n" + UPLOAD_FORMAT.split("\n\n", 1)[1] +
                            "\nExample files: `examples/profile_wide.csv`, `examples/profile_long.csv`.")
                upload = gr.File(label="Profiles (CSV)", file_types=[".csv"])
                run_upload = gr.Button("Predict for uploaded samples", variant="primary")
                upload_report = gr.Markdown()
                upload_csv = gr.File(label="Predictions (CSV)")
                upload_table = gr.Dataframe(label="Predictions for every drug", interactive=False)
            with gr.Tab("Model"):
                gr.Markdown("### How the model was evaluated\nFive-fold cross-validation; every model and baseline "
                            "on the same folds. LCO holds out whole cell lines: the case of a new tumour.")
                gr.Dataframe(views.metrics_table(catalog), label="Error metrics next to the baselines",
                             interactive=False)
                coverage = service.conformal.get("empirical_coverage")
                gr.Markdown(f"80% split-conformal intervals covered **{coverage:.1%}** of held-out pairs "
                            "(cell lines not used to calibrate them)." if coverage is not None else "")
                with gr.Row():
                    gr.ScatterPlot(views.actual_vs_predicted(catalog), x="predicted", y="measured",
                                   label="Actual vs predicted, held-out cell lines (LCO, sample of 3,000 pairs)")
                    gr.BarPlot(histogram, x="residual", y="pairs", label="Residuals, measured - predicted (ln µM)")
                with gr.Row():
                    gr.ScatterPlot(residual_points, x="predicted", y="residual", label="Residuals vs predicted")
                    gr.LinePlot(views.loss_curves(catalog), x="epoch", y="loss", color="curve",
                                label="Training and validation loss per epoch (final model)")
                drug_pick = gr.Dropdown(oof_drugs, value=defaults[0], label="Drug")
                drug_text = gr.Markdown(views.drug_pearson(catalog, defaults[0]))
                drug_plot = gr.ScatterPlot(views.actual_vs_predicted(catalog, defaults[0]), x="predicted",
                                           y="measured", label="This drug: actual vs predicted (LCO)")
                gr.Markdown(model_card)

        tissue.change(cell_lines_for, tissue, cell_line, api_visibility="private")
        gr.on([app.load, cell_line.change, drugs.change], _friendly(predict), [cell_line, drugs], table,
              api_name="predict")
        gr.on([app.load, cell_line.change], _friendly(rank_drugs), cell_line, rank_table, api_name="rank_drugs")
        gr.on([app.load, cell_line.change], _friendly(rank_extras), cell_line, [rank_plot, rank_csv],
              api_visibility="private")
        run_upload.click(_friendly(predict_profile), upload, upload_table, api_name="predict_profile").then(
            _friendly(profile_extras), upload, [upload_report, upload_csv], api_visibility="private")
        drug_pick.change(lambda d: (views.drug_pearson(catalog, d), views.actual_vs_predicted(catalog, d)),
                         drug_pick, [drug_text, drug_plot], api_visibility="private")
        gr.api(model_info, api_name="model_info")
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    return app


def create(assets: Path, model: Path | None = None, provider: str = "auto") -> gr.Blocks:
    """Load the model and assets and build the app."""
    runtime = load_runtime(model or assets / "model.onnx", provider)
    service = PredictionService(runtime, Catalog.load(assets))
    card = (assets / "MODEL_CARD.md").read_text() if (assets / "MODEL_CARD.md").is_file() else ""
    print(f"model loaded: {len(service.drugs)} drugs, {len(runtime.genes):,} genes, "
          f"onnxruntime provider {runtime.provider}", file=sys.stderr)
    return build_app(service, card)


def launch(app: gr.Blocks, host: str, port: int, **kwargs):
    return app.launch(server_name=host, server_port=port, max_file_size=MAX_BYTES, theme=gr.themes.Soft(),
                      show_error=True, **kwargs)
