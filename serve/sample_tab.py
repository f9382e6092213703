"""The "Your sample" tab and its endpoints: upload a lab's files, read the report, get predictions in context.

Endpoints: ``/predict_profile`` (expression file, optional mutation file, optional tissue -> one row per sample and
drug) and ``/profile_report`` (the same inputs -> what reading did, each sample's unknown driver events that would
move its predictions, and the GDSC lines most like it). Files are opened only if they are uploads
(``uploads.access``), read one at a time in a lower-priority worker process (``upload_worker``), and cached by path for the page's
follow-up views.
"""

from __future__ import annotations

import functools
import threading
import time

import gradio as gr
import polars as pl

from drugresponse.errors import UserError

from . import arguments, figures, views
from .downloads import Downloads
from .messages import friendly
from .service import PREDICTED, PredictionService
from .upload_worker import UploadReader
from .uploads import FILE_TYPES, FORMAT_HELP
from .uploads.access import uploaded_file

NO_TISSUE = "not given"
REST = 2.0  # after an upload's turn, the next waits this many times as long
TURN = 1.0  # seconds: uploads start at most once per TURN (answering one costs the app's process ~0.1-0.5 s)
# uploads allowed to wait for their turn; beyond this they are refused at once, so waiting uploads never fill the
# app's queue (64 places, shared by every endpoint) and a flood of them cannot lock other visitors out
MAX_WAITING = 8
UPLOAD_SLOTS = 2 * MAX_WAITING  # Gradio workers for upload events: those waiting, one reading, the rest refusing
BUSY = ("the app is reading other uploads right now; try again in a minute (for many samples, use `drugresponse "
        "predict` on your own machine).")
CAVEAT = ("**Caveat.** The driver events' effects were learned across GDSC's tissues and are partly lineage markers: "
          "for a tumour type GDSC does not cover they may not transfer (on held-out organ systems they lowered the "
          "model's per-drug accuracy; see the Model tab). For such a tumour, upload it without mutations: unknown "
          "events contribute nothing, so the prediction is exactly the model without its driver head.")
PANEL = ("**What a panel gives.** Expression is required: the model reads 2,000 genes' expression, and a sample "
         "with fewer than half of them is refused, between half and 90% flagged (download the list below). A mutation "
         "or driver panel is optional and adds what expression alone misses for targeted drugs (BRAF for dabrafenib, "
         "the ERBB2 amplicon for lapatinib): the report lists the unknown events that would move this sample's "
         "predictions most.")


class UploadGate:
    """Opens only uploads, reads them one at a time in the upload worker process, scores them here, and remembers
    the last two results (each up to a few tens of MB).

    Uploads take turns, and after each the next waits twice as long as the last one took (reading and scoring here;
    sending its table back costs about as much again, after the turn), and at least until ``TURN`` has passed:
    uploads get at most a third of the wall time and one start per second, so a flood of them slows other uploads,
    not every other request."""

    def __init__(self, service: PredictionService, max_waiting: int = MAX_WAITING):
        self.service, self.reader = service, UploadReader(service.schema, service.limits)
        self._cached = functools.lru_cache(maxsize=2)(self._read)
        self.turn, self.rest_until = threading.Lock(), 0.0
        self.count, self.waiting, self.max_waiting = threading.Lock(), 0, max_waiting

    def _read(self, path, mutations, tissue):
        report = self.reader.read(path, mutations)
        return self.service.score(report, tissue), report

    def __call__(self, upload, mutations=None, tissue=None, then=None):
        """(predictions, report) of the upload; with ``then``, what ``then(predictions, report)`` returns, computed
        inside the turn, so that the work a request derives from an upload (contexts, explanations, a download) is
        paced like reading it: a client repeating a cached upload's request cannot take more of the CPU."""
        tissue = arguments.name(tissue, "the tissue", optional=True)
        path = uploaded_file(upload)  # only files inside Gradio's upload folder are opened
        extra = uploaded_file(mutations) if mutations is not None else None
        with self.count:
            if self.waiting >= self.max_waiting:
                raise UserError(BUSY)
            self.waiting += 1
        try:
            with self.turn:
                time.sleep(max(0.0, self.rest_until - time.monotonic()))
                start = time.monotonic()
                try:
                    result = self._cached(path, extra, None if tissue in (None, "", NO_TISSUE) else tissue)
                    return then(*result) if then is not None else result
                finally:
                    self.rest_until = max(start + TURN, time.monotonic() + REST * (time.monotonic() - start))
        finally:
            with self.count:
                self.waiting -= 1


def templates(service: PredictionService, downloads: Downloads) -> list[str]:
    """The model's genes and events (with Ensembl IDs and aliases), and an empty wide-layout template, as CSVs."""
    schema, identifiers = service.schema, service.catalog.gene_identifiers
    ensembl = {}
    if identifiers is not None:
        for key, symbol in identifiers.filter(pl.col("rule") == "ensembl").select("identifier", "symbol").iter_rows():
            ensembl.setdefault(symbol, key)
    aliases = {}
    for alias, event in schema.events.region_genes().items():
        aliases.setdefault(event, []).append(alias)
    rows = [("expression", g, ensembl.get(g, ""), "") for g in schema.features_read["expression"]]
    rows += [("driver", e, "", " ".join(sorted(aliases.get(e, [])))) for e in schema.features_read["drivers"]]
    features = pl.DataFrame(rows, schema=["input", "name", "ensembl_gene_id", "aliases"], orient="row")
    columns = ["sample"] + [f"expression:{g}" for g in schema.features_read["expression"]] + \
              [f"driver:{e}" for e in schema.features_read["drivers"]]
    template = pl.DataFrame({c: [] for c in columns}, schema={c: pl.String for c in columns})
    return [downloads.fixed(features, "model_genes_and_events"), downloads.fixed(template, "template_wide_layout")]


