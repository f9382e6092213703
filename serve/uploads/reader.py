"""One upload, start to finish: open the file, recognise what it is, read it in chunks, check it, report.

``parse_profiles`` serves the app and its API: every sample of an expression file (any layout of ``recognise``),
optionally with a second file of mutations for the same samples, within ``limits.APP``. ``cohort.read_cohort`` serves
``drugresponse predict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from . import gene_tables, mutation_lists
from .app_layouts import LongLayout, Reading, WideLayout
from .limits import APP, Limits
from .recognise import MUTATIONS, Recognised, recognise, sample_name
from .report import duplicate_notes, identifier_notes, merge_mutations, redirected, unread_input_notes
from .samples import SampleArrays
from .schema import ProfileSchema
from .tables import Table, open_table
from .validate import UploadReport, validate

CHUNK_ROWS = 50_000  # rows per chunk of a long or genes-as-rows table; wide tables read fewer (see rows_per_chunk)
CHUNK_CELLS = 500_000  # cells per chunk: bounds the memory of one chunk of strings (and of its parsed numbers)


def rows_per_chunk(table: Table, rows: int = CHUNK_ROWS) -> int:
    return max(1, min(rows, CHUNK_CELLS // max(len(table.header), 1)))


def gene_columns_header(header: list[str]) -> list[str]:
    """A genes-as-columns matrix read as the app's wide layout: ``sample``, then ``expression:GENE``."""
    return ["sample", *(f"expression:{c}" for c in header[1:])]


@dataclass
class Read:
    """Samples read from one file, before the checks."""

    names: list[str]
    profiles: dict[str, np.ndarray]
    reading: Reading
    description: str
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def read_expression(table: Table, schema: ProfileSchema, limits: Limits, found: Recognised) -> Read:
    reading, notes, details = Reading(), [], {}
    if found.kind in MUTATIONS:
        raise UserError(f"{table.name} holds mutations ({found.description}) but no expression. The model needs "
                        "each sample's expression (for at least half of the genes it reads): upload an expression "
                        "file, and this file beside it as the sample's mutations.")
    if found.kind == "gene rows":
        spec = found.genes
        if not spec.sample_columns:
            raise UserError(f"{table.name}: genes as rows, but no column of values (one column per sample).")
        names, expression, resolution = gene_tables.read_gene_rows(table, spec, schema, limits, rows_per_chunk(table))
        reading.note("expression", [], resolution)
        profiles = {m: np.full((len(names), len(schema.features[m])), np.nan, np.float32) for m in MODALITIES}
        profiles["expression"] = expression
        notes += duplicate_notes(spec.duplicates, details)
        details["unknown_rows"] = spec.unknown_rows
        if spec.unknown_rows:
            notes.append(f"expression: {spec.unknown_rows:,} row(s) name genes outside the model's panel (e.g. "
                         f"{', '.join(spec.unknown_examples)}); ignored.")
        return Read(names, profiles, reading, found.description, notes, details)
    header = gene_columns_header(table.header) if found.kind == "gene columns" else table.header
    layout = (LongLayout(header, schema, reading) if found.kind == "long"
              else WideLayout(header, schema, reading, combine_repeated=found.kind == "gene columns"))
    arrays = SampleArrays(schema, limits)
    for chunk, first_line in table.chunks(rows_per_chunk(table), keep=getattr(layout, "needed", None)):
        layout.read(chunk, first_line, arrays, limits)
    if not len(arrays):
        raise UserError(f"{table.name} has a header but no rows; expected at least one sample.")
    return Read(arrays.names, {m: v.copy() for m, v in arrays.profiles().items()}, reading, found.description)


def read_mutations(table: Table, schema: ProfileSchema, limits: Limits) -> mutation_lists.MutationCalls:
    if [c.strip().lower() for c in table.header[:2]] == ["gene symbol", "locus id"]:
        raise UserError(f"{table.name} is a GISTIC gene-by-sample table (Gene Symbol, Locus ID, then samples), which is "
                        "not read as a mutation list: its -2..2 calls are thresholds of each sample's relative copy number, not copies. Write the calls "
                        "that count as a table with the columns sample, gene, status: amp where GISTIC says 2, del "
                        "where it says -2 (e.g. 'BT-474,ERBB2,amp'); other genes stay unknown.")
    found = recognise(table, schema)
    name = sample_name(table.name)
    if found.kind == "vcf":
        return mutation_lists.read_vcf(table, schema, limits, name)
    if found.kind == "mutation table":
        return mutation_lists.read_table(table, schema, limits, name)
    if found.kind == "alteration list":
        text = table._source if isinstance(table._source, (bytes, bytearray)) else Path(table._source).read_bytes()
        return mutation_lists.read_items(bytes(text).decode(table.encoding, "replace"), schema, name)
    raise UserError(f"{table.name} is not a mutation list (read as {found.description}). Accepted for mutations: an "
                    "annotated VCF, a MAF, a table with gene and protein_change columns, or text such as "
                    "'BRAF V600E, TP53 R273H'.")


def parse_profiles(source: bytes | str | Path, schema: ProfileSchema, limits: Limits = APP, name: str | None = None,
                   mutations: bytes | str | Path | None = None, mutations_name: str | None = None) -> UploadReport:
    """Every sample of one expression file as model inputs in the model's order, with the events of an optional
    mutation file merged in, checked and reported; refusals are ``UserError``."""
    table = open_table(source, limits, name)
    found = recognise(table, schema)
    read = read_expression(table, schema, limits, found)
    pointed = redirected(schema, read.reading.unknown)  # names reported with the event that counts, not as unknown
    notes = identifier_notes(read.reading, read.details, pointed) + read.notes
    notes += unread_input_notes(read.profiles, schema, read.details, read.reading.unknown)
    if mutations is not None:
        mutation_table = open_table(mutations, limits, mutations_name)
        calls = read_mutations(mutation_table, schema, limits)
        notes += merge_mutations(read.names, read.profiles, calls, schema, mutation_table.name, read.details)
    unknown = {m: len(v - pointed.get(m, set())) for m, v in read.reading.unknown.items()}
    report = validate(read.names, read.profiles, unknown, schema)
    report.source, report.format = table.name, f"{table.format}; {read.description}"
    report.notes = notes + report.notes
    report.details = {"format": report.format, **read.details}
    return report
