"""``drugresponse predict``: a cohort file in, one row per (sample, drug) out, validated exactly as the app does."""

import gzip

import numpy as np
import polars as pl
import pytest

from drugresponse.cli import main
from drugresponse.errors import UserError
from drugresponse.serve.batch import predict_file
from drugresponse.serve.calibration import Calibration
from drugresponse.serve.runtime import load_runtime
from drugresponse.serve.uploads import ProfileSchema, parse_profiles

from .test_serve_uploads import long_csv, wide_csv


@pytest.fixture(scope="module")
def calibration(assets_dir, runtime):
    return Calibration.load(assets_dir / "evaluation", runtime.drugs)


def test_every_layout_and_format_gives_the_apps_numbers(bundle, runtime, calibration, tmp_path):
    rows = list(range(7))
    (tmp_path / "cohort.csv").write_bytes(wide_csv(bundle, rows))
    pl.read_csv(tmp_path / "cohort.csv").write_parquet(tmp_path / "cohort.parquet")
    (tmp_path / "long.csv").write_bytes(long_csv(bundle, 0) + b"".join(long_csv(bundle, r).split(b"\n", 1)[1]
                                                                       for r in rows[1:3]))
    outputs = {}
    for name in ("cohort.csv", "cohort.parquet", "long.csv"):
        for suffix in (".parquet", ".csv"):
            out = tmp_path / f"{name}.out{suffix}"
            report = predict_file(runtime, calibration, tmp_path / name, out, chunk=3, progress=False)
            assert report["drugs"] == len(runtime.drugs)
            outputs[(name, suffix)] = pl.read_parquet(out) if suffix == ".parquet" else pl.read_csv(out)
    expected = runtime.predict(parse_profiles(wide_csv(bundle, rows), ProfileSchema.of(runtime)).profiles)
    for (name, _), table in outputs.items():
        n = 3 if name == "long.csv" else 7
        assert table.columns == ["sample", "drug", "ln_ic50", "ic50_um", "interval_low", "interval_high", "percentile",
                                 "relative_call", "flag"]
        assert table["sample"].unique(maintain_order=True).to_list() == bundle.cell_lines["cell_line"][:n].to_list()
        np.testing.assert_allclose(table["ln_ic50"].to_numpy().reshape(n, -1), expected[:n], atol=1e-5)
        np.testing.assert_allclose(table["ic50_um"], np.exp(table["ln_ic50"]), rtol=1e-5)


def test_chunk_size_does_not_change_the_output(bundle, runtime, calibration, tmp_path):
    (tmp_path / "cohort.csv").write_bytes(wide_csv(bundle, list(range(10))))
    for chunk in (1, 4, 100):
        predict_file(runtime, calibration, tmp_path / "cohort.csv", tmp_path / f"out{chunk}.parquet", chunk, False)
    first = pl.read_parquet(tmp_path / "out1.parquet")
    for chunk in (4, 100):
        assert pl.read_parquet(tmp_path / f"out{chunk}.parquet").equals(first)


def test_a_bad_sample_gets_the_apps_message_and_leaves_no_output(bundle, runtime, calibration, tmp_path):
    table = pl.read_csv(wide_csv(bundle, list(range(6))), infer_schema_length=0)
    column = next(c for c in table.columns if c.startswith("expression:"))
    table = table.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("x")).otherwise(pl.col(column))
                               .alias(column))
    table.write_csv(tmp_path / "bad.csv")
    with pytest.raises(UserError) as app_error:
        parse_profiles(table.write_csv().encode(), ProfileSchema.of(runtime))
    with pytest.raises(UserError) as cli_error:
        predict_file(runtime, calibration, tmp_path / "bad.csv", tmp_path / "out.parquet", chunk=2, progress=False)
    assert str(cli_error.value) == str(app_error.value) == f"line 6: {column} value 'x' is not a number."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_a_sample_repeated_across_chunks_is_refused(bundle, runtime, calibration, tmp_path):
    table = pl.read_csv(wide_csv(bundle, [0, 1, 2]))
    pl.concat([table, table.head(1)]).write_csv(tmp_path / "twice.csv")
    with pytest.raises(UserError, match="sample '.*' has more than one row"):
        predict_file(runtime, calibration, tmp_path / "twice.csv", tmp_path / "o.csv", chunk=2, progress=False)


