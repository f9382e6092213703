"""Property-based fuzzing of every reader a user's file reaches: the app's parser and the batch CLI's, for text,
VCF, parquet (duplicate and dictionary-encoded columns) and Excel workbooks. Whatever the bytes, the outcome is a
report or a ``UserError`` with a message, never another exception."""

import io
import string

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drugresponse.errors import UserError
from drugresponse.serve.batch import predict_file
from drugresponse.serve.calibration import Calibration
from drugresponse.serve.uploads import parse_profiles

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=60)  # the formats that cost more per example (workbooks, VCF with a report)
VCF_COLUMNS = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
ODD_NUMBERS = ["1e308", "-1e308", "inf", "-inf", "Infinity", "-0", "0", "NaN", "nan", "NA", "", " 1.5 ", "1,5", "0x10",
               "1e-320", "3.4e38", "-3.5e38", "٣", "1_000", "+2", "--1", "1e", ".", "null", "None", "#N/A", "1" * 400]


@pytest.fixture(scope="module")
def vocabulary(schema):
    genes = schema.features_read["expression"][:6] + ["TP53", "tp53", "ENSG00000141510", "NOT_A_GENE"]
    events = schema.features_read["drivers"][:3] + ["ERBB2_amp", "BCR-ABL1", "gain_cnaPANCAN301_(CDK12", "ERBB2"]
    return {"columns": ["sample", "Sample", "gene", "modality", "value", "gene_id", "gene_name", "TPM", "Name",
                        "Description", "protein_change", "Hugo_Symbol", "Variant_Classification", "#CHROM", "x", ""]
            + [f"expression:{g}" for g in genes] + [f"driver:{e}" for e in events] + [f"mutation:{g}" for g in genes]
            + genes,
            "cells": ODD_NUMBERS + genes + events + ["expression", "driver", "mutation", "copy_number", "S1", "S2",
                                                      "=cmd()", "V600E", "WT", "amp"]}


def _outcome(parse) -> None:
    try:
        result = parse()
    except UserError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert result is not None


def tables(vocabulary):
    """CSV-like files: a header and rows drawn from the names and odd values users send, with varied separators,
    line ends, BOMs, quoting and ragged rows."""
    cell = st.sampled_from(vocabulary["cells"]) | st.text(string.printable, max_size=12)
    header = st.lists(st.sampled_from(vocabulary["columns"]), min_size=1, max_size=8)
    rows = st.lists(st.lists(cell, min_size=0, max_size=9), max_size=6)
    return st.tuples(header, rows, st.sampled_from([",", "\t", ";"]), st.sampled_from(["\n", "\r\n"]),
                     st.sampled_from([b"", b"\xef\xbb\xbf"]), st.booleans())


def render(header, rows, separator, newline, bom, quote) -> bytes:
    wrap = (lambda v: '"' + v.replace('"', '""') + '"') if quote else (lambda v: v)
    lines = [separator.join(map(wrap, header))] + [separator.join(map(wrap, row)) for row in rows]
    return bom + newline.join(lines).encode("utf-8", "surrogatepass") + newline.encode()


def test_random_bytes_end_in_a_report_or_a_message(schema):
    @SETTINGS
    @given(st.binary(max_size=3000))
    def check(data):
        _outcome(lambda: parse_profiles(data, schema, name="random.bin"))
    check()


def test_csv_like_files_end_in_a_report_or_a_message(schema, vocabulary):
    @SETTINGS
    @given(tables(vocabulary), st.sampled_from([None, "latin-1"]))
    def check(table, encoding):
        data = render(*table)
        if encoding:
            data = data.decode("utf-8", "replace").encode(encoding, "replace")
        _outcome(lambda: parse_profiles(data, schema, name="fuzz.csv"))
    check()


