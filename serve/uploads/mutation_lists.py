"""Mutation and alteration lists mapped onto GDSC's cancer functional events (the model's ``drivers`` input).

Accepted: VCF annotated by VEP (``CSQ``) or snpEff (``ANN``); MAF; a table with a gene column and a change column
(``gene, protein_change``; optionally ``sample``); or plain text such as ``BRAF V600E, TP53 R273H``.

The rule, written down:

- a **protein-altering variant** (missense, nonsense, frameshift, in-frame insertion or deletion, splice site, start
  or stop lost; in a VCF only records whose FILTER is PASS or ``.``) in a gene sets that gene's ``GENE_mut`` event to
  1. Synonymous, intronic, UTR and intergenic variants set nothing. GDSC's own calls are of the same classes in cancer
  genes, so a variant of unknown significance counts as GDSC would have counted it;
- a change written ``WT``, ``wild type``, ``negative``, ``not detected``, ``none`` or ``0`` sets ``GENE_mut`` to 0:
  the gene was tested and found unaltered;
- ``amp``, ``amplification`` or ``gain`` sets the recurrent gained region that holds the gene (``ERBB2`` ->
  ``gain_cnaPANCAN301_(CDK12,ERBB2,MED24)``); ``del``, ``deletion``, ``loss`` or ``homozygous deletion`` the lost one;
- a fusion named ``BCR-ABL1``, ``BCR::ABL1``, ``BCR-ABL``, ``EWSR1-FLI1`` or ``EWSR1::FLI1`` (as the gene, or as the
  gene plus ``fusion``) sets that fusion event;
- **every event the list does not mention stays unknown**: a list of the mutations found says nothing about genes
  that were not sequenced, and the model never reads unknown as wild type. Give ``WT`` rows for genes tested negative.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from drugresponse.errors import UserError

from .cells import text_column
from .identifiers import UNKNOWN
from .limits import Limits
from .schema import ProfileSchema
from .tables import Table

PROTEIN_ALTERING = {
    # VEP / Sequence Ontology terms (also snpEff's)
    "missense_variant", "stop_gained", "frameshift_variant", "splice_acceptor_variant", "splice_donor_variant",
    "inframe_insertion", "inframe_deletion", "start_lost", "stop_lost", "protein_altering_variant",
    "disruptive_inframe_insertion", "disruptive_inframe_deletion", "conservative_inframe_insertion",
    "conservative_inframe_deletion", "exon_loss_variant",
    # MAF Variant_Classification
    "missense_mutation", "nonsense_mutation", "frame_shift_del", "frame_shift_ins", "in_frame_del", "in_frame_ins",
    "splice_site", "translation_start_site", "nonstop_mutation",
}
NEGATIVE = {"wt", "wild type", "wildtype", "wild-type", "negative", "neg", "not detected", "none", "0", "absent", "no"}
SILENT = {"silent", "synonymous", "synonymous_variant", "p.=", "="}
GAIN = {"amp", "amplification", "amplified", "gain"}
LOSS = {"del", "deletion", "deleted", "loss", "homozygous deletion", "homdel"}
GENE_COLUMNS = ("gene", "gene_symbol", "hugo_symbol", "symbol", "gene_name")
CHANGE_COLUMNS = ("protein_change", "mutation", "variant", "alteration", "change", "hgvsp", "hgvsp_short",
                  "aa_change", "event", "status", "variant_classification")
SAMPLE_COLUMNS = ("sample", "tumor_sample_barcode", "sample_id", "sample_name")
_ITEM_SPLIT = re.compile(r"[,;\n]+")


@dataclass
class MutationCalls:
    """Events per sample (event index -> 0/1) and what was not mapped."""

    events: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    unmapped: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # "GENE change" not a GDSC event
    kind: str = ""
    variants: int = 0  # records or rows read

    @property
    def samples(self) -> list[str]:
        return list(self.events)


def is_mutation_table(header: list[str]) -> bool:
    lower = {c.strip().lower() for c in header}
    return ({"hugo_symbol", "variant_classification"} <= lower
            or (bool(lower & set(GENE_COLUMNS)) and bool(lower & set(CHANGE_COLUMNS))))


def is_vcf(table: Table) -> bool:
    return any(line.lower().startswith("##fileformat=vcf") for line in table.preamble) or \
        [c.upper() for c in table.header[:5]] == ["CHROM", "POS", "ID", "REF", "ALT"]


def is_item_list(table: Table, schema: ProfileSchema) -> bool:
    """Plain text like ``BRAF V600E, TP53 R273H``: every header cell is a gene followed by a change."""
    cells = [c.split() for c in table.header if c.strip()]
    return bool(cells) and table.rows <= 1000 and all(
        len(c) >= 1 and (schema.genes.symbol(c[0])[0] is not None or schema.events.index(c[0])[0] >= 0
                         or c[0].upper() in ("BCR-ABL1", "BCR::ABL1", "EWSR1::FLI1")) for c in cells)


def call(calls: MutationCalls, schema: ProfileSchema, sample: str, gene: str, change: str) -> None:
    """Apply the module's rule to one (gene, change) of one sample."""
    gene, change = gene.strip(), " ".join(change.strip().lower().replace("p.", "").split())
    words = change.split()
    fusion = schema.events.index(gene)[0] if ("-" in gene or "::" in gene or "/" in gene) else UNKNOWN
    if fusion >= 0:
        calls.events[sample][fusion] = 0.0 if change in NEGATIVE else 1.0
        return
    if change in SILENT or change.endswith("=") or (len(words) == 1 and re.fullmatch(r"([a-z])\d+\1", change)):
        return
    if change in GAIN or change in LOSS:
        j = schema.events.index(f"{gene}_{'amp' if change in GAIN else 'del'}", schema.genes)[0]
        if j < 0:
            symbol = schema.genes.symbol(gene)[0]
            j = schema.events.index(f"{symbol}_{'amp' if change in GAIN else 'del'}")[0] if symbol else UNKNOWN
    else:
        j = schema.events.mutation_event(gene, schema.genes)
    if j < 0:
        calls.unmapped[f"{gene} {change}".strip()] += 1
        return
    calls.events[sample][j] = 0.0 if change in NEGATIVE else 1.0


