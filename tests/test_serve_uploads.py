"""Uploaded profiles: both layouts, driver panels, clear refusals, and what partial profiles do to predictions."""

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.serve import uploads
from drugresponse.serve.runtime import load_runtime
from drugresponse.serve.uploads import ProfileSchema, parse_profiles

MODALITIES = ("expression", "mutation", "copy_number", "drivers")
PREFIX = {"expression": "expression", "mutation": "mutation", "copy_number": "copy_number", "drivers": "driver"}


@pytest.fixture(scope="module")
def schema(runtime):
    return ProfileSchema.of(runtime)


def wide_csv(bundle, rows, genes=None, modalities=MODALITIES) -> bytes:
    columns = {"sample": [bundle.cell_lines["cell_line"][r] for r in rows]}
    for m in modalities:
        names = bundle.feature_names(m)
        keep = range(len(names)) if genes is None or m == "drivers" else genes
        for j in keep:
            columns[f"{PREFIX[m]}:{names[j]}"] = [float(bundle.profiles[m][r, j]) for r in rows]
    return pl.DataFrame(columns).write_csv().encode()


def long_csv(bundle, row, name=None) -> bytes:
    name = name or bundle.cell_lines["cell_line"][row]
    records = [(name, f, PREFIX[m], float(bundle.profiles[m][row, j]))
               for m in MODALITIES for j, f in enumerate(bundle.feature_names(m))]
    return pl.DataFrame(records, schema=["sample", "gene", "modality", "value"], orient="row").write_csv().encode()


def test_wide_and_long_layouts_give_the_bundle_profile_in_file_order(bundle, schema):
    wide = parse_profiles(wide_csv(bundle, [3, 1]), schema)
    long = parse_profiles(long_csv(bundle, 1), schema)
    assert wide.samples == [bundle.cell_lines["cell_line"][3], bundle.cell_lines["cell_line"][1]]  # not sorted
    for m in MODALITIES:
        np.testing.assert_allclose(wide.profiles[m][1], bundle.profiles[m][1], atol=1e-5)
        np.testing.assert_allclose(long.profiles[m][0], bundle.profiles[m][1], atol=1e-5)
    assert wide.imputed["expression"] == [0, 0] and wide.flags == ["", ""]


def test_parquet_with_categorical_text_columns_reads_like_csv(bundle, schema, tmp_path):
    """Dictionary-encoded text (a pandas category, a polars Categorical) is text: the long layout's usual parquet."""
    table = pl.read_csv(long_csv(bundle, 2)).with_columns(
        pl.col("sample", "gene", "modality").cast(pl.String).cast(pl.Categorical))
    table.write_parquet(tmp_path / "long.parquet")
    read = parse_profiles(tmp_path / "long.parquet", schema)
    for m in MODALITIES:
        np.testing.assert_allclose(read.profiles[m][0], bundle.profiles[m][2], atol=1e-5)


def test_a_driver_panel_with_expression_is_used(bundle, schema, runtime):
    events = runtime.features_read["drivers"]
    assert events, "the fixture model keeps driver events"
    expression = pl.read_csv(wide_csv(bundle, [0], modalities=("expression",)))
    panel = expression.with_columns(pl.lit(1).alias(f"driver:{events[0]}"))
    without, with_panel = (parse_profiles(t.write_csv().encode(), schema) for t in (expression, panel))
    assert np.isnan(without.profiles["drivers"]).all()  # not given: unknown, not "wild type"
    assert with_panel.profiles["drivers"][0, schema.features["drivers"].index(events[0])] == 1.0
    assert np.abs(runtime.predict(with_panel.profiles) - runtime.predict(without.profiles)).max() > 1e-4


def test_uploaded_profile_predicts_like_the_catalog(assets_dir, bundle):
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.service import PredictionService

    service = PredictionService(load_runtime(assets_dir / "model.onnx", "cpu"), Catalog.load(assets_dir))
    table, report = service.predict_profile(long_csv(bundle, 2))
    expected = service.final[2]  # the shipped model on the catalog's copy of the same line
    np.testing.assert_allclose(table["predicted ln IC50"], expected, atol=0.02)  # catalog expression is float16
    assert table["sample"].unique().to_list() == [bundle.cell_lines["cell_line"][2]]


