"""Labs' own files: every supported format of the same real GDSC sample predicts what the app's native layout does.

The files are written from the fixture bundle's real profiles by ``tests/fixtures/lab_files.py``: TPM tables named by
symbol, lower-case symbol, current HGNC symbol or Ensembl ID (with and without version), nf-core's merged table,
RSEM and Salmon outputs, GCT 1.2, genes as columns, Excel, parquet, a TSV named .csv, the app's long layout by
Ensembl ID; and mutation lists (VCF, MAF, gene and change, plain text) beside an expression file. Also refused with
what to change: a panel of too few genes, and files that are not an accepted type.
"""

import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.serve.uploads import parse_profiles

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import lab_files  # noqa: E402

from .conftest import FIXTURES, HGNC_FIXTURE  # noqa: E402
from .test_serve_uploads import wide_csv  # noqa: E402

TOLERANCE = 1e-5  # ln µM: the goal for "the same sample in every format"
ROWS = [4, 9]


@pytest.fixture(scope="module")
def names(bundle):
    return lab_files.hgnc_names(FIXTURES / "sources" / HGNC_FIXTURE, bundle.genes)


@pytest.fixture(scope="module")
def samples(bundle):
    return {bundle.cell_lines["cell_line"][r]: bundle.profiles["expression"][r].astype(np.float64) for r in ROWS}


def native(bundle, runtime, schema, rows=ROWS, drivers=None):
    """Predictions from the app's wide layout with expression only (plus ``drivers`` values, NaN = unknown)."""
    report = parse_profiles(wide_csv(bundle, rows, modalities=("expression",)), schema)
    if drivers is not None:
        report.profiles["drivers"][:] = drivers
    return runtime.predict(report.profiles)


def check(runtime, report, expected):
    got = runtime.predict(report.profiles)
    assert np.abs(got - expected).max() <= TOLERANCE, np.abs(got - expected).max()


@pytest.mark.parametrize("how", ["symbol", "lower", "current", "ensembl", "ensembl_version"])
def test_a_tpm_table_with_genes_as_rows_in_any_naming(bundle, runtime, schema, names, samples, how):
    report = parse_profiles(lab_files.genes_as_rows(bundle.genes, names, samples, how), schema, name="tpm.tsv")
    assert report.samples == list(samples)
    assert "genes as rows" in report.format and "tab-separated" in report.format
    assert any("linear scale" in n for n in report.notes)
    assert report.imputed["expression"] == [0, 0]  # every gene the model reads was found
    check(runtime, report, native(bundle, runtime, schema))


def test_nf_core_merged_table_with_repeated_gene_names(bundle, runtime, schema, names, samples):
    report = parse_profiles(lab_files.nf_core_merged(bundle.genes, names, samples), schema,
                            name="salmon.merged.gene_tpm.tsv")
    assert "nf-core merged" in report.format
    assert report.details["unknown_rows"] == 2  # the two Y_RNA rows: not model genes, ignored, not an error
    check(runtime, report, native(bundle, runtime, schema))


@pytest.mark.parametrize("writer, kind", [("rsem", "RSEM"), ("salmon", "Salmon")])
def test_one_sample_rnaseq_outputs(bundle, runtime, schema, names, samples, writer, kind):
    sample, values = next(iter(samples.items()))
    data = getattr(lab_files, writer)(bundle.genes, names, values)
    report = parse_profiles(data, schema, name=f"{sample}.genes.results" if writer == "rsem" else "quant.genes.sf")
    assert kind in report.format and len(report.samples) == 1
    check(runtime, report, native(bundle, runtime, schema, ROWS[:1]))


def test_gct_genes_as_columns_excel_and_parquet(bundle, runtime, schema, names, samples):
    expected = native(bundle, runtime, schema)
    gct = parse_profiles(lab_files.gct(bundle.genes, samples), schema, name="expression.gct")
    assert "GCT 1.2" in gct.format and not any("linear" in n for n in gct.notes)  # GCT here holds log values
    check(runtime, gct, expected)
    columns = parse_profiles(lab_files.genes_as_columns(bundle.genes, names, samples), schema, name="matrix.tsv")
    assert "genes as columns" in columns.format
    check(runtime, columns, expected)
    table = pl.read_csv(io.BytesIO(lab_files.genes_as_rows(bundle.genes, names, samples, "current")), separator="\t")
    buffer = io.BytesIO()
    table.write_excel(buffer)
    excel = parse_profiles(buffer.getvalue(), schema, name="tpm.xlsx")
    assert excel.format.startswith("Excel")
    check(runtime, excel, expected)
    buffer = io.BytesIO()
    table.write_parquet(buffer)
    check(runtime, parse_profiles(buffer.getvalue(), schema, name="tpm.parquet"), expected)


def _carried(bundle, row: int) -> np.ndarray:
    return bundle.profiles["drivers"][row]