def test_a_second_file_of_mutations_ends_in_a_report_or_a_message(schema, vocabulary, bundle):
    from .test_serve_uploads import wide_csv

    expression = wide_csv(bundle, [0], modalities=("expression",))

    @SETTINGS
    @given(tables(vocabulary))
    def check(table):
        _outcome(lambda: parse_profiles(expression, schema, mutations=render(*table), mutations_name="calls.txt"))
    check()


def test_parquet_files_end_in_a_report_or_a_message(schema, vocabulary):
    values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.integers(-2**63, 2**63 - 1),
                       st.sampled_from(vocabulary["cells"]), st.none())

    @SETTINGS
    @given(st.lists(st.sampled_from(vocabulary["columns"]), min_size=1, max_size=6, unique=True),
           st.lists(values, min_size=1, max_size=24))
    def check(columns, cells):
        data = {c: [cells[(i + k) % len(cells)] for i in range(3)] for k, c in enumerate(columns)}
        try:
            frame = pl.DataFrame(data, strict=False)
        except Exception:  # a column polars cannot type: not a parquet file anyone could send
            return
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        _outcome(lambda: parse_profiles(buffer.getvalue(), schema, name="fuzz.parquet"))
    check()


def test_the_batch_reader_ends_in_output_or_a_message(runtime, schema, assets_dir, vocabulary, tmp_path):
    calibration = Calibration.load(assets_dir / "evaluation", runtime.drugs)
    counter = iter(range(10**6))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(tables(vocabulary), st.booleans(), st.booleans())
    def check(table, as_parquet, skip):
        k = next(counter)
        source = tmp_path / f"in{k}.csv"
        source.write_bytes(render(*table))
        if as_parquet:
            try:
                pl.read_csv(source, infer_schema=False).write_parquet(tmp_path / f"in{k}.parquet")
            except Exception:  # not a table polars reads: the text form is fuzzed anyway
                return
            source = tmp_path / f"in{k}.parquet"
        out = tmp_path / f"out{k}.csv"
        try:
            report = predict_file(runtime, calibration, source, out, chunk=2, progress=False, skip_invalid=skip,
                                  schema=schema)
        except UserError:
            assert not out.exists()
            return
        assert out.is_file() and report["samples"] >= 1
    check()


def test_odd_numbers_are_refused_or_missing_never_silently_wrong(schema, bundle):
    from .test_serve_uploads import wide_csv

    table = pl.read_csv(wide_csv(bundle, [0], modalities=("expression",)), infer_schema=False)
    gene = next(c for c in table.columns if c.startswith("expression:"))
    for token in ODD_NUMBERS:
        data = table.with_columns(pl.lit(token).alias(gene)).write_csv().encode()
        try:
            report = parse_profiles(data, schema)
        except UserError as exc:  # the cell (or the sample's scale it breaks) is named
            assert gene in str(exc) or "sample '" in str(exc)
            continue
        value = report.profiles["expression"][0, schema.features["expression"].index(gene.split(":", 1)[1])]
        assert np.isnan(value) or np.isfinite(value)