def test_unknown_features_are_counted_and_missing_ones_imputed(bundle, schema):
    table = pl.read_csv(wide_csv(bundle, [0], genes=list(range(len(bundle.genes) - 5))))
    extra = table.with_columns(pl.lit(1.5).alias("expression:NOT_A_GENE"), pl.lit(1).alias("driver:NOT_AN_EVENT"))
    report = parse_profiles(extra.write_csv().encode(), schema)
    assert report.unknown_features["expression"] == 1 and report.unknown_features["drivers"] == 1
    read = [bundle.genes.index(g) for g in schema.features_read["expression"]]
    assert report.imputed["expression"] == [sum(j >= len(bundle.genes) - 5 for j in read)]
    assert np.isnan(report.profiles["mutation"][0, -5:]).all()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"sample,gene,modality,value\n", "no rows"),
    (b"name,thing\nA,1\n", "unrecognised layout"),
    (b"sample,gene,modality,value\nS1,TP53,expression,abc\n", "line 2: the value 'abc' is not a number"),
    (b"sample,gene,modality,value\nS1,TP53,methylation,1\n", "line 2: modality 'methylation'"),
    (b"sample,expression:TP53\nS1,1\nS2,x\n", "line 3: expression:TP53 value 'x'"),
    (b"sample,gene,modality,value\nS1,TP53,mutation,1\nS1,TP53,mutation,0\n", "line 3: sample 'S1' has "
                                                                              "mutation for 'TP53' more than once"),
    (b"sample,expression:TP53\nS1,1\nS1,2\n", "sample 'S1' has more than one row"),
    (b"sample,expression:TP53,expression:TP53\nS1,1,2\n", "'expression:TP53' appears more than once"),
    (b"sample,gene,modality,value\n,TP53,expression,1\n", "line 2: the row has no sample name"),
])
def test_bad_files_are_rejected_with_the_reason(schema, content, message):
    with pytest.raises(UserError, match=message):
        parse_profiles(content, schema)


def _as_tpm(table: pl.DataFrame) -> pl.DataFrame:
    """A long-layout table's expression as TPM-like linear values (as in the linear-scale test below)."""
    tpm = 2.0 ** (pl.col("value") * 2 + 5) - 1
    return table.with_columns(pl.when(pl.col("modality") == "expression").then(tpm).otherwise(pl.col("value"))
                              .alias("value"))


@pytest.mark.parametrize("scale", ["log", "linear"])
def test_a_gene_given_twice_for_a_sample_in_the_long_layout_is_combined_and_reported(bundle, schema, runtime, scale):
    """Issue 22: a repeated gene is combined by the genes-as-rows rule (averaged on a log scale, summed on a linear
    one) and reported; repeats of names the model does not know are ignored. It used to refuse the whole file."""
    table = pl.read_csv(long_csv(bundle, 1))
    table = _as_tpm(table) if scale == "linear" else table
    gene = schema.features_read["expression"][0]
    j = schema.features["expression"].index(gene)
    row = (pl.col("gene") == gene) & (pl.col("modality") == "expression")
    value = table.filter(row)["value"][0]
    if scale == "log":  # the file's value and one 1 higher: their mean
        extra, expected = value + 1.0, np.float32(value + 0.5)
    else:  # the gene's TPM split over two rows (two loci of one gene): their sum is the file's value
        table = table.with_columns(pl.when(row).then(pl.col("value") * 0.25).otherwise(pl.col("value")).alias("value"))
        extra, expected = value * 0.75, np.log2(np.float32(value) + 1.0)  # then put on the log scale
    more = pl.DataFrame({"sample": [table["sample"][0]] * 3, "gene": [gene, "NOT_A_GENE", "NOT_A_GENE"],
                         "modality": "expression", "value": [extra, 1.0, 2.0]})
    report = parse_profiles(pl.concat([table, more]).write_csv().encode(), schema)
    assert report.profiles["expression"][0, j] == pytest.approx(expected, abs=1e-5)
    assert report.details["duplicated_genes"] == {gene: 2}
    assert (f"1 of the model's genes appear in more than one row ({gene}: 2 rows): combined by summing, for samples "
            "on a linear scale (the TPM or counts of two loci add up), or by averaging, for samples on a log scale."
            in report.notes)
    assert report.unknown_features["expression"] == 1  # NOT_A_GENE, twice: ignored, counted once
    if scale == "linear":  # the same prediction as the file whose gene is one row
        unsplit = parse_profiles(_as_tpm(pl.read_csv(long_csv(bundle, 1))).write_csv().encode(), schema)
        np.testing.assert_allclose(runtime.predict(report.profiles), runtime.predict(unsplit.profiles), atol=1e-5)