@pytest.mark.parametrize("fmt", ["vcf", "maf", "gene_change_list", "item_text"])
def test_mutation_lists_map_onto_gdsc_events(bundle, runtime, schema, names, samples, fmt):
    row = next(r for r in range(len(bundle.cell_lines)) if np.nansum(_carried(bundle, r)) >= 3)
    sample = bundle.cell_lines["cell_line"][row]
    changes = lab_files.alterations(bundle.driver_names, _carried(bundle, row))
    writer = getattr(lab_files, fmt)
    data = writer(changes) if fmt == "item_text" else writer(sample, changes)
    expression = lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][row]})
    report = parse_profiles(expression, schema, name="tpm.tsv", mutations=data, mutations_name=f"calls.{fmt}")
    # what each format carries: protein changes always; WT rows, regions and fusions only in the lists
    expected = np.full(len(bundle.driver_names), np.nan, np.float32)
    for gene, change, event in changes:
        protein = lab_files.PROTEIN(change)
        if protein or fmt == "gene_change_list" or (fmt == "item_text" and change != "WT"):
            expected[bundle.driver_names.index(event)] = 0.0 if change == "WT" else 1.0
    np.testing.assert_array_equal(report.profiles["drivers"][0], expected)
    assert report.details["mutations"]["events"]
    check(runtime, report, native(bundle, runtime, schema, [row], expected))


def test_a_vcf_without_annotation_is_refused_with_what_to_do(bundle, schema, names, samples):
    expression = lab_files.genes_as_rows(bundle.genes, names, samples)
    plain = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t1\t.\tA\tT\t9\tPASS\t.\n"
    with pytest.raises(UserError, match="no gene annotation.*VEP or snpEff"):
        parse_profiles(expression, schema, mutations=plain, mutations_name="raw.vcf")


def test_a_mutation_file_alone_says_expression_is_needed(schema):
    with pytest.raises(UserError, match="holds mutations.*no expression"):
        parse_profiles(b"gene,protein_change\nBRAF,V600E\n", schema, name="calls.csv")


def test_unquoted_region_names_and_aliases_in_the_wide_layout(bundle, runtime, schema):
    region = next(e for e in bundle.driver_names if e.startswith("gain_cnaPANCAN") and "," in e)
    gene = region.split("(")[1].split(",")[0]
    table = pl.read_csv(wide_csv(bundle, [0], modalities=("expression",)))
    csv = table.write_csv().encode()
    header, body = csv.split(b"\n", 1)
    unquoted = header + f",driver:{region}".encode() + b"\n" + body.rstrip(b"\n") + b",1\n"
    alias = header + f",driver:{gene.lower()}_amp".encode() + b"\n" + body.rstrip(b"\n") + b",1\n"
    j = bundle.driver_names.index(region)
    for data in (unquoted, alias):
        report = parse_profiles(data, schema)
        assert report.profiles["drivers"][0, j] == 1.0


def test_a_mutation_column_the_model_does_not_read_points_to_the_event(bundle, schema):
    """The shipped model reads no per-gene mutation input (its inner splits chose expression and events); the fixture
    model reads some, so the schema here is the fixture's with no per-gene mutation read, as the shipped one."""
    from dataclasses import replace

    shipped_like = replace(schema, features_read={**schema.features_read, "mutation": []})
    event = next(e for e in schema.features_read["drivers"] if e.endswith("_mut") and e[:-4] in bundle.genes)
    table = pl.read_csv(wide_csv(bundle, [0], modalities=("expression",)))
    data = table.with_columns(pl.lit(1).alias(f"mutation:{event[:-4]}")).write_csv().encode()
    report = parse_profiles(data, shipped_like)
    assert any(f"mutation:{event[:-4]} → driver:{event}" in n for n in report.notes)
    assert not any("mutation:" in n for n in parse_profiles(table.write_csv().encode(), shipped_like).notes)


# the same file under another name, gene IDs in the app's own long layout, panels, and files that are not tables

def test_a_genes_as_rows_tsv_renamed_csv_reads_as_the_tsv(bundle, runtime, schema, names, samples):
    """Issue 22: a TSV saved as .csv was refused as an unrecognised layout; the delimiter comes from the content."""
    data = lab_files.genes_as_rows(bundle.genes, names, samples, "ensembl_version")
    tsv, csv = (parse_profiles(data, schema, name=name) for name in ("tpm.tsv", "tpm.csv"))
    assert csv.samples == tsv.samples == list(samples)
    assert csv.format == tsv.format and "tab-separated" in csv.format and "genes as rows" in csv.format
    for modality, values in tsv.profiles.items():
        np.testing.assert_array_equal(csv.profiles[modality], values)
    check(runtime, csv, native(bundle, runtime, schema))


