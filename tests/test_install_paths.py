"""Every way a user runs the app, each from a fresh virtual environment, as a new user would:

1. a Hugging Face Space: a copy of the repository, ``pip install -r requirements.txt``, ``python app.py``;
2. a wheel installed into a fresh environment without torch: ``drugresponse serve`` and ``drugresponse predict``,
   run from a folder that is not the repository;
3. ``make app`` on a copy of the repository.

Each is called over HTTP with gradio_client. Slow (each installs the serving dependencies into a new
environment); marked ``install`` so a quick local run can leave them out with ``-m "not install"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_serve_app import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.install
ENV = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
       "PYTHONDONTWRITEBYTECODE": "1"}
ENV.pop("PYTHONPATH", None)


def copy_checkout(target: Path) -> Path:
    """The files a clone has: tracked ones plus new ones git does not ignore (so uncommitted work is tested)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path / "bin"


def pip(bin_dir: Path, *args: str, cwd: Path | None = None) -> None:
    result = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=900, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    for warning in ("BuildBackendWarning", "project.license"):  # packaging warnings a user would see
        assert warning not in result.stderr, result.stderr[-3000:]


def wait_and_predict(process: subprocess.Popen, url: str, log: Path, patience: float = 240) -> dict:
    """Wait for the server, then call /predict and /explain with gradio_client; return the predict table."""
    from gradio_client import Client

    deadline = time.time() + patience
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            client = Client(url, verbose=False)
            break
        except Exception:
            if time.time() > deadline:
                raise AssertionError(f"the app did not answer within {patience:.0f} s:\n{log.read_text()[-3000:]}") \
                    from None
            time.sleep(2)
    table = client.predict("A549", ["Dabrafenib", "Cisplatin"], api_name="/predict")
    why = client.predict("A375", "Dabrafenib", None, api_name="/explain")
    assert len(why["data"]) == 15
    return table


def run_server(command: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def test_space_path_serves_from_a_fresh_copy(tmp_path):
    repo = copy_checkout(tmp_path / "space")
    bin_dir = fresh_venv(tmp_path / "venv")
    pip(bin_dir, "-r", "requirements.txt", cwd=repo)
    port = free_port()
    log = tmp_path / "app.log"
    env = {**ENV, "PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    process = run_server([str(bin_dir / "python"), "app.py"], repo, env, log)
    try:
        table = wait_and_predict(process, f"http://127.0.0.1:{port}/", log)
        assert [row[0] for row in table["data"]] == ["Dabrafenib", "Cisplatin"]
    finally:
        stop(process)
    no_torch = subprocess.run([str(bin_dir / "python"), "-c", "import torch"], capture_output=True)
    assert no_torch.returncode != 0, "the Space's requirements must not install torch"


def test_wheel_in_a_fresh_environment_serves_and_scores_outside_the_repository(tmp_path):
    source = copy_checkout(tmp_path / "source")  # a fresh copy: no stale build/ folder can leak old modules in
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=600, env=ENV)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("drugresponse-*.whl"))
    bin_dir = fresh_venv(tmp_path / "venv")
    pip(bin_dir, str(wheel))
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    shutil.copy(ROOT / "examples" / "profile_panel.csv", elsewhere)
    scored = subprocess.run([str(bin_dir / "drugresponse"), "predict", "profile_panel.csv", "-o", "out.csv",
                             "--quiet"], cwd=elsewhere, capture_output=True, text=True, timeout=300, env=ENV)
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert (elsewhere / "out.csv").read_text().startswith("sample,drug,ln_ic50")
    # a compound library against every GDSC line, with the packaged structure model (RDKit installed with it)
    (elsewhere / "library.smi").write_text("CC(=O)OC1=CC=CC=C1C(=O)O.[Na+] aspirin\n")
    screened = subprocess.run([str(bin_dir / "drugresponse"), "screen", "library.smi", "-o", "ranked.csv", "--top",
                               "3", "--quiet"], cwd=elsewhere, capture_output=True, text=True, timeout=300, env=ENV)
    assert screened.returncode == 0, screened.stderr[-3000:]
    assert (elsewhere / "ranked.csv").read_text().count("aspirin,1,CC(=O)Oc1ccccc1C(=O)O") == 3
    port = free_port()
    log = tmp_path / "serve.log"
    process = run_server([str(bin_dir / "drugresponse"), "serve", "--port", str(port)], elsewhere, ENV, log)
    try:
        table = wait_and_predict(process, f"http://127.0.0.1:{port}/", log)
        assert len(table["data"]) == 2
    finally:
        stop(process)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_app_on_a_fresh_copy(tmp_path):
    repo = copy_checkout(tmp_path / "clone")
    port = free_port()
    log = tmp_path / "make.log"
    env = {k: v for k, v in ENV.items() if k != "VIRTUAL_ENV"}
    process = run_server(["make", "app", f"PORT={port}", f"PYTHON={sys.executable}"], repo, env, log)
    try:
        table = wait_and_predict(process, f"http://127.0.0.1:{port}/", log, patience=900)  # make installs first
        assert len(table["data"]) == 2
    finally:
        stop(process)
        subprocess.run(["pkill", "-f", str(repo / ".venv")], capture_output=True)
