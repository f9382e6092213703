"""Expression tables as labs have them: genes as rows (one column per sample) or genes as columns (one row per sample).

Recognised by their header, else by which of the two holds gene identifiers:

- nf-core/rnaseq merged tables (``salmon.merged.gene_tpm.tsv``: ``gene_id, gene_name``, then one column per sample);
- RSEM ``*.genes.results`` (``gene_id, transcript_id(s), length, effective_length, expected_count, TPM, FPKM``) and
  Salmon ``quant.genes.sf`` / ``quant.sf`` (``Name, Length, EffectiveLength, TPM, NumReads``): one sample, its TPM;
- STAR ``ReadsPerGene.out.tab`` (no header; the count column that fits the library's strandedness, ``star_counts``)
  and featureCounts output (its six annotation columns, then one column per aligned file): read counts;
- GCT 1.2 (``#1.2``, the dimensions, then ``Name, Description``, one column per sample);
- any table whose first column (or ``gene``/``gene_id``/``gene_name``/``symbol`` column) holds gene identifiers and
  whose other columns hold one sample each; or whose header names genes and whose first column names samples.

Identifiers are resolved as everywhere (model names, case, Ensembl IDs with or without version, HGNC symbols). When a
table has an ID column and a name column, the ID is tried first. Rows that resolve to the same model gene (a gene name
listed twice, as nf-core tables do for some genes) are combined: summed when the sample's values are on a linear
scale (TPM and counts of two loci add up), averaged when they are on a log scale (``combine``, the rule the app's
layouts follow too); the report names them. Rows of genes the model does not know are ignored, duplicated or not,
and counted apart from rows whose identifier is ambiguous (reported with their candidates). A table that names
transcripts (Salmon's transcript-level ``quant.sf``) and no gene is refused with the gene-level file to upload
instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .cells import parse_numbers, text_column
from .identifiers import AMBIGUOUS, UNKNOWN, Resolution
from .limits import Limits
from .schema import ProfileSchema
from .tables import Table
from .validate import LINEAR_ABOVE

ID_COLUMNS = ("gene_id", "gene", "gene_name", "gene_symbol", "symbol", "hugo_symbol", "ensembl_gene_id", "ensembl",
              "ensembl_id", "name", "description", "id", "geneid", "gene id", "gene name", "transcript_id(s)",
              "transcript_id")
VALUE_COLUMN = {"rsem": "tpm", "salmon": "tpm"}
RSEM = {"gene_id", "expected_count", "tpm"}
SALMON = {"name", "length", "effectivelength", "tpm", "numreads"}
FEATURE_COUNTS = ["geneid", "chr", "start", "end", "strand", "length"]
# Ensembl or RefSeq transcript IDs, alone or first of GENCODE's FASTA names (``ENST…|ENSG…|…|DDX11L1-201|…``, what
# Salmon reports when run without --gencode)
TRANSCRIPT = r"^(ENS[A-Z]*T\d{11}|[NX][MR]_\d+)(\.\d+)?(\|.*)?$"
UNKNOWN_NAMES_KEPT = 50_000  # distinct unknown identifiers remembered for the report (a file can invent millions)


@dataclass
class GeneTable:
    """Where a genes-as-rows table keeps what: identifier columns (best first) and one column per sample."""

    kind: str  # "nf-core merged", "RSEM", "Salmon", "GCT 1.2", "genes as rows"
    id_columns: list[int]
    sample_columns: list[int]
    sample_names: list[str]
    duplicates: dict[str, int] = field(default_factory=dict)  # model gene -> rows combined
    unknown_rows: int = 0  # rows whose identifiers name no model gene (ambiguous ones are not counted here)
    unknown_examples: list[str] = field(default_factory=list)
    transcript_rows: int = 0  # rows named by a transcript ID


def recognise(table: Table, sample_name: str) -> GeneTable | None:
    """The layout of a genes-as-rows table from its header alone, or None."""
    lower = [c.strip().lower() for c in table.header]
    if table.preamble and table.preamble[0].startswith("#1.2"):
        if lower[:2] != ["name", "description"]:
            raise UserError(f"{table.name}: a GCT 1.2 file needs the columns Name and Description before the samples.")
        return GeneTable("GCT 1.2", [0, 1], list(range(2, len(lower))), table.header[2:])
    if RSEM <= set(lower):
        return GeneTable("RSEM genes.results", [lower.index("gene_id")], [lower.index("tpm")], [sample_name])
    if SALMON <= set(lower):
        return GeneTable("Salmon quant", [lower.index("name")], [lower.index("tpm")], [sample_name])
    if lower[:2] == ["gene_id", "gene_name"]:
        return GeneTable("nf-core merged", [0, 1], list(range(2, len(lower))), table.header[2:])
    if len(lower) == 4 and lower[0] == "n_unmapped":  # no header: the first of STAR's four summary lines
        return star_counts(table, sample_name)
    if lower[:6] == FEATURE_COUNTS:  # one column per aligned file, named by its path
        names = [Path(c).name.removesuffix(".bam").removesuffix(".sorted") for c in table.header[6:]]
        folders = [Path(c).parent.name for c in table.header[6:]]
        if len(set(names)) < len(names) and all(folders) and len(set(folders)) == len(folders):
            names = folders  # STAR writes every sample's BAM under one name, in a folder per sample
        return GeneTable("featureCounts (read counts, not normalised for gene length: the TPM table of the same run "
                         "is better)", [0], list(range(6, len(lower))), names)
    return None


def star_counts(table: Table, sample_name: str) -> GeneTable:
    """STAR's ``ReadsPerGene.out.tab``: no header, four summary lines (``N_unmapped``, ``N_multimapping``,
    ``N_noFeature``, ``N_ambiguous``), then gene ID and three counts: unstranded, reads on the gene's strand, reads on
    the opposite strand. The column that fits the library is read: on a stranded library the wrong strand's column
    leaves most reads on no gene, so when one strand's ``N_noFeature`` is under half the other's, that strand's column;
    otherwise (similar, an unstranded library) the unstranded one. The report says which, and why."""
    first = next(table.chunks(8), (None, 0))[0]
    rows = {} if first is None else {r[0]: r[1:] for r in first.cast(pl.String).iter_rows()}
    try:
        unstranded, forward, reverse = (int(v) for v in rows["N_noFeature"])
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{table.name} starts like STAR's ReadsPerGene.out.tab (N_unmapped) but has no N_noFeature line "
                        "of three counts after it; upload the file as STAR wrote it.") from None
    if min(forward, reverse) < 0.5 * max(forward, reverse):
        column, library = (2, "stranded, reads on the gene's strand") if forward < reverse else \
            (3, "reverse-stranded (e.g. Illumina TruSeq)")
    else:
        column, library = 1, "unstranded"
    why = (f"{library}: reads on no gene {unstranded:,} unstranded, {forward:,} same strand, {reverse:,} opposite "
           "strand")
    return GeneTable(f"STAR ReadsPerGene (read counts, not normalised for gene length; count column {column + 1} read, "
                     f"the library looks {why})", [0], [column], [sample_name])


def generic(table: Table) -> GeneTable:
    """A genes-as-rows table with no telling format: the leading identifier columns (by name, else the first)."""
    lower = [c.strip().lower() for c in table.header]
    ids = [0]
    while len(ids) < len(lower) - 1 and lower[len(ids)] in ID_COLUMNS:
        ids.append(len(ids))
    samples = list(range(len(ids), len(lower)))
    return GeneTable("genes as rows", ids, samples, [table.header[i] for i in samples])


def read_genes(schema: ProfileSchema) -> set[str]:
    return set(schema.features_read["expression"])


def mapped_share(schema: ProfileSchema, names: list[str]) -> float:
    """Share of ``names`` that are model genes (how a table shows which of its axes holds genes)."""
    names = [n for n in names if n]
    return float(np.mean(schema.genes.resolve(names, read_genes(schema)).indices >= 0)) if names else 0.0


def orientation(table: Table, schema: ProfileSchema, first_column: list[str]) -> str:
    """``genes as rows`` or ``genes as columns`` for a table with no telling header; refused when neither holds genes."""
    by_rows, by_columns = mapped_share(schema, first_column), mapped_share(schema, table.header[1:])
    if max(by_rows, by_columns) < 0.05:
        raise UserError(f"{table.name}: unrecognised layout: neither the first column nor the header names genes the "
                        f"model knows (checked "
                        f"{len(first_column):,} row names and {len(table.header) - 1:,} column names). Name genes by "
                        "HGNC symbol or Ensembl gene ID, one gene per row (samples as columns) or per column.")
    return "genes as rows" if by_rows >= by_columns else "genes as columns"


def _resolve_rows(schema: ProfileSchema, ids: list[pl.Series]) -> Resolution:
    """Each row's model gene: the first identifier column that resolves wins (an ID before a name). A row none of
    whose identifiers resolves is ambiguous when one of them is, and then reported with its candidates once."""
    read = read_genes(schema)
    out = schema.genes.resolve(ids[0].to_list(), read)
    ambiguous = dict(out.ambiguous)
    for column in ids[1:]:
        unresolved = np.flatnonzero(out.indices < 0)
        if not len(unresolved):
            break
        more = schema.genes.resolve(column.gather(unresolved).to_list(), read)
        better = more.indices >= 0
        out.indices[unresolved[better]] = more.indices[better]
        out.indices[unresolved[(more.indices == AMBIGUOUS) & (out.indices[unresolved] == UNKNOWN)]] = AMBIGUOUS
        out.how.update(more.how)
        out.renamed.update(list(more.renamed.items())[:20 - len(out.renamed)])
        out.chosen.update(list(more.chosen.items())[:50 - len(out.chosen)])
        ambiguous.update(more.ambiguous)
    # the names of rows left ambiguous (a row whose ID was ambiguous but whose name resolved is not)
    left = set(np.flatnonzero(out.indices == AMBIGUOUS).tolist())
    names = {n for column in ids for n in column.gather(sorted(left)).to_list()} if left else set()
    out.ambiguous = {n: c for n, c in ambiguous.items() if n in names}
    out.n_ambiguous = len(left)
    return out


def read_gene_rows(table: Table, spec: GeneTable, schema: ProfileSchema, limits: Limits, rows_per_chunk: int,
                   samples: slice = slice(None)) -> tuple[list[str], np.ndarray, Resolution]:
    """(sample names, expression [samples, model genes] with duplicates combined, how rows resolved)."""
    columns, names = spec.sample_columns[samples], spec.sample_names[samples]
    limits.check_samples(len(names))
    repeated = sorted(n for n, k in Counter(spec.sample_names).items() if k > 1)
    if repeated:  # the output would hold rows of two samples that cannot be told apart
        raise UserError(f"{table.name}: sample column(s) {', '.join(map(repr, repeated[:3]))} appear more than once "
                        "in the header; name each sample once.")
    for name in names:
        limits.check_name(name, "the sample name")
    n_genes = len(schema.features["expression"])
    total = np.zeros((len(names), n_genes), np.float64)
    given = np.zeros((len(names), n_genes), np.int32)  # non-missing values combined into each cell
    rows_of = np.zeros(n_genes, np.int64)  # rows that resolved to each gene
    largest = np.full(len(names), -np.inf)
    resolution = Resolution(np.zeros(0, np.int64))
    for chunk, first_line in table.chunks(rows_per_chunk):
        ids = [text_column(chunk[:, i], first_line, "gene identifier", limits, required=False) for i in spec.id_columns]
        found = _resolve_rows(schema, ids)
        known, unknown = found.indices >= 0, found.indices == UNKNOWN
        unknown_names = ids[0].filter(pl.Series(unknown)).drop_nulls()
        if len(resolution.unknown_names) < UNKNOWN_NAMES_KEPT:
            found.unknown_names.update(unknown_names.head(UNKNOWN_NAMES_KEPT).to_list())
        resolution.merge(found)
        spec.unknown_rows += int(unknown.sum())
        spec.transcript_rows += int(unknown_names.str.contains(TRANSCRIPT).sum())
        if len(spec.unknown_examples) < 5:
            spec.unknown_examples += unknown_names.head(5 - len(spec.unknown_examples)).to_list()
        if not known.any():
            continue
        in_chunk = chunk.columns  # a property that builds the list: once, not per column
        block = chunk.select([in_chunk[i] for i in columns]).filter(pl.Series(known))
        values = parse_numbers(block, np.arange(first_line, first_line + chunk.height)[known],
                               [table.header[i] for i in columns])
        genes = found.indices[known]
        np.add.at(total.T, genes, np.nan_to_num(values, nan=0.0))
        np.add.at(given.T, genes, ~np.isnan(values))
        np.add.at(rows_of, genes, 1)
        largest = np.fmax(largest, np.fmax.reduce(values, axis=0))
    if not rows_of.any() and spec.transcript_rows > table.rows // 2:
        raise UserError(f"{table.name} ({spec.kind}) names transcripts, not genes (e.g. "
                        f"{', '.join(e.split('|')[0] + ('|…' if '|' in e else '') for e in spec.unknown_examples[:3])}): the model "
                        "reads gene-level expression. Upload the "
                        "gene-level file instead: nf-core/rnaseq's salmon.merged.gene_tpm.tsv, Salmon's quant.genes.sf, "
                        "RSEM's genes.results, or a tximport gene-level table.")
    spec.duplicates = {schema.features["expression"][j]: int(rows_of[j]) for j in np.flatnonzero(rows_of > 1)}
    return names, combine(total, given, largest).astype(np.float32), resolution


def combine(total: np.ndarray, given: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """The rule for a gene given more than once for a sample, shared by every layout: ``total`` [samples, genes] the
    sum of its values, ``given`` how many there were, ``largest`` each sample's largest value as given, which says its
    scale. Summed on a linear scale (the TPM or counts of two loci add up), averaged on a log scale; NaN where none."""
    linear = largest > LINEAR_ABOVE
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = np.where(linear[:, None], total, total / given)
    return np.where(given > 0, combined, np.nan)