def long_layout(genes: list[str], samples: dict[str, np.ndarray]) -> bytes:
    """The app's long layout: one expression row per sample and gene (the profile's own log values)."""
    rows = [(s, g, "expression", float(v)) for s, values in samples.items() for g, v in zip(genes, values)]
    return pl.DataFrame(rows, schema=["sample", "gene", "modality", "value"], orient="row").write_csv().encode()


@pytest.mark.parametrize("how", ["ensembl", "ensembl_version"])
def test_the_long_layout_with_ensembl_ids_predicts_as_with_symbols(bundle, runtime, schema, names, samples, how):
    symbols = parse_profiles(long_layout(bundle.genes, samples), schema, name="long.csv")
    ensembl = parse_profiles(long_layout(lab_files.named(bundle.genes, names, how), samples), schema, name="long.csv")
    assert ensembl.samples == symbols.samples == list(samples) and "long layout" in ensembl.format
    assert ensembl.imputed["expression"] == symbols.imputed["expression"] == [0, 0]
    assert any(n.startswith("expression:") and "by Ensembl gene ID" in n for n in ensembl.notes), ensembl.notes
    check(runtime, ensembl, runtime.predict(symbols.profiles))
    check(runtime, ensembl, native(bundle, runtime, schema))


def test_a_panel_of_a_quarter_of_the_model_genes_is_refused_pointing_to_the_gene_list(bundle, schema, names, samples):
    """A 500-gene panel against the shipped model's 2,000 genes: here a quarter of the fixture model's genes."""
    read = schema.features_read["expression"]
    panel = read[: len(read) // 4]
    keep = [bundle.genes.index(g) for g in panel]
    data = lab_files.genes_as_rows(panel, names, {s: v[keep] for s, v in samples.items()})
    with pytest.raises(UserError) as refused:
        parse_profiles(data, schema, name="panel.tsv")
    message = str(refused.value)
    assert f"has expression for {len(panel)} of the {len(read)} genes the model reads" in message
    assert "at least 50% are needed" in message
    assert "The list of genes it reads can be downloaded in the app (Your sample tab)." in message


ACCEPTED = "Accepted file types: .csv, .tsv, .txt, .tab, .parquet, .xlsx, .gct, .results, .sf, .vcf, .maf"


def _zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("name, kind, says", [
    ("results.pdf", "pdf", "results.pdf is a .pdf file"),
    ("table.docx", "docx", "table.docx is a .docx file"),
    ("table.xls", "xls", "table.xls is a .xls file, which cannot be read; open it in Excel and save it as .xlsx"),
    ("tpm.tsv.gz", "gz", "tpm.tsv.gz is a .gz file, which cannot be read; decompress it first"),
    ("tpm.zip", "zip", "tpm.zip is a .zip file, which cannot be read; unzip it"),
    ("TPM.PDF", "pdf", "TPM.PDF is a .pdf file"),
    (None, "pdf", "upload is a PDF document"),  # bytes sent without a name: their first bytes say what they are
    (None, "gz", "upload is a gzip-compressed file, which cannot be read; decompress it first"),
    ("tpm.csv", "xls", "tpm.csv is an old Office file (.xls or .doc)"),
])
def test_a_file_that_is_not_an_accepted_type_says_so_with_the_accepted_types(bundle, schema, names, samples, name,
                                                                              kind, says):
    """Issue 22: a PDF was 'a header but no rows', a .docx 'not a readable Excel file', a .gz or .xls 'compressed or
    binary'; each now gets one message naming its type and the accepted ones (the app's file picker's list)."""
    table = lab_files.genes_as_rows(bundle.genes, names, samples)  # what the lab meant to send, wrapped
    data = {"pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
            "docx": _zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": table}),
            "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + table, "gz": gzip.compress(table),
            "zip": _zipped({"tpm.tsv": table})}[kind]
    with pytest.raises(UserError) as refused:
        parse_profiles(data, schema, name=name)
    assert says in str(refused.value) and ACCEPTED in str(refused.value)
    with pytest.raises(UserError, match=ACCEPTED):  # as the mutation file beside an expression file, too
        parse_profiles(table, schema, name="tpm.tsv", mutations=data, mutations_name=name)


def test_the_apps_file_picker_offers_the_types_the_readers_accept():
    from drugresponse.serve import sample_tab
    from drugresponse.serve.uploads import FILE_TYPES

    assert sample_tab.FILE_TYPES == FILE_TYPES and ACCEPTED.endswith(", ".join(FILE_TYPES))


@pytest.mark.parametrize("name", ["S1.tpm", "counts.tabular", "patient.A1", "salmon_quant"])
def test_a_table_under_a_name_no_list_knows_is_read_by_its_content(bundle, schema, names, samples, name):
    """Only names and first bytes of kinds that hold no readable table are refused: a lab's `.tpm` or `.tabular`
    file (or a file with no extension) is the table it looks like."""
    table = lab_files.genes_as_rows(bundle.genes, names, samples)
    assert parse_profiles(table, schema, name=name).samples == parse_profiles(table, schema, name="t.tsv").samples
