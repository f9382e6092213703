import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.serve import uploads
from drugresponse.serve.uploads import parse_profiles

MODALITIES = ("expression", "mutation", "copy_number")


def wide_csv(bundle, rows, genes=None) -> bytes:
    genes = genes if genes is not None else list(range(len(bundle.genes)))
    columns = {"sample": [bundle.cell_lines["cell_line"][r] for r in rows]}
    for m in MODALITIES:
        for j in genes:
            columns[f"{m}:{bundle.genes[j]}"] = [float(bundle.profiles[m][r, j]) for r in rows]
    return pl.DataFrame(columns).write_csv().encode()


def long_csv(bundle, row) -> bytes:
    name = bundle.cell_lines["cell_line"][row]
    records = [(name, g, m, float(bundle.profiles[m][row, j])) for m in MODALITIES for j, g in enumerate(bundle.genes)]
    return pl.DataFrame(records, schema=["sample", "gene", "modality", "value"], orient="row").write_csv().encode()


def test_wide_and_long_layouts_give_the_bundle_profile(bundle):
    wide = parse_profiles(wide_csv(bundle, [0, 1]), bundle.genes)
    long = parse_profiles(long_csv(bundle, 1), bundle.genes)
    assert wide.samples == sorted(bundle.cell_lines["cell_line"][:2].to_list())
    row = wide.samples.index(bundle.cell_lines["cell_line"][1])
    for m in MODALITIES:
        np.testing.assert_allclose(wide.profiles[m][row], bundle.profiles[m][1], atol=1e-5)
        np.testing.assert_allclose(long.profiles[m][0], bundle.profiles[m][1], atol=1e-5)
    assert wide.imputed_genes == {m: [0, 0] for m in MODALITIES}


def test_uploaded_profile_predicts_like_the_catalog(assets_dir, bundle):
    from drugresponse.serve.catalog import Catalog
    from drugresponse.serve.runtime import load_runtime
    from drugresponse.serve.service import PredictionService

    service = PredictionService(load_runtime(assets_dir / "model.onnx", "cpu"), Catalog.load(assets_dir))
    table, report = service.predict_profile(long_csv(bundle, 2))
    name = bundle.cell_lines["cell_line"][2]
    expected = service.predict(name, service.drugs)
    # the catalog stores float16 expression; an upload carries full precision
    np.testing.assert_allclose(table["predicted ln IC50"], expected["predicted ln IC50"], atol=0.02)
    assert table["sample"].unique().to_list() == [name]


def test_unknown_genes_are_counted_and_missing_genes_imputed(bundle):
    data = wide_csv(bundle, [0], genes=list(range(len(bundle.genes) - 5)))
    extra = pl.read_csv(data).with_columns(pl.lit(1.5).alias("expression:NOT_A_GENE"))
    report = parse_profiles(extra.write_csv().encode(), bundle.genes)
    assert report.unknown_genes["expression"] == 1
    assert report.imputed_genes["expression"] == [5]
    assert np.isnan(report.profiles["mutation"][0, -5:]).all()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"sample,gene,modality,value\n", "no rows"),
    (b"name,thing\nA,1\n", "unrecognised layout"),
    (b"sample,gene,modality,value\nS1,TP53,expression,abc\n", "line 2: the value 'abc' is not a number"),
    (b"sample,gene,modality,value\nS1,TP53,methylation,1\n", "line 2: modality 'methylation'"),
    (b"sample,expression:TP53\nS1,1\nS2,x\n", "line 3: expression:TP53 value 'x'"),
])
def test_bad_files_are_rejected_with_the_reason(bundle, content, message):
    with pytest.raises(UserError, match=message):
        parse_profiles(content, bundle.genes)


def test_raw_counts_are_rejected(bundle):
    table = pl.read_csv(wide_csv(bundle, [0]))
    counts = table.with_columns(pl.col(c) * 0 + 2000 for c in table.columns if c.startswith("expression:"))
    with pytest.raises(UserError, match="looks like raw counts"):
        parse_profiles(counts.write_csv().encode(), bundle.genes)


def test_mutation_values_must_be_binary(bundle):
    table = pl.read_csv(wide_csv(bundle, [0]))
    column = next(c for c in table.columns if c.startswith("mutation:"))
    with pytest.raises(UserError, match="mutation value 2 is not allowed"):
        parse_profiles(table.with_columns(pl.lit(2.0).alias(column)).write_csv().encode(), bundle.genes)


def test_too_few_expression_genes_is_refused(bundle):
    with pytest.raises(UserError, match="at least 20% are needed"):
        parse_profiles(wide_csv(bundle, [0], genes=[0, 1, 2]), bundle.genes)


def test_oversized_file_is_refused(bundle, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BYTES", 100)
    with pytest.raises(UserError, match="at most"):
        parse_profiles(wide_csv(bundle, [0]), bundle.genes)
