"""Mutation and alteration lists mapped onto GDSC's cancer functional events (the model's ``drivers`` input).

Accepted: VCF annotated by VEP (``CSQ``) or snpEff (``ANN``) (``vcf_files``); MAF; a table with a gene column and a
change column (``gene, protein_change``; optionally ``sample``); or plain text (``item_lists``) such as
``BRAF V600E, TP53 R273H`` or ``BRAF:V600E; TP53:R273H``.

The rule, written down (the words are in ``mutation_words``; changes are read in any case, ``p.`` ignored):

- a change counts as a **mutation** of its gene, setting ``GENE_mut`` to 1, only if it looks like one: a protein
  change (``V600E``, ``p.Val600Glu``, ``R273H``, ``Q61K``, ``E746_A750del``, ``R130fs*4``, ``R130*``/``R130X``, a
  codon such as ``G12``, start or stop lost), an exon-level change (``exon 19 deletion``, ``exon 14 skipping``), a
  variant class (missense, nonsense, frameshift, splice site, in-frame indel, truncating; VEP's and MAF's
  protein-altering classes; in a VCF only PASS or ``.`` records), or a word: ``mut``, ``mutant``, ``mutated``,
  ``mutation``, ``variant``, ``pathogenic``, ``oncogenic``; in a column named ``status``, ``mutation_status``,
  ``mutated``, ``mutation``, ``mutant``, ``mut``, ``mutation_call`` or ``call``, also ``1``, ``yes``, ``true``.
  Synonymous, intronic, UTR and intergenic changes set nothing;
- ``WT``, ``wild type``, ``negative``, ``not detected``, ``no mutation``, ``none`` or ``no`` set ``GENE_mut`` to 0:
  the gene was tested and found unaltered; so do ``0`` and ``false`` in such a status column (a bare ``0`` or ``1``
  elsewhere is not understood, and reported);
- ``unknown``, ``NA``, ``N/A``, ``?``, ``not tested``, ``untested``, an empty cell, and a **variant of unknown
  significance** (``VUS``) leave the event unknown, and are reported: GDSC's events are functional cancer events, and
  a VUS is not known to be one;
- **copy number**: GDSC's recurrent regions are called amplifications and deletions. ``amp``, ``amplification``,
  ``overexpression``, ``high copy number``, or a copy number of 9 or more (``CN=12``; 5 to 8 copies is an
  amplification only in a near-diploid genome, so it stays unknown) sets every recurrent gained region that lists
  the gene (``ERBB2`` -> ``gain_cnaPANCAN301_(CDK12,ERBB2,MED24)``); ``del``, ``deletion``, ``homozygous deletion``,
  ``deep deletion`` or ``CN=0`` every lost region that lists it; in a column named ``copy_number``,
  ``absolute_copy_number``, ``total_copy_number`` or ``cn``, a bare whole number of 3 or more is such a copy number
  (a bare 0, 1, 2 or a negative number may be a GISTIC call or a log ratio: not understood, and reported); A ``gain`` or a ``loss`` may be one copy: it stays
  unknown, and is reported. For ERBB2 (HER2), ``positive`` is an amplification and ``negative`` or ``not amplified``
  sets its gained region to 0;
- a **fusion** named ``BCR-ABL1``, ``BCR::ABL1``, ``BCR-ABL``, ``EWSR1-FLI1`` or ``EWSR1::FLI1``, or any event named
  by its GDSC name or alias (``BRAF_mut``, ``ERBB2_amp``, ``MSI``), on its own or with ``fusion``, ``positive``,
  ``detected``, ``1`` or ``yes`` sets that event; with a wild-type word, 0;
- **anything else is not guessed**: a change not understood, a gene the model does not know, and an alteration of a
  known gene that is not one of GDSC's events (no ``GENE_mut``, no region listing the gene, a fusion GDSC does not
  name) set nothing and are listed in the upload report;
- a gene called both ways in one sample (a mutation and a ``WT`` row) counts as altered;
- **every event the list does not mention stays unknown**: a list of the mutations found says nothing about genes
  that were not sequenced, and the model never reads unknown as wild type. Give ``WT`` rows for genes tested negative.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from . import mutation_words as words
from .cells import text_column
from .item_lists import known_gene, named_event, split_items
from .limits import Limits
from .schema import ProfileSchema
from .tables import Table
from .vcf_files import open_vcf, records

GENE_COLUMNS = ("gene", "gene_symbol", "hugo_symbol", "symbol", "gene_name")
# columns whose name says the cell is a yes/no call (1/0, yes/no, true/false), besides protein changes
STATUS_COLUMNS = ("status", "mutation_status", "mutated", "mutation", "mutant", "mut", "mutation_call", "call")
# columns of absolute copy numbers: a bare whole number of 3 or more there is read as ``CN=<number>``
COPY_NUMBER_COLUMNS = ("copy_number", "absolute_copy_number", "total_copy_number", "cn")
CHANGE_COLUMNS = ("protein_change", "mutation", "variant", "alteration", "change", "hgvsp", "hgvsp_short",
                  "aa_change", "event", "variant_classification", *STATUS_COLUMNS, *COPY_NUMBER_COLUMNS)
SAMPLE_COLUMNS = ("sample", "tumor_sample_barcode", "sample_id", "sample_name")
# a bare number read as copies: whole and 3 or more (0, 1, 2, -1, -2 are as often GISTIC's calls or log ratios, and
# a 0 read as copies would be a homozygous deletion), so they are reported as not understood; write CN=0 or del
_COPIES = re.compile(r"[3-9]|[1-9]\d+")
PROTEIN_ALTERING = words.PROTEIN_ALTERING


@dataclass
class MutationCalls:
    """Events per sample (event index -> 0/1) and what was not used, by why."""

    events: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    unmapped: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # "GENE change": no GDSC event for it
    unknown: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # "GENE change" that says unknown
    not_understood: dict[str, str] = field(default_factory=dict)  # "GENE change" -> what was expected
    unknown_genes: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # gene names the model lacks
    notes: list[str] = field(default_factory=list)  # what reading the file chose (a VCF's tumour column)
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


def call(calls: MutationCalls, schema: ProfileSchema, sample: str, gene: str, change: str,
         status: bool = False) -> None:
    """Apply the module's rule to one (gene, change) of one sample."""
    gene, change = gene.strip(), change.strip()
    shown = f"{gene} {change}".strip()
    calls.events[sample]  # the sample exists even if nothing it lists is a GDSC event  # noqa: B018
    event = named_event(schema, gene)
    if event < 0 and not known_gene(schema, gene):
        calls.unknown_genes[gene] += 1
        return
    symbol = schema.genes.symbol(gene)[0] or gene
    kind, why = words.classify(change, fusion=event >= 0, status=status, gene=symbol)
    if kind == words.SILENT:
        return
    if kind == words.UNKNOWN:
        calls.unknown[shown + (f" ({why})" if why not in ("left unknown", "") else "")] += 1
        return
    if kind == words.NOT_UNDERSTOOD:
        calls.not_understood.setdefault(shown, why)
        return
    if event >= 0:
        targets = [event]
    elif kind in (words.MUTATED, words.WILD_TYPE):
        targets = [j] if (j := schema.events.mutation_event(gene, schema.genes)) >= 0 else []
    elif kind in (words.GAIN, words.NOT_GAINED, words.LOSS):
        targets = schema.events.regions(gene, "loss" if kind == words.LOSS else "gain", schema.genes)
    else:  # a fusion word beside a gene that is not one of GDSC's fusions
        targets = []
    if not targets:
        calls.unmapped[shown] += 1
        return
    value = 0.0 if kind in (words.WILD_TYPE, words.NOT_GAINED) else 1.0
    for j in targets:
        calls.events[sample][j] = max(calls.events[sample].get(j, value), value)


