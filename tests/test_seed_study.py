"""The seed-study reproduction on the fixture slice, in our table and in the study's own file layout."""

import numpy as np
import polars as pl
import pytest

from drugresponse.train.seed_study.ladder import SeedStudyConfig, run
from drugresponse.train.seed_study.study_table import from_study_files, with_z_score


def study_layout(bundle, folder, details_format="csv"):
    """Write the fixture slice as the study's files: GDSC_DATASET.csv and Cell_Lines_Details.csv/.xlsx."""
    cells = bundle.cell_lines
    responses = bundle.dataset_responses("GDSC2").join(cells, on="cell_line")
    table = with_z_score(responses.select(
        pl.col("cosmic_id").alias("COSMIC_ID"), pl.col("cell_line").alias("CELL_LINE_NAME"),
        pl.col("tcga_type").alias("TCGA_DESC"), pl.lit(1).alias("DRUG_ID"), pl.col("drug").alias("DRUG_NAME"),
        pl.col("ln_ic50").cast(pl.Float64).alias("LN_IC50"), pl.col("auc").cast(pl.Float64).alias("AUC")))
    table.write_csv(folder / "GDSC_DATASET.csv")
    details = cells.select(pl.col("cell_line").alias("Sample Name"), pl.col("cosmic_id").alias("COSMIC identifier"),
                 pl.lit("Y").alias("Whole Exome Sequencing (WES)"), pl.lit("Y").alias("Copy Number Alterations (CNA)"),
                 pl.lit("Y").alias("Gene Expression"), pl.lit("N").alias("Methylation"),
                 pl.col("tissue").alias("GDSC\nTissue descriptor 1"),
                 pl.col("tissue_subtype").alias("GDSC\nTissue\ndescriptor 2"),
                 pl.col("msi_status").alias("Microsatellite \ninstability Status (MSI)"),
                 pl.col("screen_medium").alias("Screen Medium"),
                 pl.col("growth_properties").alias("Growth Properties"))
    if details_format == "xlsx":
        details.write_excel(folder / "Cell_Lines_Details.xlsx")
    else:
        details.write_csv(folder / "Cell_Lines_Details.csv")
    return table


@pytest.mark.parametrize("details_format", ["csv", "xlsx"])
def test_study_files_are_read_into_the_study_table(bundle, tmp_path, details_format):
    written = study_layout(bundle, tmp_path, details_format)
    table = from_study_files(tmp_path)
    assert table.height == written.height
    # rows join the details on COSMIC_ID, as in the study; lines without a COSMIC id get no details
    assert table["GDSC_TISSUE_1"].null_count() == written["COSMIC_ID"].null_count()
    assert set(table["WES"].drop_nulls().unique()) == {"Y"}
    assert table["MSI"].null_count() < table.height
    np.testing.assert_allclose(table["Z_SCORE"].to_numpy(), written["Z_SCORE"].to_numpy())


def test_the_ladder_runs_and_holds_out_whole_cell_lines(bundle, tmp_path):
    study_layout(bundle, tmp_path)
    table = from_study_files(tmp_path)
    held_out = set(table["CELL_LINE_NAME"].unique().sort().to_list()[::5])
    records, curves = run(table, held_out, None, SeedStudyConfig(epochs=3))
    assert [r["rung"] for r in records] == ["a", "b", "c", "d"]
    assert records[3]["n_pairs"] == table.filter(pl.col("CELL_LINE_NAME").is_in(list(held_out))).height
    assert "Z_SCORE" in records[0]["features"] and "AUC" not in records[2]["features"]
    assert len(curves["a"]["train_loss"]) == 3


def test_missing_study_files_are_named(tmp_path):
    from drugresponse.errors import UserError

    with pytest.raises(UserError, match="no response"):
        from_study_files(tmp_path)
