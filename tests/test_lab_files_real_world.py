"""Lab files as they come from the field, beyond the round trip of ``test_lab_files``: mutation lists whose words are
not mutations, tumour/normal VCFs, malformed VCFs, plain lists with unknown genes, genes GDSC names twice, repeated
genes in genes-as-columns tables, gene-level copy number, the report's counts, transcript-level Salmon files, and
the example lab files the user guide uploads (``examples/lab_files/``, read with the committed model).

Expression comes from the fixture bundle's real profiles (``tests/fixtures/lab_files.py``). The alterations written
beside it are chosen to exercise a rule (a lab's ``TP53 not tested``), not to describe the line: they are lists a user
could type, read against GDSC's real event names.
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.paths import ASSETS_DIR
from drugresponse.serve.uploads import parse_profiles

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import lab_files  # noqa: E402

from .lab_samples import ROW  # noqa: E402

# 5. one HGNC gene that GDSC names twice (C2orf48 and RRM2, both ENSG00000171848 in HGNC's table)

@pytest.mark.skipif(not (ASSETS_DIR / "gene_identifiers.parquet").is_file(), reason="no committed identifier table")
def test_one_gene_named_twice_by_gdsc_maps_to_the_name_the_model_reads():
    from drugresponse.serve.uploads.identifiers import AMBIGUOUS, GeneResolver

    keys = ["ENSG00000171848", "RRM2", "C2ORF48"]  # rows of the committed (real HGNC) table, as the app reads them
    table = pl.read_parquet(ASSETS_DIR / "gene_identifiers.parquet").filter(pl.col("identifier").is_in(keys))
    assert table.filter(pl.col("identifier") == "ENSG00000171848")["rule"].to_list() == ["ambiguous"]
    genes = GeneResolver(["C2orf48", "RRM2", "TP53"], table)
    assert genes.resolve(["ENSG00000171848.13"], {"RRM2", "TP53"}).indices.tolist() == [1]
    assert genes.resolve(["ENSG00000171848"], {"C2orf48"}).indices.tolist() == [0]
    for read in (None, {"C2orf48", "RRM2"}, {"TP53"}):  # neither or both read: still ambiguous, never merged
        assert genes.resolve(["ENSG00000171848"], read).indices.tolist() == [AMBIGUOUS]


@pytest.mark.skipif(not (ASSETS_DIR / "model.onnx").is_file(), reason="no committed model")
def test_an_ensembl_only_file_keeps_rrm2_with_the_shipped_model():
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.uploads import ProfileSchema

    schema = ProfileSchema.beside(load_runtime(ASSETS_DIR / "model.onnx", "cpu"), ASSETS_DIR / "model.onnx")
    assert "RRM2" in schema.features_read["expression"] and "C2orf48" not in schema.features_read["expression"]
    ids = pl.read_parquet(ASSETS_DIR / "gene_identifiers.parquet").filter(pl.col("rule") == "ensembl")
    ensembl = {symbol: key for key, symbol in ids.select("identifier", "symbol").iter_rows()}
    ensembl["RRM2"] = "ENSG00000171848"
    profile = pl.read_parquet(ASSETS_DIR / "profiles_expression.parquet").row(0)
    genes = schema.features["expression"]
    rows = [(ensembl[g] + ".14", float(v)) for g, v in zip(genes, profile[1]) if g in ensembl]
    data = pl.DataFrame(rows, schema=["gene_id", profile[0]], orient="row").write_csv(separator="\t").encode()
    report = parse_profiles(data, schema, name="ensembl_only.tsv")
    assert np.isfinite(report.profiles["expression"][0, genes.index("RRM2")])
    assert report.details["identifiers"]["expression"]["one_gene_read"]["ENSG00000171848.14"].startswith("RRM2")
    assert any("ENSG00000171848.14 → RRM2" in n for n in report.notes)


# 6. repeated genes in genes-as-columns tables

def test_genes_as_columns_with_repeated_and_renamed_genes(bundle, runtime, schema, names, sample):
    # a gene the model reads whose current HGNC symbol is not GDSC's spelling (as KIAA1324 -> ELAPOR1)
    gene = next(g for g in schema.features_read["expression"] if names[g].get("current", g) != g)
    table = pl.read_csv(lab_files.genes_as_columns(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]},
                                                   how="symbol"), separator="\t")
    tpm = table[gene].to_numpy()
    # GDSC's name holds a quarter of the TPM, the current symbol the rest: summed on a linear scale
    split = table.with_columns(pl.lit(tpm * 0.25).alias(gene), pl.lit(tpm * 0.75).alias(names[gene]["current"]),
                               pl.lit(3.0).alias("Y_RNA"))
    header = split.columns + ["Y_RNA"]
    body = [list(map(str, r)) + ["4.0"] for r in split.rows()]
    data = "\n".join(["\t".join(header)] + ["\t".join(r) for r in body]).encode()
    report = parse_profiles(data, schema, name="matrix.tsv")
    native = parse_profiles(lab_files.genes_as_columns(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]},
                                                       how="symbol"), schema, name="matrix.tsv")
    j = schema.features["expression"].index(gene)
    assert report.profiles["expression"][0, j] == pytest.approx(native.profiles["expression"][0, j], rel=1e-5)
    assert report.details["duplicated_genes"] == {gene: 2}
    assert any("more than one column" in n and gene in n for n in report.notes)
    assert np.abs(runtime.predict(report.profiles) - runtime.predict(native.profiles)).max() <= 1e-5


def test_the_same_gene_name_twice_is_combined_when_a_table_has_genes_as_columns(schema):
    from drugresponse.serve.uploads.app_layouts import Reading, WideLayout
    from drugresponse.serve.uploads.limits import APP
    from drugresponse.serve.uploads.reader import gene_columns_header
    from drugresponse.serve.uploads.samples import SampleArrays
    from drugresponse.serve.uploads.tables import open_table

    gene = schema.features["expression"][0]
    table = open_table(f"sample\t{gene}\t{gene}\nS1\t1.0\t3.0\nS2\t100.0\t200.0\n".encode(), APP, "matrix.tsv")
    reading, arrays = Reading(), SampleArrays(schema, APP)
    layout = WideLayout(gene_columns_header(table.header), schema, reading, combine_repeated=True)
    for chunk, first_line in table.chunks():
        layout.read(chunk, first_line, arrays, APP)
    # S1 is on a log scale (averaged), S2 on a linear one (its largest value above 100: summed)
    assert arrays.profiles()["expression"][:, 0].tolist() == [2.0, 300.0]
    assert reading.duplicates == {gene: 2}
    with pytest.raises(UserError, match="appears more than once"):  # the app's own wide layout still refuses it
        WideLayout(gene_columns_header(table.header), schema, Reading())
    # and an upload of that genes-as-columns table (through the app's reader) combines the two columns the same way
    data = f"sample\t{gene}\t{gene}\tY_RNA\tY_RNA\nS1\t1.0\t3.0\t5\t6\n".encode()
    with pytest.raises(UserError, match="has expression for 1 of the"):  # one gene: refused for coverage, not repeats
        parse_profiles(data, schema, name="matrix.tsv")


def test_featurecounts_output_is_read_as_genes_as_rows(bundle, names, schema, sample):
    """featureCounts writes a '# Program' line, then Geneid, Chr, Start, End, Strand, Length and one column of read
    counts per BAM file: the annotation columns are not samples, and the sample is named after its file."""
    rows = pl.read_csv(lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]}),
                       separator="\t")
    counts = rows.select(pl.col("gene").alias("Geneid"), pl.lit("chr1").alias("Chr"), pl.lit(1).alias("Start"),
                         pl.lit(2000).alias("End"), pl.lit("+").alias("Strand"), pl.lit(2000).alias("Length"),
                         (pl.col(sample) * 20).round().alias(f"/data/align/{sample}.sorted.bam"))
    data = ('# Program:featureCounts v2.0.6; Command:"featureCounts" "-a" "genes.gtf"\n'.encode()
            + counts.write_csv(separator="\t").encode())
    report = parse_profiles(data, schema, name="counts.txt")
    assert report.samples == [sample] and "featureCounts" in report.format
    tpm_like = parse_profiles(lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]}),
                              schema, name="tpm.tsv")
    read = schema.read_columns["expression"]
    same = np.corrcoef(report.profiles["expression"][0, read], tpm_like.profiles["expression"][0, read])[0, 1]
    assert same > 0.99  # counts of equal-length genes: the TPM up to a factor, after log2(x + 1)


# 8. the report's counts agree

def test_unknown_and_ambiguous_rows_are_counted_once_each(bundle, schema, names, sample):
    ambiguous = next(k for k, (symbol, rule, c) in schema.genes.table.items() if rule == "ambiguous" and not
                     k.startswith("ENSG") and k.upper() not in {g.upper() for g in bundle.genes})
    data = lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]})
    data += f"{ambiguous}\t5.0\nNOTAGENE1\t6.0\nNOTAGENE2\t7.0\n".encode()
    report = parse_profiles(data, schema, name="tpm.tsv")
    assert report.details["unknown_rows"] == 2
    assert report.details["identifiers"]["expression"]["ambiguous_count"] == 1
    summary = report.summary()
    assert "expression: 2 row(s) of genes outside the model's panel ignored, 1 ambiguous name(s) not used" in summary
    assert "expression: 0 unknown" not in summary
    assert [n for n in report.notes if "outside the model's panel" in n] == [
        "expression: 2 row(s) name genes outside the model's panel (e.g. NOTAGENE1, NOTAGENE2); ignored."]
    assert any(n.startswith("expression: 1 name(s) are ambiguous") for n in report.notes)


# 9. a transcript-level Salmon file

def test_a_transcript_level_salmon_file_says_which_file_to_upload(bundle, schema):
    """Real Ensembl transcript IDs (the canonical ones of BRAF, TP53, KRAS and EGFR) with a real profile's TPM: the
    IDs, not the values, are what the message is about."""
    transcripts = ["ENST00000288602.11", "ENST00000269305.9", "ENST00000256078.10", "ENST00000275493.7"]
    values = lab_files.tpm(bundle.profiles["expression"][ROW][:4])
    data = pl.DataFrame({"Name": transcripts, "Length": 2000, "EffectiveLength": 1850.0, "TPM": values,
                         "NumReads": np.round(values * 20)}).write_csv(separator="\t").encode()
    with pytest.raises(UserError, match="names transcripts, not genes.*salmon.merged.gene_tpm.tsv.*tximport"):
        parse_profiles(data, schema, name="quant.sf")


def test_batch_report_says_how_a_genes_as_rows_files_names_were_mapped(bundle, assets_dir, runtime, names, tmp_path):
    from drugresponse.serve.batch import predict_file
    from drugresponse.serve.calibration import Calibration

    samples = {bundle.cell_lines["cell_line"][r]: bundle.profiles["expression"][r] for r in (1, 2, 3)}
    (tmp_path / "ensembl.tsv").write_bytes(lab_files.genes_as_rows(bundle.genes, names, samples, how="ensembl"))
    from drugresponse.serve.uploads import ProfileSchema

    schema = ProfileSchema.beside(runtime, assets_dir / "model.onnx")  # as the CLI builds it: with the ID table
    report = predict_file(runtime, Calibration.load(assets_dir / "evaluation", runtime.drugs), tmp_path / "ensembl.tsv",
                          tmp_path / "out.parquet", chunk=2, progress=False, schema=schema)
    assert report["samples"] == 3
    assert any(note.startswith("expression:") and "Ensembl" in note for note in report["notes"]), report["notes"]


# 10. the example lab files the user guide's API example uploads (examples/lab_files/, cut from the committed catalog)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "lab_files"
COMMITTED = pytest.mark.skipif(not (ASSETS_DIR / "model.onnx").is_file() or not EXAMPLES.is_dir(),
                               reason="no committed model or example files")


@pytest.fixture(scope="module")
def shipped():
    """The committed model and catalog, as the app serves them (the examples were written from that catalog)."""
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.service import PredictionService

    return PredictionService(load_runtime(ASSETS_DIR / "model.onnx", "cpu"), Catalog.load(ASSETS_DIR))


@COMMITTED
@pytest.mark.parametrize("name, samples, kind", [
    ("BT-474.genes.results", ["BT-474"], "RSEM genes.results"),
    ("quant.genes.sf", ["quant"], "Salmon quant"),  # one sample, named after its file
    ("salmon.merged.gene_tpm.tsv", ["BT-474", "A375", "K-562"], "nf-core merged"),
    ("MCF7.gct", ["MCF7"], "GCT 1.2"),
])
def test_each_example_expression_file_reads_whole(shipped, name, samples, kind):
    report = parse_profiles(EXAMPLES / name, shipped.schema)
    assert report.samples == samples and kind in report.format
    assert report.imputed["expression"] == [0] * len(samples) and report.flags == [""] * len(samples)


@COMMITTED
@pytest.mark.parametrize("mutations, expression, carried", [
    ("BT-474_mutations.csv", "BT-474.genes.results", ["gain_cnaPANCAN301_(CDK12,ERBB2,MED24)", "TP53_mut"]),
    ("A375.vcf", "quant.genes.sf", ["BRAF_mut"]),
    ("A375_alterations.txt", "quant.genes.sf", ["BRAF_mut"]),
])
def test_each_example_mutation_file_sets_the_lines_events(shipped, mutations, expression, carried):
    report = parse_profiles(EXAMPLES / expression, shipped.schema, mutations=EXAMPLES / mutations)
    events = shipped.schema.features["drivers"]
    for event in carried:  # BT-474: ERBB2-amplified, TP53-mutant; A375: BRAF V600E
        assert report.profiles["drivers"][0, events.index(event)] == 1.0


@COMMITTED
def test_the_user_guides_api_example_predicts_the_catalogs_line(shipped):
    """``/predict_profile`` with BT-474's RSEM output, its gene and protein-change list and the tissue "breast", and
    ``/profile_report`` with the RSEM output alone: the service calls behind both endpoints."""
    table, report = shipped.predict_profile(EXAMPLES / "BT-474.genes.results", None,
                                            EXAMPLES / "BT-474_mutations.csv", "breast")
    drugs = shipped.runtime.drugs
    assert table.height == len(drugs) and table["sample"].unique().to_list() == ["BT-474"]
    assert table["predicted ln IC50"].is_finite().all() and "call within breast lines" in table.columns
    # the same line's catalog expression with the list's events: what the upload stands for
    row = shipped.catalog.row("BT-474")
    expected = {m: np.full_like(v, np.nan) for m, v in report.profiles.items()}
    expected["expression"][0] = shipped.catalog.profiles["expression"][row]
    expected["drivers"][0] = report.profiles["drivers"][0]
    predicted = table["predicted ln IC50"].to_numpy()
    assert np.abs(predicted - shipped.runtime.predict(expected)[0]).max() < 1e-3
    alone = shipped.parse(EXAMPLES / "BT-474.genes.results")
    lapatinib = drugs.index("Lapatinib")  # the ERBB2 amplicon, known only from the list, moves lapatinib (issue 22)
    assert predicted[lapatinib] < shipped.runtime.predict(alone.profiles)[0, lapatinib] - 0.3
    context = shipped.context(alone, "BT-474", "Lapatinib")
    assert context["similar_lines"][0]["cell_line"] == "BT-474" and context["similar_lines"][0]["pearson_r"] > 0.99
    assert context["unknown_events"]


# 10. files a newcomer's review found misread or refused with the wrong reason

@pytest.mark.parametrize("library, column", [("reverse", 3), ("forward", 2), ("unstranded", 1)])
def test_star_reads_per_gene_reads_the_count_column_that_fits_the_library(bundle, names, schema, sample, library,
                                                                          column):
    """STAR's ReadsPerGene.out.tab has no header and three count columns (unstranded, same strand, opposite strand);
    the wrong strand's column of a stranded library holds almost no reads and was read as three samples named by a
    count. The column read is the one whose strand leaves fewer reads on no gene, or the unstranded one when the two
    strands are alike; the sample is named after the file."""
    rows = pl.read_csv(lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]}),
                       separator="\t")
    counts = (rows[sample] * 20).round().cast(pl.Int64)
    few = (counts // 50).to_list()
    right, wrong = counts.to_list(), few
    strands = {"reverse": (right, wrong, right), "forward": (right, right, wrong),
               "unstranded": (right, [c // 2 for c in right], [c - c // 2 for c in right])}[library]
    no_feature = {"reverse": (900, 15_000, 1_000), "forward": (900, 1_000, 15_000),
                  "unstranded": (900, 8_000, 8_100)}[library]
    lines = ["N_unmapped\t1734\t1734\t1734", "N_multimapping\t2235\t2235\t2235",
             "N_noFeature\t" + "\t".join(map(str, no_feature)), "N_ambiguous\t1470\t167\t1064"]
    lines += ["\t".join(map(str, values)) for values in zip(rows["gene"].to_list(), *strands)]
    report = parse_profiles(("\n".join(lines) + "\n").encode(), schema, name=f"{sample}.ReadsPerGene.out.tab")
    assert report.samples == [sample] and f"count column {column + 1} read" in report.format
    wanted = pl.DataFrame({"gene": rows["gene"], sample: strands[column - 1]}).write_csv(separator="\t").encode()
    np.testing.assert_allclose(report.profiles["expression"], parse_profiles(wanted, schema, name="t.tsv")
                               .profiles["expression"])


def test_a_genes_as_rows_table_naming_a_sample_twice_is_refused(bundle, names, schema, sample):
    profile = bundle.profiles["expression"][ROW]
    data = lab_files.genes_as_rows(bundle.genes, names, {sample: profile, "other": profile})
    data = data.replace(b"\tother", f"\t{sample}".encode(), 1)
    with pytest.raises(UserError, match=f"sample column\\(s\\) '{sample}' appear more than once.*name each sample once"):
        parse_profiles(data, schema, name="tpm.tsv")


def test_a_geo_series_matrix_is_refused_saying_what_it_is_and_what_to_upload(bundle, names, schema, sample):
    table = lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]})
    data = (b'!Series_title\t"Cell lines"\n!Series_geo_accession\t"GSE1"\n\n!series_matrix_table_begin\n' + table
            + b"!series_matrix_table_end\n")
    with pytest.raises(UserError, match="is a GEO series matrix.*gene-level expression table.*delete the lines"):
        parse_profiles(data, schema, name="GSE1_series_matrix.txt")


def test_a_salmon_file_of_gencode_transcript_names_is_refused_as_transcripts(bundle, schema):
    """Salmon run on GENCODE's FASTA without --gencode names each transcript by the whole FASTA header."""
    names_ = ["ENST00000288602.11|ENSG00000157764.14|OTTHUMG00000157457.5|OTTHUMT00000348871.3|BRAF-201|BRAF|2480|"
              "protein_coding|", "ENST00000269305.9|ENSG00000141510.18|-|-|TP53-201|TP53|2512|protein_coding|"]
    data = pl.DataFrame({"Name": names_, "Length": 2000, "EffectiveLength": 1850.0, "TPM": [10.0, 20.0],
                         "NumReads": [200.0, 400.0]}).write_csv(separator="\t").encode()
    with pytest.raises(UserError, match=r"names transcripts, not genes \(e.g. ENST00000288602.11\|…, "):
        parse_profiles(data, schema, name="quant.sf")


