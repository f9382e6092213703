"""What an opened table is: which reader it needs, and how its samples and genes are laid out.

In order: an annotated VCF; the app's long or wide layout; a MAF or a gene/change table; a known genes-as-rows table
(nf-core merged, RSEM, Salmon, GCT); a plain list of alterations (``item_lists``); otherwise a matrix whose genes
run down the first column or across the header, whichever names more of the model's genes. Text that looks like a
list of alterations but names too few known genes is refused with the list format expected, not read as a matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from drugresponse.errors import UserError

from . import gene_tables, item_lists, mutation_lists
from .app_layouts import layout_of
from .file_types import SUPPORTED
from .schema import ProfileSchema
from .tables import Table

MUTATIONS = ("vcf", "mutation table", "alteration list")
_STEM = re.compile(r"(\.(genes|isoforms))?\.(results|sf|tsv|csv|txt|tab|gct|vcf|maf|parquet|xlsx)$", re.IGNORECASE)


@dataclass
class Recognised:
    kind: str  # "long", "wide", "gene rows", "gene columns", or one of MUTATIONS
    description: str  # for the report: "RSEM genes.results, genes as rows"
    genes: gene_tables.GeneTable | None = None


def sample_name(file_name: str) -> str:
    """The sample a one-sample file stands for: its name without extensions (``S1.genes.results`` -> ``S1``,
    ``S1.ReadsPerGene.out.tab`` -> ``S1``)."""
    stem = _STEM.sub("", file_name)
    return re.sub(r"\.(genes|quant)$|[._-]?ReadsPerGene\.out$", "", stem) or "sample"


def recognise(table: Table, schema: ProfileSchema) -> Recognised:
    if mutation_lists.is_vcf(table):
        return Recognised("vcf", "VCF")
    app = layout_of(table.header)
    if app:
        return Recognised(app, f"the app's {app} layout")
    if mutation_lists.is_mutation_table(table.header):
        return Recognised("mutation table", "a table of genes and their alterations")
    spec = gene_tables.recognise(table, sample_name(table.name))
    if spec is not None:
        return Recognised("gene rows", f"{spec.kind}, genes as rows, {len(spec.sample_names)} sample(s)", spec)
    if item_lists.is_item_list(table, schema):
        return Recognised("alteration list", "a plain list of alterations")
    problem = item_lists.problem(table, schema)
    if problem:
        raise UserError(problem)
    first = next(table.chunks(2000, keep=[0]), (None, 0))[0]  # the first column alone: a header may be 70,000 wide
    if first is None or not first.height:
        raise UserError(f"{table.name} has a header but no rows; expected at least one sample (accepted: {SUPPORTED}).")
    ids = first.get_column("c0").cast(pl.String).fill_null("").to_list()
    if gene_tables.orientation(table, schema, ids) == "genes as rows":
        spec = gene_tables.generic(table)
        return Recognised("gene rows", f"genes as rows (first column), {len(spec.sample_names)} sample(s)", spec)
    return Recognised("gene columns", "genes as columns (header), one sample per row (first column)")
