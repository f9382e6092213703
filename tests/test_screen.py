"""``drugresponse screen``: a compound library against every GDSC line or a cohort, streamed, ranked, atomic."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest

from drugresponse.cli import main
from drugresponse.train.compounds.ldo_results import structures

from .test_evaluate import _stop_cluster
from .test_serve_app import free_port


@pytest.fixture(scope="module")
def library(bundle_path, tmp_path_factory):
    smiles = structures(bundle_path)
    path = tmp_path_factory.mktemp("library") / "library.smi"
    lines = ["# a comment, then compounds with names", *(f"{s} {name}" for name, s in smiles.items()),
             "CC(=O)OC1=CC=CC=C1C(=O)O.[Na+] aspirin sodium", "CCO"]
    path.write_text("\n".join(lines) + "\n")
    return path, smiles


def screen(assets_dir, *args) -> int:
    return main(["screen", *map(str, args), "--model", str(assets_dir / "model.onnx"), "--quiet"])


def test_every_compound_against_every_gdsc_line_ranked(assets_dir, library, matrix, tmp_path):
    path, smiles = library
    out = tmp_path / "ranked.parquet"
    assert screen(assets_dir, path, "-o", out, "--chunk", "4") == 0
    table = pl.read_parquet(out)
    lines = pl.read_parquet(assets_dir / "cell_lines.parquet").height
    unnamed = f"line {len(smiles) + 3}"  # a compound without a name is called by its line in the file
    assert table["compound"].unique(maintain_order=True).to_list() == [*smiles, "aspirin sodium", unnamed]
    assert table.height == (len(smiles) + 2) * lines
    for _, block in table.group_by("compound"):
        assert block["rank"].to_list() == list(range(1, lines + 1))
        assert block["predicted_ln_ic50"].is_sorted()
    assert (table["interval_low"] < table["predicted_ln_ic50"]).all()
    assert table.filter(pl.col("compound") == "aspirin sodium")["smiles"][0] == "CC(=O)Oc1ccccc1C(=O)O"
    # the first compound, one line, by hand with the committed-format model and the line's measurements
    meta = json.loads((assets_dir / "compound.json").read_text())
    from drugresponse.compound_structure import morgan_bits, standardise

    first = next(iter(smiles))
    bits = morgan_bits(standardise(smiles[first]), meta["fingerprint"]["radius"], meta["fingerprint"]["size"])
    line = matrix.cell_lines[0]
    expected = ort.InferenceSession(str(assets_dir / "compound.onnx")).run(
        ["ln_ic50"], {"fingerprint": bits[None, :], "anchor_ln_ic50": matrix.ln_ic50[:1]})[0][0, 0]
    got = table.filter((pl.col("compound") == first) & (pl.col("target") == line))["predicted_ln_ic50"][0]
    assert got == pytest.approx(float(expected), abs=1e-4)


def test_top_and_csv_and_a_table_library(assets_dir, library, tmp_path):
    _, smiles = library
    path = tmp_path / "library.csv"
    pl.DataFrame({"id": list(smiles)[:3], "smiles": list(smiles.values())[:3]}).write_csv(path)
    out = tmp_path / "top.csv"
    assert screen(assets_dir, path, "-o", out, "--top", "5") == 0
    table = pl.read_csv(out)
    assert table.height == 15 and table["compound"].unique().sort().to_list() == sorted(list(smiles)[:3])


def test_a_bad_structure_stops_the_run_with_its_line_and_writes_nothing(assets_dir, tmp_path, capsys):
    path = tmp_path / "bad.smi"
    path.write_text("CCO ethanol\nC1CC broken\nCC(=O)O acetic\n")
    out = tmp_path / "out.parquet"
    assert screen(assets_dir, path, "-o", out) == 2
    assert "line 2 (broken)" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    assert screen(assets_dir, path, "-o", out, "--skip-invalid") == 0
    assert pl.read_parquet(out)["compound"].unique(maintain_order=True).to_list() == ["ethanol", "acetic"]
    refused = pl.read_csv(tmp_path / "out.parquet.refused.csv")
    assert refused["line"].to_list() == [2] and "cannot read" in refused["reason"][0]


def test_the_output_never_overwrites_the_library(assets_dir, tmp_path, capsys):
    path = tmp_path / "lib.csv"
    path.write_text("smiles,name\nCCO,ethanol\n")
    assert screen(assets_dir, path, "-o", path) == 2
    assert "would overwrite an input" in capsys.readouterr().err and path.read_text().startswith("smiles,name")


@pytest.mark.parametrize("content,words", [
    (b"\x00\x01binary", "binary"), (b"C" * 5000 + b"\n", "longer than"), (b"name,formula\nx,CCO\n", "no 'smiles'"),
    (b"\xff\xfe\x00C", "binary"),
])
def test_what_is_not_a_library_gets_a_message(assets_dir, tmp_path, capsys, content, words):
    path = tmp_path / ("lib.csv" if b"," in content else "lib.smi")
    path.write_bytes(content)
    assert screen(assets_dir, path, "-o", tmp_path / "o.parquet") == 2
    assert words in capsys.readouterr().err


def test_against_an_uploaded_cohort(assets_dir, library, bundle, runtime, tmp_path):
    from .test_serve_uploads import wide_csv

    _, smiles = library
    cohort = tmp_path / "cohort.csv"
    cohort.write_bytes(wide_csv(bundle, [0, 1, 2]))
    lib = tmp_path / "two.smi"
    lib.write_text("\n".join(f"{s} {n}" for n, s in list(smiles.items())[:2]) + "\n")
    out = tmp_path / "cohort_ranked.parquet"
    assert screen(assets_dir, lib, "-o", out, "--profiles", cohort) == 0
    table = pl.read_parquet(out)
    assert table.height == 6 and set(table["target"]) == set(bundle.cell_lines["cell_line"][:3].to_list())
    meta = json.loads((assets_dir / "compound.json").read_text())
    width = (table["interval_high"] - table["predicted_ln_ic50"]).to_numpy()
    q = meta["intervals"]["double"]["q"]
    assert np.all(width > 0) and q > 0


def test_a_two_process_ray_cluster_gives_the_serial_table(assets_dir, library, tmp_path, monkeypatch):
    path, _ = library
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray_cli = Path(sys.executable).with_name("ray")
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}
    started = subprocess.run([str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=2",
                              f"--temp-dir={temp_dir}", "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, timeout=180, env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert screen(assets_dir, path, "-o", tmp_path / "ray.parquet", "--chunk", "3", "--address",
                      f"127.0.0.1:{port}") == 0
    finally:
        _stop_cluster(temp_dir)
    assert screen(assets_dir, path, "-o", tmp_path / "serial.parquet", "--chunk", "3") == 0
    assert pl.read_parquet(tmp_path / "ray.parquet").equals(pl.read_parquet(tmp_path / "serial.parquet"))


def test_an_excel_csv_with_a_byte_order_mark_is_read(assets_dir, library, tmp_path):
    _, smiles = library
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffsmiles,name\n".encode() + f"{next(iter(smiles.values()))},first\n".encode())
    assert screen(assets_dir, path, "-o", tmp_path / "o.parquet", "--top", "1") == 0
    assert pl.read_parquet(tmp_path / "o.parquet")["compound"].to_list() == ["first"]


@pytest.mark.parametrize("content,words", [
    (b'smiles,name\n"CC\nN",split\n', "line 2: a quoted field runs onto the next line"),
    (b"CCO a\n" * 3 + b"CC\xff b\n", "line 4 of lib.smi is not UTF-8"),
])
def test_a_damaged_library_is_refused_with_its_line(assets_dir, tmp_path, capsys, content, words):
    path = tmp_path / ("lib.csv" if content.startswith(b"smiles") else "lib.smi")
    path.write_bytes(content)
    assert screen(assets_dir, path, "-o", tmp_path / "o.parquet") == 2
    assert words in capsys.readouterr().err and not (tmp_path / "o.parquet").exists()


def test_when_every_compound_is_refused_the_reasons_are_still_written(assets_dir, tmp_path, capsys):
    path = tmp_path / "bad.smi"
    path.write_text("C1CC one\n[Na+] two\n")
    out = tmp_path / "o.parquet"
    assert screen(assets_dir, path, "-o", out, "--skip-invalid") == 2
    assert "no compound that could be scored" in capsys.readouterr().err and not out.exists()
    assert pl.read_csv(tmp_path / "o.parquet.refused.csv")["line"].to_list() == [1, 2]