def vcfs(vocabulary):
    """VCF-shaped files: meta lines (a file format, CSQ or ANN with a random Format), a ``#CHROM`` line with a random
    number of columns and samples, and rows of annotation-like and random cells."""
    field = st.sampled_from(["Allele", "Consequence", "SYMBOL", "Gene", "IMPACT", "", "x"])
    annotated = st.builds(lambda key, fields: f'##INFO=<ID={key},Number=.,Type=String,Description="Format: '
                          f'{"|".join(fields)}">', st.sampled_from(["CSQ", "ANN"]), st.lists(field, max_size=5))
    other = st.sampled_from(["##fileformat=VCFv4.2", "##source=fuzz", "##INFO=<ID=DP,Number=1>"])
    meta = st.tuples(st.lists(other, max_size=3), st.lists(annotated, max_size=2)).map(lambda m: m[0] + m[1])
    header = (st.sampled_from([8, 9, 10, 11]) | st.integers(1, 12)).map(
        lambda n: VCF_COLUMNS[:n] + [f"S{i}" for i in range(max(0, n - 9))])
    annotation = st.builds(lambda key, parts: f"{key}=" + ",".join("|".join(p) for p in parts),
                           st.sampled_from(["CSQ", "ANN", "DP"]),
                           st.lists(st.lists(st.sampled_from(["T", "missense_variant", "stop_gained", "BRAF", "TP53",
                                                               "synonymous_variant", "&", ""]), max_size=5),
                                    max_size=3))
    cell = annotation | st.sampled_from(["PASS", ".", "0/1", "1|1", "0/0", "GT:AD", "7", "140453136", "A", "T"]) \
        | st.sampled_from(vocabulary["cells"]) | st.text(string.printable, max_size=10)
    rows = header.flatmap(lambda h: st.tuples(st.just(h), st.lists(  # mostly one cell per column, some ragged
        st.one_of(*[st.lists(cell, min_size=len(h), max_size=len(h))] * 3, st.lists(cell, max_size=12)), max_size=5)))
    return st.tuples(meta, rows).map(lambda t: (t[0], *t[1]))


def render_vcf(meta, header, rows) -> bytes:
    lines = [*meta, "#" + "\t".join(header)] + ["\t".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def test_vcf_shaped_files_end_in_a_report_or_a_message(schema, vocabulary, bundle):
    from .test_serve_uploads import wide_csv

    expression = wide_csv(bundle, [0], modalities=("expression",))

    @FEWER
    @given(vcfs(vocabulary), st.booleans())
    def check(vcf, as_mutations):
        data = render_vcf(*vcf)
        if as_mutations:
            _outcome(lambda: parse_profiles(expression, schema, mutations=data, mutations_name="calls.vcf"))
        else:
            _outcome(lambda: parse_profiles(data, schema, name="calls.vcf"))
    check()


def test_excel_workbooks_end_in_a_report_or_a_message(schema, vocabulary):
    value = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**53, 2**53), st.booleans(),
                      st.sampled_from(vocabulary["cells"]), st.text(string.printable, max_size=12), st.none())

    @FEWER
    @given(st.lists(st.sampled_from(vocabulary["columns"] + ["", "sample"]), min_size=1, max_size=6),
           st.lists(st.lists(value, max_size=7), max_size=5), st.integers(0, 3))
    def check(header, rows, skip):
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
        sheet = book.add_worksheet()
        for r, row in enumerate([header, *rows]):
            for c, cell in enumerate(row):
                if cell is not None:
                    sheet.write(r + skip, c, cell)  # skip: a sheet whose table starts below its first row
        book.close()
        _outcome(lambda: parse_profiles(buffer.getvalue(), schema, name="fuzz.xlsx"))
    check()


def test_parquet_with_repeated_and_dictionary_columns_ends_in_a_report_or_a_message(schema, vocabulary):
    kinds = {"float": st.floats(allow_nan=True, allow_infinity=True), "int": st.integers(-2**63, 2**63 - 1),
             "text": st.sampled_from(vocabulary["cells"]), "category": st.sampled_from(vocabulary["cells"]),
             "bool": st.booleans()}
    column = st.sampled_from(sorted(kinds)).flatmap(
        lambda kind: st.tuples(st.just(kind), st.lists(kinds[kind] | st.none(), min_size=3, max_size=3)))

    @FEWER
    @given(st.lists(st.tuples(st.sampled_from(vocabulary["columns"][:8]), column), min_size=1, max_size=6))
    def check(columns):
        arrays = []
        for _, (kind, cells) in columns:
            kind_type = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}.get(kind, pa.string())
            array = pa.array(cells, kind_type)
            arrays.append(array.dictionary_encode() if kind == "category" else array)
        buffer = io.BytesIO()
        pq.write_table(pa.table(arrays, names=[name for name, _ in columns]), buffer)  # names may repeat
        _outcome(lambda: parse_profiles(buffer.getvalue(), schema, name="fuzz.parquet"))
    check()
