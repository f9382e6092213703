import subprocess
import sys

import pytest

from drugresponse.cli import main
from drugresponse.train.data.bundle import bundle_dir


def test_help_lists_every_stage(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("data", "train", "evaluate", "export", "serve"):
        assert command in out


def test_help_does_not_import_torch():
    code = "import sys; from drugresponse.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_missing_bundle_is_a_message_not_a_trace(tmp_path, capsys):
    assert main(["evaluate", "--split", "lco", "--data-dir", str(tmp_path)]) == 2
    assert "drugresponse data build" in capsys.readouterr().err


def test_bad_from_dir_is_a_message(tmp_path, capsys):
    assert main(["data", "build", "--data-dir", str(tmp_path / "d"), "--from-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not in" in err and not bundle_dir(tmp_path / "d").exists()


def test_wheel_puts_stages_under_drugresponse_only(tmp_path):
    import zipfile
    from pathlib import Path

    from .test_install_paths import copy_checkout

    root = Path(__file__).resolve().parent.parent
    # from a fresh copy, as a clone builds it: the checkout's own egg-info and build/ would list stale files
    source = copy_checkout(tmp_path / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, timeout=300)
    wheel = next(tmp_path.glob("drugresponse-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"drugresponse", wheel.name.split("-py3")[0] + ".dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    assert {"drugresponse/train/model/modules.py", "drugresponse/train/data/bundle.py", "drugresponse/cli/serve.py",
            "drugresponse/export/onnx_export.py", "drugresponse/serve/app.py"} <= set(names)
    # every module of every stage folder is packaged: a sub-package missing from pyproject's list fails here
    stages = {"drugresponse": "drugresponse", "train": "drugresponse/train", "export": "drugresponse/export",
              "serve": "drugresponse/serve"}
    expected = {f"{installed}/{path.relative_to(root / folder).as_posix()}" for folder, installed in stages.items()
                for path in (root / folder).rglob("*.py") if "__pycache__" not in path.parts}
    assert expected <= set(names), sorted(expected - set(names))


def test_train_excludes_the_listed_cell_lines(bundle_path, matrix, tmp_path, capsys):
    import json

    (tmp_path / "exclude.txt").write_text(f"# held out\n{matrix.cell_lines[0]}\nNOT-A-LINE\n")
    out = tmp_path / "ckpt"
    code = main(["train", "--preset", "quick", "--data-dir", str(bundle_path.parent), "--out", str(out),
                 "--exclude-cell-lines", str(tmp_path / "exclude.txt")])
    assert code == 0
    assert "NOT-A-LINE" in capsys.readouterr().out
    info = json.loads((out / "checkpoint.json").read_text())
    assert info["excluded_cell_lines"] == [matrix.cell_lines[0]]
    assert matrix.cell_lines[0] not in info["cell_lines"] and info["n_cell_lines"] == len(matrix.cell_lines) - 1


def test_train_refuses_an_exclusion_file_of_unknown_names(bundle_path, tmp_path, capsys):
    (tmp_path / "exclude.txt").write_text("NOT-A-LINE\n")
    code = main(["train", "--preset", "quick", "--data-dir", str(bundle_path.parent), "--out", str(tmp_path / "c"),
                 "--exclude-cell-lines", str(tmp_path / "exclude.txt")])
    assert code == 2 and "none of the 1 cell lines" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