def build(service: PredictionService, explainer, downloads: Downloads, reference: dict, defaults: list[str]
          ) -> UploadGate:
    """The tab's components and events, inside the caller's Blocks; returns the gate the /explain endpoint shares."""
    gate = UploadGate(service)
    tissues = [NO_TISSUE, *sorted(set(service.tissues.tolist()))]

    def predict_profile(upload, mutations=None, tissue=None):
        return gate(upload, mutations, tissue)[0]

    @friendly
    def profile_report(upload: gr.FileData, mutations: gr.FileData | None = None, tissue: str | None = None) -> dict:
        """What reading the files did, and each sample's unknown events and most similar GDSC lines."""
        def described(_, report):
            return {"summary": report.summary(), "format": report.format, "details": report.details,
                    "notes": report.notes, "samples": report.samples,
                    "context": {s: service.context(report, s) for s in report.samples[:20]}}
        return gate(upload, mutations, tissue, then=described)

    def extras(upload, mutations, tissue):
        def offered(table, report):
            csv = downloads.csv(table, "predictions_uploaded_samples", [service.provenance(report.source),
                                                                        report.summary()])
            return report.summary(), csv, gr.Dropdown(choices=report.samples, value=report.samples[0])
        return gate(upload, mutations, tissue, then=offered)

    def sample_view(upload, mutations, tissue, sample, drug):
        return gate(upload, mutations, tissue, then=lambda scored, report: _sample_view(
            scored, report, arguments.name(sample, "the sample"), arguments.name(drug, "the drug")))

    def _sample_view(scored, report, sample, drug):
        table, summary = views.explain_sample(service, explainer, report, sample, drug)
        chosen = scored.filter((pl.col("sample") == sample) & (pl.col("drug") == drug))
        context = service.context(report, sample, drug)
        return (figures.contributions(table, f"Why: {drug} for {sample}"), explainer.caption(drug, summary),
                figures.intervals(chosen, PREDICTED, reference, sample), views.unknown_events_text(context),
                pl.DataFrame(context["similar_lines"]))

    gr.Markdown("Upload your own samples' profiles: the app's layouts, or files as labs have them (RNA-seq TPM tables "
                "with Ensembl IDs or HGNC symbols, nf-core/rnaseq merged tables, RSEM, Salmon, STAR or featureCounts "
                "output, GCT, Excel; mutations as an annotated VCF, a MAF, a gene and protein-change table, or a list "
                "like 'BRAF V600E, TP53 R273H').\n\n" + PANEL + "\n\n" + CAVEAT)
    with gr.Accordion("Accepted layouts, scales and names", open=False):
        gr.Markdown(FORMAT_HELP)
    with gr.Row():
        gr.File(templates(service, downloads), label="The model's genes and events; an empty template", interactive=False)
    with gr.Row():
        upload = gr.File(label="Expression (required)", file_types=FILE_TYPES, elem_id="profiles-upload")
        mutations = gr.File(label="Mutations or driver events (optional)", file_types=FILE_TYPES,
                            elem_id="mutations-upload")
        tissue = gr.Dropdown(tissues, value=NO_TISSUE, label="Tissue (optional)",
                             info="Adds percentiles and calls among GDSC lines of the same tissue")
    run = gr.Button("Predict for uploaded samples", variant="primary")
    report_text = gr.Markdown()
    csv = gr.File(label="Predictions (CSV; opens in Excel; the report is in its first lines)")
    table = gr.Dataframe(label="Predictions for every drug", interactive=False)
    with gr.Row():
        sample = gr.Dropdown([], label="Sample")
        drug = gr.Dropdown(service.drugs, value=defaults[0], label="Drug")
    interval = gr.Plot(label="Prediction with its 80% interval against the GDSC lines")
    events = gr.Markdown()
    similar = gr.Dataframe(label="The GDSC lines most like this sample (expression over the model's genes)",
                           interactive=False)
    why = gr.Plot(label="Why: largest contributions")
    why_text = gr.Markdown()

    inputs = [upload, mutations, tissue]
    # Upload events share one pool of UPLOAD_SLOTS: more than the gate lets wait, so a flood of uploads is answered
    # (read in turn, or refused as busy) instead of waiting in the queue every endpoint shares and filling it.
    pool = {"concurrency_id": "uploads", "concurrency_limit": UPLOAD_SLOTS}
    run.click(friendly(predict_profile), inputs, table, api_name="predict_profile", **pool).then(
        friendly(extras), inputs, [report_text, csv, sample], api_visibility="private", **pool)
    gr.on([sample.change, drug.change], friendly(sample_view), [*inputs, sample, drug],
          [why, why_text, interval, events, similar], api_visibility="private", **pool)
    gr.api(profile_report, api_name="profile_report", **pool)
    return gate