def test_a_genes_as_columns_parquet_that_repeats_a_gene_reads_like_its_csv(bundle, names, schema, sample):
    """The parquet reader for repeated header names (pyarrow's) with only the used columns parsed: a reviewer found it
    refused such a file that it read before."""
    import io

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pl.read_csv(lab_files.genes_as_columns(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]}),
                        separator="\t")
    gene = table.columns[1]
    text = table.with_columns(pl.col(gene).alias("REPEAT")).write_csv().replace(",REPEAT", f",{gene}", 1).encode()
    buffer = io.BytesIO()
    pq.write_table(pacsv.read_csv(io.BytesIO(text)), buffer)  # keeps the two columns of one name
    from_parquet = parse_profiles(buffer.getvalue(), schema, name="x.parquet")
    from_csv = parse_profiles(text, schema, name="x.csv")
    np.testing.assert_allclose(from_parquet.profiles["expression"], from_csv.profiles["expression"], rtol=1e-6)
    assert from_parquet.samples == [sample] and from_parquet.details.get("duplicated_genes")


def test_featurecounts_bams_of_one_name_in_a_folder_per_sample_are_named_by_folder(bundle, names, schema, sample):
    rows = pl.read_csv(lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]}),
                       separator="\t")
    counts = (rows[sample] * 20).round()
    table = rows.select(pl.col("gene").alias("Geneid"), pl.lit("chr1").alias("Chr"), pl.lit(1).alias("Start"),
                        pl.lit(2000).alias("End"), pl.lit("+").alias("Strand"), pl.lit(2000).alias("Length"),
                        counts.alias("S1/Aligned.sortedByCoord.out.bam"), counts.alias("S2/Aligned.sortedByCoord.out.bam"))
    report = parse_profiles(table.write_csv(separator="\t").encode(), schema, name="counts.txt")
    assert report.samples == ["S1", "S2"]
