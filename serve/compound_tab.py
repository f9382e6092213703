"""The "New compound" tab and ``/predict_compound``: a SMILES string -> predicted ln IC50 for every GDSC line (or the
samples of an uploaded profile), the structure as RDKit draws it, a tissue summary and the nearest known drugs."""

from __future__ import annotations

import gradio as gr
import polars as pl

from drugresponse.compound_structure import MAX_SMILES_CHARS, depiction_png

from .compounds import MEASURED, NEW, PREDICTED, CompoundService
from .downloads import Downloads
from .messages import friendly
from .sample_tab import UPLOAD_SLOTS

# GDSC1-only drugs: screened by GDSC, never by GDSC2, so new to this model (their measurements were not used)
EXAMPLES = {
    "Imatinib mesylate (GDSC1 only; the salt is removed)":
        "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5.CS(=O)(=O)O",
    "Aspirin (never screened by GDSC)": "CC(=O)OC1=CC=CC=C1C(=O)O",
}


def standardisation_note(compound, nearest: float, bins: list[dict]) -> str:
    dropped = (f"; {compound.fragments_dropped} smaller fragment(s) (salt, solvent) removed"
               if compound.fragments_dropped else "")
    here = next(b for b in bins if b["nearest_from"] <= nearest < b["nearest_to"] or b is bins[-1])
    return (f"Read as `{compound.smiles}` ({compound.heavy_atoms} heavy atoms{dropped}). Nearest known drug: Tanimoto "
            f"**{nearest:.2f}**. Held-out drugs this far from their nearest known one ({here['drugs']} of them) got "
            f"per-drug Pearson {here['two_tower']['per_drug_pearson']:.2f} (the cell-line mean alone: "
            f"{here['cell_line_mean']['per_drug_pearson']:.2f}) and RMSE {here['two_tower']['rmse']:.2f} ln µM"
            + (": with so little structural neighbourhood the prediction is close to an average drug's, scaled by "
               "each line's general sensitivity." if nearest < 0.3 else "."))


def build(compounds: CompoundService, gate, downloads: Downloads) -> None:
    """The tab's components and events, inside the caller's Blocks (``gate`` opens and reads uploads)."""

    @friendly
    def predict_compound(smiles: str, upload: gr.FileData | None = None) -> dict:
        """Predicted ln IC50 of a compound given as SMILES: for every GDSC cell line or, with a profiles file, for
        each of its samples. Returns the standardised SMILES, the rows, a tissue summary (GDSC lines), the nearest
        known drugs and the leave-drug-out accuracy. Over HTTP both inputs are sent: ``{"data": [smiles, null]}``."""
        compound, lines, similarity = compounds.predict_lines(smiles)
        nearest = compounds.nearest(similarity, lines)  # the structure's neighbours, whoever it is scored for
        if upload is not None:
            table, tissues = gate(upload, then=lambda _, report: compounds.predict_samples(smiles, report))[1], None
        else:
            table, tissues = lines, compounds.tissues(lines)

        def rows(frame):
            return None if frame is None else {"headers": frame.columns, "data": [list(r) for r in frame.rows()]}
        return {"smiles": compound.smiles, "heavy_atoms": compound.heavy_atoms,
                "nearest_known_similarity": nearest["Tanimoto similarity"][0],
                "fragments_removed": compound.fragments_dropped, "units": "natural log of IC50 in micromolar",
                "interval": "80%, calibrated on leave-drug-out residuals",
                "predictions": rows(table), "tissues": rows(tissues), "nearest_known_drugs": rows(nearest),
                "leave_drug_out": compounds.accuracy()}

    def page(smiles):
        compound, table, similarity = compounds.predict_lines(smiles)
        nearest = compounds.nearest(similarity, table)
        first = nearest["known drug"][0]
        csv = downloads.csv(table, "new_compound_predictions",
                            [f"compound {compound.smiles}; structure model (leave-drug-out calibrated); research use "
                             "only"])
        note = standardisation_note(compound, float(similarity.max()), compounds.accuracy()["by_similarity"])
        return (depiction_png(compound), note, table, compounds.tissues(table), nearest,
                compounds.nearest_profile(first, table).to_pandas(), gr.Dropdown(choices=nearest["known drug"].to_list(),
                                                                     value=first), csv)

    def profile_of(smiles, drug):
        _, table, _ = compounds.predict_lines(smiles)
        return compounds.nearest_profile(drug, table).to_pandas()  # Gradio's plots take pandas

    def samples(smiles, upload):
        if upload is None:
            return pl.DataFrame()
        return gate(upload, then=lambda _, report: compounds.predict_samples(smiles, report))[1]

    gr.Markdown("Predict a compound GDSC never screened from its structure. Paste a SMILES string (salts and "
                "solvents are removed; the largest fragment is used). The model scores every GDSC cell line, or the "
                "samples of an uploaded profile (the upload format of the *Your sample* tab).")
    gr.Markdown(compounds.caption())
    with gr.Row():
        smiles = gr.Textbox(label="SMILES", value=next(iter(EXAMPLES.values())), max_length=MAX_SMILES_CHARS,
                            lines=1, scale=4, elem_id="compound-smiles")
        run = gr.Button("Predict", variant="primary", scale=1)
    gr.Examples(list(EXAMPLES.values()), inputs=smiles, example_labels=list(EXAMPLES))
    with gr.Row():
        picture = gr.Image(label="Structure (RDKit)", type="pil", height=300, interactive=False)
        with gr.Column():
            note = gr.Markdown()
            tissues = gr.Dataframe(label="By tissue: median prediction over GDSC lines, most sensitive first",
                                   interactive=False)
    lines = gr.Dataframe(label="Every GDSC cell line, most sensitive first", interactive=False)
    csv = gr.File(label="All predictions (CSV)")
    nearest = gr.Dataframe(label="Nearest known GDSC2 drugs by structure (Tanimoto on the model's Morgan bits)",
                           interactive=False)
    neighbour = gr.Dropdown([], label="Compare with the measured profile of")
    scatter = gr.ScatterPlot(x=NEW, y=MEASURED, color="tissue", height=380,
                             label="Measured ln IC50 of the known drug (y) against this compound's prediction (x), "
                                   "one point per GDSC line")
    with gr.Accordion("Your samples", open=False):
        upload = gr.File(label="Expression profile (as in Your sample)", elem_id="compound-upload")
        score = gr.Button("Score this compound for the uploaded samples")
        sample_table = gr.Dataframe(label=f"{PREDICTED}, each sample (interval for a new drug and a new line)",
                                    interactive=False)

    outputs = [picture, note, lines, tissues, nearest, scatter, neighbour, csv]
    run.click(friendly(page), smiles, outputs, api_visibility="private")
    smiles.submit(friendly(page), smiles, outputs, api_visibility="private")
    neighbour.change(friendly(profile_of), [smiles, neighbour], scatter, api_visibility="private")
    score.click(friendly(samples), [smiles, upload], sample_table, api_visibility="private",
                concurrency_id="uploads", concurrency_limit=UPLOAD_SLOTS)
    gr.api(predict_compound, api_name="predict_compound")