def read_table(table: Table, schema: ProfileSchema, limits: Limits, sample_name: str) -> MutationCalls:
    """A MAF or a gene/change table."""
    lower = [c.strip().lower() for c in table.header]
    maf = "variant_classification" in lower and "hugo_symbol" in lower
    gene = next(lower.index(c) for c in GENE_COLUMNS if c in lower)
    change = lower.index("variant_classification") if maf else next(lower.index(c) for c in CHANGE_COLUMNS if c in lower)
    sample = next((lower.index(c) for c in SAMPLE_COLUMNS if c in lower), None)
    calls = MutationCalls(kind="MAF" if maf else "gene and change list")
    for chunk, first_line in table.chunks(50_000):
        genes = text_column(chunk[:, gene], first_line, "gene", limits).to_list()
        changes = chunk[:, change].cast(pl.String).fill_null("").to_list()
        samples = (text_column(chunk[:, sample], first_line, "sample name", limits).to_list() if sample is not None
                   else [sample_name] * chunk.height)
        for s, g, c in zip(samples, genes, changes):
            if s not in calls.events:
                limits.check_samples(len(calls.events) + 1)
            if maf and c.strip().lower() not in PROTEIN_ALTERING:
                calls.events[s]  # the sample exists even if none of its variants counts  # noqa: B018
                continue
            call(calls, schema, s, g, "" if maf else c)
        calls.variants += chunk.height
    return calls


def read_items(text: str, schema: ProfileSchema, sample_name: str) -> MutationCalls:
    """``BRAF V600E, TP53 R273H; ERBB2 amp``: one sample."""
    calls = MutationCalls(kind="plain list of alterations")
    for item in _ITEM_SPLIT.split(text):
        words = item.split()
        if words:
            call(calls, schema, sample_name, words[0], " ".join(words[1:]))
            calls.variants += 1
    calls.events[sample_name]  # noqa: B018 (the sample exists even if nothing in it is a GDSC event)
    return calls


def _info(info: str, key: str) -> str | None:
    for field_ in info.split(";"):
        if field_.startswith(key + "="):
            return field_[len(key) + 1:]
    return None


def read_vcf(table: Table, schema: ProfileSchema, limits: Limits, sample_name: str) -> MutationCalls:
    """An annotated VCF: protein-altering PASS variants per sample (genotype with an alternative allele)."""
    header = [c.upper() for c in table.header]
    csq_format = next((line.split("Format:")[1].strip().strip('">').split("|") for line in table.preamble
                       if line.startswith("##INFO=<ID=CSQ") and "Format:" in line), None)
    if not any(line.startswith(("##INFO=<ID=CSQ", "##INFO=<ID=ANN")) for line in table.preamble):
        raise UserError(f"{table.name}: this VCF has no gene annotation (no CSQ or ANN field). Annotate it with VEP or "
                        "snpEff, or upload a table of gene and protein change (gene,protein_change).")
    samples = table.header[9:] if len(header) > 9 else [sample_name]
    limits.check_samples(len(samples))
    calls = MutationCalls(kind="VCF (" + ("VEP" if csq_format else "snpEff") + " annotation)")
    for name in samples:
        calls.events[name]  # noqa: B018
    for chunk, first_line in table.chunks(20_000):
        for row in chunk.iter_rows():
            calls.variants += 1
            if row[6] not in ("PASS", "."):
                continue
            genes = set()
            if csq_format:
                at = {k: i for i, k in enumerate(csq_format)}
                for entry in (_info(row[7], "CSQ") or "").split(","):
                    parts = entry.split("|")
                    terms = set(parts[at["Consequence"]].split("&")) if "Consequence" in at else set()
                    if terms & PROTEIN_ALTERING and "SYMBOL" in at and parts[at["SYMBOL"]]:
                        genes.add(parts[at["SYMBOL"]])
            for entry in (_info(row[7], "ANN") or "").split(","):
                parts = entry.split("|")
                if len(parts) > 3 and set(parts[1].split("&")) & PROTEIN_ALTERING and parts[3]:
                    genes.add(parts[3])
            carriers = [s for s, gt in zip(samples, row[9:]) if re.search(r"[1-9]", gt.split(":")[0])] \
                if len(row) > 9 else samples
            for gene in genes:
                for sample in carriers:
                    call(calls, schema, sample, gene, "variant")
    return calls