def test_ctrl_c_while_scoring_leaves_no_output_and_no_reader(bundle, runtime, calibration, tmp_path, monkeypatch):
    import threading

    from drugresponse.serve import batch

    (tmp_path / "cohort.csv").write_bytes(wide_csv(bundle, list(range(8))))
    scored = []

    def interrupted(*args):
        if scored:  # the second chunk: the reader thread is already on the third
            raise KeyboardInterrupt
        scored.append(True)
        return original(*args)

    original = batch.score_table
    monkeypatch.setattr(batch, "score_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        predict_file(runtime, calibration, tmp_path / "cohort.csv", tmp_path / "out.parquet", chunk=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]
    assert not [t for t in threading.enumerate() if t.name.startswith("drugresponse-read")]


def test_cli_predict_with_the_int8_model(assets_dir, bundle, tmp_path, capsys):
    (tmp_path / "cohort.csv").write_bytes(wide_csv(bundle, [0, 1]))
    code = main(["predict", str(tmp_path / "cohort.csv"), "-o", str(tmp_path / "out.parquet"), "--model",
                 str(assets_dir / "model_int8.onnx"), "--quiet"])
    assert code == 0 and "2 samples x" in capsys.readouterr().out
    int8 = pl.read_parquet(tmp_path / "out.parquet")["ln_ic50"].to_numpy()
    float32 = load_runtime(assets_dir / "model.onnx", "cpu").predict(
        parse_profiles(wide_csv(bundle, [0, 1]), ProfileSchema.of(load_runtime(assets_dir / "model.onnx"))).profiles)
    assert np.abs(int8 - float32.ravel()).max() < 0.1


@pytest.mark.parametrize("args, message", [
    (["missing.csv", "-o", "out.parquet"], "no input file"),
    (["in.txt", "-o", "out.parquet"], "has a header but no rows"),  # an accepted type: the content says what it is
    (["in.csv", "-o", "out.json"], "must end in .csv or .parquet"),
    (["in.csv", "-o", "in.csv"], "would overwrite the input"),
    # a type that is not accepted is named, with the accepted ones (it used to be an "unrecognised layout")
    (["in.pdf", "-o", "out.parquet"], "in.pdf is a .pdf file, which cannot be read; a PDF holds no table"),
    (["in.csv.gz", "-o", "out.parquet"], "in.csv.gz is a .gz file, which cannot be read; decompress it first"),
    (["in.csv", "--mutations", "calls.xls", "-o", "out.parquet"], "calls.xls is a .xls file"),
])
def test_cli_refusals_are_messages(assets_dir, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("sample,expression:A\nS,1\n")
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "in.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    (tmp_path / "in.csv.gz").write_bytes(gzip.compress(b"sample,expression:A\nS,1\n"))
    (tmp_path / "calls.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert main(["predict", *args, "--model", str(assets_dir / "model.onnx"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert message in error
    if "cannot be read" in message:
        assert "Accepted file types: .csv, .tsv, .txt, .tab, .parquet, .xlsx, .gct, .results, .sf, .vcf, .maf" in error


def test_one_row_samples_in_the_long_layout_cost_at_most_two_chunks_of_arrays(bundle, runtime, calibration, tmp_path,
                                                                              monkeypatch):
    """The issue's attack on the batch reader: a small long-layout file of thousands of one-row samples. Every sample
    is refused (one gene is far from the 50% needed), and the reader never holds more than about two chunks of
    samples' arrays at once, however many samples one chunk of the file's rows starts."""
    from drugresponse.serve.uploads import samples

    gene = bundle.feature_names("expression")[0]
    text = "sample,gene,modality,value\n" + "".join(f"s{i},{gene},expression,1\n" for i in range(3000))
    (tmp_path / "many.csv").write_text(text)
    largest = []
    grow = samples.SampleArrays._grow
    monkeypatch.setattr(samples.SampleArrays, "_grow", lambda self, needed: (largest.append(needed), grow(self, needed)))
    with pytest.raises(UserError, match=r"no sample that could be scored \(3000 skipped; see the reasons in"):
        predict_file(runtime, calibration, tmp_path / "many.csv", tmp_path / "o.parquet", chunk=16, progress=False,
                     skip_invalid=True)
    assert max(largest) <= 2 * 16 + 1
    assert pl.read_csv(tmp_path / "o.parquet.skipped.csv").height == 3000
    assert not (tmp_path / "o.parquet").exists()


def test_skip_invalid_leaves_out_a_long_layout_sample_with_a_bad_cell(bundle, runtime, calibration, tmp_path):
    good = [long_csv(bundle, r) for r in range(3)]
    bad = long_csv(bundle, 1).decode().split("\n")
    bad[5] = ",".join(bad[5].split(",")[:3] + ["not-a-number"])
    text = good[0] + "\n".join(bad[1:]).encode() + good[2].split(b"\n", 1)[1]
    (tmp_path / "long.csv").write_bytes(text)
    with pytest.raises(UserError, match="not a number"):
        predict_file(runtime, calibration, tmp_path / "long.csv", tmp_path / "o.parquet", chunk=2, progress=False)
    report = predict_file(runtime, calibration, tmp_path / "long.csv", tmp_path / "o.parquet", chunk=2,
                          progress=False, skip_invalid=True)
    names = bundle.cell_lines["cell_line"]
    assert report["samples"] == 2 and report["skipped"] == 1
    assert pl.read_parquet(tmp_path / "o.parquet")["sample"].unique(maintain_order=True).to_list() == [names[0],
                                                                                                       names[2]]
    skipped = pl.read_csv(tmp_path / "o.parquet.skipped.csv")
    assert skipped["sample"].to_list() == [names[1]] and "not a number" in skipped["reason"][0]


def test_a_mutation_list_sets_the_cohorts_events_and_the_output_names_its_model(bundle, runtime, calibration,
                                                                                  tmp_path):
    """``--mutations``: the events of a gene and protein-change table are set for the samples of the same name (the
    app's reader and rule), and the output says which model and input it came from."""
    import json

    import pyarrow.parquet as pq

    from drugresponse.serve.batch import report_path

    rows = [0, 1, 2]
    names = [bundle.cell_lines["cell_line"][r] for r in rows]
    schema = ProfileSchema.of(runtime)
    event = next(e for e in schema.features_read["drivers"] if e.endswith("_mut") and "-" not in e)  # one it reads
    (tmp_path / "cohort.csv").write_bytes(wide_csv(bundle, rows, modalities=("expression",)))
    (tmp_path / "mutations.csv").write_text(f"sample,gene,protein_change\n{names[1].lower()},"
                                            f"{event.removesuffix('_mut')},R100W\nnot-in-cohort,TP53,R273H\n")
    out = tmp_path / "out.parquet"
    report = predict_file(runtime, calibration, tmp_path / "cohort.csv", out, chunk=2, progress=False,
                          mutations=tmp_path / "mutations.csv")
    expected = parse_profiles(wide_csv(bundle, rows, modalities=("expression",)), schema).profiles
    without = runtime.predict(expected)
    expected["drivers"][1, runtime.driver_names.index(event)] = 1.0
    predicted = pl.read_parquet(out)["ln_ic50"].to_numpy().reshape(3, -1)
    np.testing.assert_allclose(predicted, runtime.predict(expected), atol=1e-5)
    assert np.abs(predicted[1] - without[1]).max() > 1e-3 and np.abs(predicted[[0, 2]] - without[[0, 2]]).max() < 1e-5
    assert any(f"paired with 1 sample(s); events set: {event} = 1; 1 of its samples are not in cohort.csv" in n
               for n in report["notes"])
    written = json.loads(report_path(out).read_text())
    assert written["input"] == "cohort.csv" and written["mutations"] == "mutations.csv"
    assert written["model_version"] == runtime.metadata["model_version"] and written["samples"] == 3
    embedded = json.loads(pq.read_schema(out).metadata[b"drugresponse"])
    assert embedded["model_version"] == runtime.metadata["model_version"] and embedded["input"] == "cohort.csv"


def test_skip_invalid_leaves_out_a_wide_row_with_a_bad_cell_and_scores_the_others_as_alone(bundle, runtime,
                                                                                            calibration, tmp_path):
    """The wide layout read row by row after a bad cell: the bad row is named by its sample (the sample column after
    columns the model does not read), and the other rows keep their values (a reviewer found them read as empty)."""
    table = pl.read_csv(wide_csv(bundle, [0, 1, 2], modalities=("expression",)))
    table = table.select(pl.lit(1.0).alias("expression:NOTAGENE1"), pl.lit(2.0).alias("expression:NOTAGENE2"),
                         pl.all())
    value = table.columns[3]
    table = table.with_columns(pl.col(value).cast(pl.String))
    table[1, value] = "not-a-number"
    (tmp_path / "wide.csv").write_text(table.write_csv())
    report = predict_file(runtime, calibration, tmp_path / "wide.csv", tmp_path / "o.parquet", chunk=4,
                          progress=False, skip_invalid=True)
    names = bundle.cell_lines["cell_line"]
    assert report["samples"] == 2 and report["skipped"] == 1
    assert pl.read_csv(tmp_path / "o.parquet.skipped.csv")["sample"].to_list() == [names[1]]
    expected = runtime.predict(parse_profiles(wide_csv(bundle, [0, 2], modalities=("expression",)),
                                              ProfileSchema.of(runtime)).profiles)
    np.testing.assert_allclose(pl.read_parquet(tmp_path / "o.parquet")["ln_ic50"].to_numpy().reshape(2, -1), expected,
                               atol=1e-5)


def test_one_sample_mutation_file_pairs_with_one_sample_cohort_whatever_the_names(bundle, runtime, calibration,
                                                                                   tmp_path):
    """The app's rule in ``drugresponse predict`` too: Salmon names its one sample ``quant`` and a VCF names the tumour
    otherwise, so one sample with one sample pairs by being the only one of each file (and says so); a mutation file
    none of whose samples is in a larger cohort is refused, with nothing written, not silently ignored."""
    schema = ProfileSchema.of(runtime)
    event = next(e for e in schema.features_read["drivers"] if e.endswith("_mut") and "-" not in e)
    (tmp_path / "one.csv").write_bytes(wide_csv(bundle, [0], modalities=("expression",)))
    (tmp_path / "calls.csv").write_text(f"sample,gene,protein_change\nTUMOR,{event.removesuffix('_mut')},R100W\n")
    out = tmp_path / "one.parquet"
    report = predict_file(runtime, calibration, tmp_path / "one.csv", out, progress=False,
                          mutations=tmp_path / "calls.csv")
    expected = parse_profiles(wide_csv(bundle, [0], modalities=("expression",)), schema).profiles
    expected["drivers"][0, runtime.driver_names.index(event)] = 1.0
    np.testing.assert_allclose(pl.read_parquet(out)["ln_ic50"].to_numpy(), runtime.predict(expected)[0], atol=1e-5)
    assert any("by being the only sample of each file" in n for n in report["notes"])
    (tmp_path / "three.csv").write_bytes(wide_csv(bundle, [0, 1, 2], modalities=("expression",)))
    with pytest.raises(UserError, match="none of its samples \\('TUMOR'\\) is in three.csv.*Nothing was written"):
        predict_file(runtime, calibration, tmp_path / "three.csv", tmp_path / "three.parquet", progress=False,
                     mutations=tmp_path / "calls.csv")
    assert not (tmp_path / "three.parquet").exists()


def test_long_layout_slices_bring_at_most_a_chunk_of_new_samples_each():
    """A block of the long layout is cut only where it starts more than ``chunk`` samples: a block of a few samples'
    many rows stays whole (one slice, no cut points), a block of one-row samples is cut every ``chunk`` samples."""
    from drugresponse.serve.uploads.cohort import _bounded_slices

    few = pl.DataFrame({"sample": [f"s{i // 2000}" for i in range(50_000)], "value": 1.0})
    slices = list(_bounded_slices(few, 2, 0, 512))
    assert [(part.height, line) for part, line in slices] == [(50_000, 2)]
    many = pl.DataFrame({"sample": [f"s{i}" for i in range(100)], "value": 1.0})
    slices = list(_bounded_slices(many, 2, 0, 16))
    assert [part.height for part, _ in slices] == [16] * 6 + [4]
    assert [line for _, line in slices] == [2 + 16 * k for k in range(7)]


def test_a_gene_repeated_in_the_long_layout_is_combined_as_the_app_combines_it(bundle, runtime, calibration,
                                                                                 tmp_path):
    """Issue 22's rule in a cohort: a sample's repeated gene is averaged (log scale) when the sample is complete, in
    chunks of one sample as in the app's one pass, and the report says so."""
    schema = ProfileSchema.of(runtime)
    tables = [pl.read_csv(long_csv(bundle, r)) for r in range(3)]
    gene = schema.features_read["expression"][0]
    value = tables[1].filter((pl.col("gene") == gene) & (pl.col("modality") == "expression"))["value"][0]
    again = tables[1].head(1).with_columns(pl.lit(gene).alias("gene"), pl.lit("expression").alias("modality"),
                                           pl.lit(value + 1.0).alias("value"))
    text = pl.concat([tables[0], tables[1], again, tables[2]], how="vertical_relaxed").write_csv()
    (tmp_path / "long.csv").write_text(text)
    report = predict_file(runtime, calibration, tmp_path / "long.csv", tmp_path / "o.parquet", chunk=1, progress=False)
    app = parse_profiles(text.encode(), schema)
    assert app.profiles["expression"][1, schema.features["expression"].index(gene)] == pytest.approx(value + 0.5,
                                                                                                      abs=1e-5)
    np.testing.assert_allclose(pl.read_parquet(tmp_path / "o.parquet")["ln_ic50"].to_numpy().reshape(3, -1),
                               runtime.predict(app.profiles), atol=1e-5)
    assert any(f"more than one row ({gene}: 2 rows)" in note for note in report["notes"]), report["notes"]


def test_a_parquet_cohort_is_bounded_per_row_group_not_as_a_whole(tmp_path):
    """`drugresponse predict` decodes a parquet cohort a row group at a time, so the decoded size is bounded per row
    group; the app reads a file whole, so there it is bounded per file."""
    from dataclasses import replace

    from drugresponse.serve.uploads import APP, BATCH
    from drugresponse.serve.uploads.parquet_guard import check_parquet

    path = tmp_path / "cohort.parquet"  # 20,000 rows x 20 float64 columns: 3.2 MB decoded, 0.32 MB per row group
    pl.DataFrame({f"expression:G{i}": pl.zeros(20_000, eager=True) for i in range(20)}).write_parquet(
        path, row_group_size=2_000)
    streaming, whole = replace(BATCH, max_unpacked_bytes=1_000_000), replace(APP, max_unpacked_bytes=1_000_000)
    check_parquet(path, "cohort.parquet", streaming)
    with pytest.raises(UserError, match="would decode to more than 1 MB"):
        check_parquet(path, "cohort.parquet", whole)
    pl.read_parquet(path).write_parquet(path, row_group_size=20_000)
    with pytest.raises(UserError, match="per row group"):
        check_parquet(path, "cohort.parquet", streaming)
    # a 10,000-profile cohort of every model input (6,842 columns) in one row group decodes to ~550 MB: accepted
    assert BATCH.per_row_group and BATCH.max_unpacked_bytes > 10_000 * 6_842 * 8


def test_a_mutation_column_outside_the_panel_is_reported_with_its_event(bundle, runtime, calibration, tmp_path):
    """As in the app: `mutation:BRAF` is not an unknown name but a pointer to driver:BRAF_mut, the event that counts."""
    table = pl.read_csv(wide_csv(bundle, [0, 1], modalities=("expression",)))
    table.with_columns(pl.lit(1).alias("mutation:BRAF"), pl.lit(1).alias("mutation:NOTAGENE1")).write_csv(
        tmp_path / "cohort.csv")
    report = predict_file(runtime, calibration, tmp_path / "cohort.csv", tmp_path / "o.parquet", progress=False)
    assert any("mutation:BRAF → driver:BRAF_mut" in n for n in report["notes"]), report["notes"]
    assert [n for n in report["notes"] if "does not know" in n] == [
        "mutation: 1 name(s) the model does not know were ignored (e.g. NOTAGENE1)."]