def test_missing_value_spellings_are_missing_not_errors(bundle, schema):
    table = pl.read_csv(wide_csv(bundle, [0]), infer_schema_length=0)
    gene = schema.features_read["expression"][0]
    for token in ("", "NA", "NaN", "null"):
        report = parse_profiles(table.with_columns(pl.lit(token).alias(f"expression:{gene}")).write_csv().encode(),
                                schema)
        assert np.isnan(report.profiles["expression"][0, bundle.genes.index(gene)])


def test_linear_expression_is_put_on_the_log_scale_and_said_so(bundle, schema, runtime):
    """TPM-like values (what RNA-seq tables hold) used to be refused as raw counts; now they are read as log2(x + 1),
    which the per-sample normalisation turns back into the same profile as the log values."""
    table = pl.read_csv(wide_csv(bundle, [0, 1], modalities=("expression", "drivers")))
    genes = [c for c in table.columns if c.startswith("expression:")]
    linear = table.with_columns((2.0 ** (pl.col(c) * 2 + 5) - 1).alias(c) for c in genes)
    on_log = parse_profiles(table.write_csv().encode(), schema)
    on_linear = parse_profiles(linear.write_csv().encode(), schema)
    assert any("linear scale" in note and "log2(value + 1)" in note for note in on_linear.notes)
    assert not on_log.notes
    np.testing.assert_allclose(runtime.predict(on_linear.profiles), runtime.predict(on_log.profiles), atol=1e-3)


def test_a_sample_on_no_one_scale_is_refused(bundle, schema):
    table = pl.read_csv(wide_csv(bundle, [0]))
    genes = [c for c in table.columns if c.startswith("expression:")]
    mixed = table.with_columns(pl.lit(5000.0).alias(genes[0]), pl.lit(-3.0).alias(genes[1]))
    with pytest.raises(UserError, match="fits neither a linear scale"):
        parse_profiles(mixed.write_csv().encode(), schema)


@pytest.mark.parametrize("prefix,value,message", [("mutation", 2.0, "mutation value 2 is not allowed"),
                                                   ("driver", 0.5, "drivers value 0.5 is not allowed")])
def test_binary_inputs_must_be_binary(bundle, schema, prefix, value, message):
    table = pl.read_csv(wide_csv(bundle, [0]))
    column = next(c for c in table.columns if c.startswith(prefix + ":"))
    with pytest.raises(UserError, match=message):
        parse_profiles(table.with_columns(pl.lit(value).alias(column)).write_csv().encode(), schema)


def test_oversized_file_is_refused(bundle, schema):
    with pytest.raises(UserError, match="at most"):
        parse_profiles(wide_csv(bundle, [0]), schema, uploads.Limits(max_bytes=100))


# Partial profiles. The fixture's model reads 200 of the slice's 300 genes. Tolerance: the mean |change| over
# drugs must stay under 0.25 ln µM (about a third of the between-line spread of predictions) when at least
# FLAG_BELOW of the model's genes are present; below REFUSE_BELOW the upload is refused.
TOLERANCE = 0.25


def _keep_expression(bundle, rows, keep_per_row):
    table = pl.read_csv(wide_csv(bundle, rows, modalities=("expression", "drivers")))
    for i, keep in enumerate(keep_per_row):
        drop = [f"expression:{g}" for j, g in enumerate(bundle.genes) if j not in keep]
        table = table.with_columns(pl.when(pl.int_range(pl.len()) == i).then(None).otherwise(pl.col(c)).alias(c)
                                   for c in drop)
    return table.write_csv().encode()


