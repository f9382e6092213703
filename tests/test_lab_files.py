"""Labs' own files: every supported format of the same real GDSC sample predicts what the app's native layout does.

The files are written from the fixture bundle's real profiles by ``tests/fixtures/lab_files.py``: TPM tables named by
symbol, lower-case symbol, current HGNC symbol or Ensembl ID (with and without version), nf-core's merged table,
RSEM and Salmon outputs, GCT 1.2, genes as columns, Excel, parquet; and mutation lists (VCF, MAF, gene and change,
plain text) beside an expression file.
"""

import io
import sys
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