def read_table(table: Table, schema: ProfileSchema, limits: Limits, sample_name: str) -> MutationCalls:
    """A MAF or a gene/change table."""
    lower = [c.strip().lower() for c in table.header]
    maf = "variant_classification" in lower and "hugo_symbol" in lower
    gene = next(lower.index(c) for c in GENE_COLUMNS if c in lower)
    change = lower.index("variant_classification") if maf else next(lower.index(c) for c in CHANGE_COLUMNS if c in lower)
    status = lower[change] in STATUS_COLUMNS
    copies = lower[change] in COPY_NUMBER_COLUMNS
    sample = next((lower.index(c) for c in SAMPLE_COLUMNS if c in lower), None)
    calls = MutationCalls(kind="MAF" if maf else "gene and change list")
    for chunk, first_line in table.chunks(50_000):
        genes = text_column(chunk[:, gene], first_line, "gene", limits).to_list()
        changes = chunk[:, change].cast(pl.String).fill_null("").to_list()
        if copies:
            changes = [f"CN={c.strip()}" if _COPIES.fullmatch(c.strip()) else c for c in changes]
        samples = (text_column(chunk[:, sample], first_line, "sample name", limits).to_list() if sample is not None
                   else [sample_name] * chunk.height)
        for s, g, c in zip(samples, genes, changes):
            if s not in calls.events:
                limits.check_samples(len(calls.events) + 1)
            if maf and c.strip().lower() not in PROTEIN_ALTERING:
                calls.events[s]  # the sample exists even if none of its variants counts  # noqa: B018
                continue
            call(calls, schema, s, g, c, status)
        calls.variants += chunk.height
    return calls


def read_items(text: str, schema: ProfileSchema, sample_name: str) -> MutationCalls:
    """``BRAF V600E, TP53 R273H; ERBB2 amp`` or ``BRAF:V600E``: one sample (see ``item_lists``)."""
    calls = MutationCalls(kind="plain list of alterations")
    for gene, change in split_items(text):
        call(calls, schema, sample_name, gene, change)
        calls.variants += 1
    calls.events[sample_name]  # noqa: B018 (the sample exists even if nothing in it is a GDSC event)
    return calls


def read_vcf(table: Table, schema: ProfileSchema, limits: Limits, sample_name: str) -> MutationCalls:
    """An annotated VCF (``vcf_files``): each protein-altering PASS record a sample carries is a ``variant`` of its
    gene."""
    vcf = open_vcf(table, limits, sample_name)
    calls = MutationCalls(kind=vcf.kind, notes=list(vcf.notes))
    for name in vcf.samples:
        calls.events[name]  # noqa: B018
    for carriers in records(table, vcf):
        calls.variants += 1
        for sample, genes in carriers.items():
            for gene in genes:
                call(calls, schema, sample, gene, "variant")
    return calls