def _mean_change(runtime, schema, bundle, rows, data):
    full = runtime.predict(parse_profiles(wide_csv(bundle, rows, modalities=("expression", "drivers")),
                                          schema).profiles)
    partial = parse_profiles(data, schema)
    return np.abs(runtime.predict(partial.profiles) - full).mean(axis=1), partial


def test_model_genes_only_predicts_like_the_full_profile(bundle, schema, runtime):
    rows = list(range(8))
    read = {bundle.genes.index(g) for g in schema.features_read["expression"]}
    change, report = _mean_change(runtime, schema, bundle, rows, _keep_expression(bundle, rows, [read] * len(rows)))
    assert (change < TOLERANCE).all(), change
    assert report.imputed["expression"] == [0] * len(rows) and report.flags == [""] * len(rows)


def test_random_subset_of_most_model_genes_stays_close_and_is_flagged_when_short(bundle, schema, runtime):
    rng = np.random.default_rng(0)
    rows = list(range(8))
    read = sorted(bundle.genes.index(g) for g in schema.features_read["expression"])
    others = sorted(set(range(len(bundle.genes))) - set(read))
    keep = [set(rng.choice(read, int(0.95 * len(read)), replace=False)) | set(others) for _ in rows]
    change, report = _mean_change(runtime, schema, bundle, rows, _keep_expression(bundle, rows, keep))
    assert (change < TOLERANCE).all(), change
    assert report.flags == [""] * len(rows)
    keep = [set(rng.choice(read, int(0.7 * len(read)), replace=False)) for _ in rows]
    _, report = _mean_change(runtime, schema, bundle, rows, _keep_expression(bundle, rows, keep))
    assert all("fewer than 90%" in f for f in report.flags)


def test_each_samples_most_expressed_genes_only_is_refused(bundle, schema):
    rows = list(range(4))
    values = bundle.profiles["expression"]
    keep = [set(np.argsort(-values[r])[: len(bundle.genes) // 4]) for r in rows]
    with pytest.raises(UserError, match="at least 50% are needed"):
        parse_profiles(_keep_expression(bundle, rows, keep), schema)


def test_genes_outside_the_model_do_not_pass_the_gate(bundle, schema):
    read = {bundle.genes.index(g) for g in schema.features_read["expression"]}
    others = set(range(len(bundle.genes))) - read
    with pytest.raises(UserError, match="has expression for 0 of the"):
        parse_profiles(_keep_expression(bundle, [0], [others]), schema)


@pytest.mark.parametrize("first, then", [([2.0], [4.0, 9.0]), ([4.0, 9.0], [2.0]), ([2.0, np.nan], [4.0, 9.0])])
def test_a_sample_read_in_two_parts_combines_its_repeats_across_them(schema, first, then):
    """`drugresponse predict --skip-invalid` reads a failed slice again one sample at a time and adds that read to the
    sample's cells so far: repeats across the two reads are combined as repeats within one read are (the mean of all
    the values on a log scale, not the mean of a mean). A repeated mutation is still refused."""
    from drugresponse.serve.uploads import APP
    from drugresponse.serve.uploads.samples import SampleArrays

    def read(values):
        arrays = SampleArrays(schema, APP)
        row = arrays.rows(["S1"])[0]
        for v in values:
            arrays.put("expression", np.array([row]), np.array([3]), np.array([v], np.float32), 2, combine_repeats=True)
        return arrays, row

    whole, row = read(first)
    whole.absorb(row, read(then)[0])
    assert whole.profiles()["expression"][0, 3] == pytest.approx(np.nanmean([*first, *then]))
    one, _ = read([1.0])
    other, _ = read([1.0])
    one.put("mutation", np.array([0]), np.array([3]), np.array([1.0], np.float32), 2)
    other.put("mutation", np.array([0]), np.array([3]), np.array([1.0], np.float32), 2)
    with pytest.raises(UserError, match="has mutation for .* more than once"):
        one.absorb(0, other)
