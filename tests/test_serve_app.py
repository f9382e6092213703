"""End to end: the app on a free loopback port, called by gradio_client; and the app without torch."""

import json
import socket
import subprocess
import sys
import textwrap

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(running_app):
    from gradio_client import Client

    return Client(running_app, verbose=False)


def test_named_endpoints_are_exposed(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/predict", "/explain", "/rank_drugs", "/predict_profile", "/model_info"} <= endpoints


def test_predict_endpoint(client, matrix):
    result = client.predict(matrix.cell_lines[0], matrix.drugs[:2], api_name="/predict")
    assert [row[0] for row in result["data"]] == matrix.drugs[:2]
    assert result["headers"][:3] == ["drug", "screen", "ln IC50, held out"]
    assert [row[1] for row in result["data"]] == ["GDSC2", "GDSC2"]
    assert "ln IC50, model trained on this line" in result["headers"]


def test_explain_endpoint_for_a_gdsc_line_and_an_uploaded_sample(client, bundle, matrix, tmp_path):
    from gradio_client import handle_file

    from .test_serve_uploads import long_csv

    why = client.predict(matrix.cell_lines[0], matrix.drugs[0], None, api_name="/explain")
    assert len(why["data"]) == 15
    assert why["headers"][:3] == ["feature", "contribution (ln µM)", "pushes toward"]
    contributions = [row[1] for row in why["data"]]
    assert contributions == sorted(contributions, key=abs, reverse=True)
    # it says which of the line's two predictions it explains, and gives both
    assert why["explains"].startswith("the shipped model's in-sample prediction")
    shown = client.predict(matrix.cell_lines[0], [matrix.drugs[0]], api_name="/predict")
    row = dict(zip(shown["headers"], shown["data"][0]))
    assert why["prediction_ln_ic50"] == pytest.approx(row["ln IC50, model trained on this line"], abs=1e-3)
    assert why["held_out_ln_ic50"] == pytest.approx(row["ln IC50, held out"], abs=1e-3)
    path = tmp_path / "sample.csv"
    path.write_bytes(long_csv(bundle, 0, name="my sample"))
    mine = client.predict("my sample", matrix.drugs[0], handle_file(str(path)), api_name="/explain")
    # the uploaded copy of line 0 (full precision) explains like the catalog's (float16) line 0
    assert [row[0] for row in mine["data"]][:5] == [row[0] for row in why["data"]][:5]
    with pytest.raises(Exception, match="no sample 'other'"):
        client.predict("other", matrix.drugs[0], handle_file(str(path)), api_name="/explain")


def test_a_drug_only_gdsc1_screened_is_predicted_and_explained(client, matrix):
    """The GDSC1 outputs are first-class: /predict names their screen, /explain sums to their prediction."""
    line = matrix.cell_lines[0]
    shown = client.predict(line, ["Imatinib [GDSC1]", "Cisplatin", "Cisplatin [GDSC1]"], api_name="/predict")
    rows = {row[0]: dict(zip(shown["headers"], row)) for row in shown["data"]}
    assert [rows[d]["screen"] for d in rows] == ["GDSC1", "GDSC2", "GDSC1"]
    assert rows["Cisplatin"]["ln IC50, held out"] != rows["Cisplatin [GDSC1]"]["ln IC50, held out"]  # two assays
    why = client.predict(line, "Imatinib [GDSC1]", None, api_name="/explain")
    assert len(why["data"]) == 15
    assert why["prediction_ln_ic50"] == pytest.approx(rows["Imatinib [GDSC1]"]["ln IC50, model trained on this line"],
                                                      abs=1e-3)
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(line, ["Imatinib"], api_name="/predict")  # GDSC2 never screened it: only the GDSC1 output


def test_plain_http_calls_without_gradio_client(running_app, matrix):
    """What the README shows for curl: POST the inputs, then read the result from the event stream."""
    import httpx

    with httpx.Client(base_url=running_app, timeout=60) as http:
        started = http.post("gradio_api/call/predict", json={"data": [matrix.cell_lines[0], matrix.drugs[:2]]})
        assert started.status_code == 200
        stream = http.get(f"gradio_api/call/predict/{started.json()['event_id']}").text
    event, data = [line for line in stream.splitlines() if line][-2:]
    assert event == "event: complete"
    table = json.loads(data.removeprefix("data: "))[0]
    assert [row[0] for row in table["data"]] == matrix.drugs[:2]


def test_rank_drugs_endpoint(client, matrix):
    result = client.predict(matrix.cell_lines[0], api_name="/rank_drugs")
    # each drug once: GDSC2's, and the drugs only GDSC1 screened by their GDSC1 output
    assert sorted(row[0] for row in result["data"]) == sorted([*matrix.drugs, "Imatinib [GDSC1]"])


def test_predict_profile_endpoint(client, bundle, tmp_path):
    from gradio_client import handle_file

    from .test_serve_uploads import long_csv

    path = tmp_path / "sample.csv"
    path.write_bytes(long_csv(bundle, 0))
    result = client.predict(handle_file(str(path)), api_name="/predict_profile")
    # every output: GDSC2's drugs and GDSC1's, each row naming its screen
    assert len(result["data"]) == bundle.responses.select("dataset", "drug").unique().height
    assert {row[2] for row in result["data"]} == {"GDSC1", "GDSC2"}
    assert result["headers"][:4] == ["sample", "drug", "screen", "predicted ln IC50"] and result["headers"][-1] == "flag"


def test_bad_upload_gets_a_message_not_a_trace(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "bad.csv"
    path.write_text("sample,gene,modality,value\nS1,TP53,expression,abc\n")
    with pytest.raises(Exception, match="is not a number"):
        client.predict(handle_file(str(path)), api_name="/predict_profile")


def test_model_info_endpoint(client):
    info = client.predict(api_name="/model_info")
    assert info["units"] == "natural log of IC50 in micromolar"
    assert info["provider"] == "CPUExecutionProvider"
    assert info["precision"].startswith("float32")
    assert set(info["reads"]) == {"expression", "mutation", "copy_number", "drivers"}


def test_app_runs_with_torch_unimportable(assets_dir):
    script = textwrap.dedent(f"""
        import sys, json
        # a None entry makes `import torch` fail the way a missing package does
        for name in ("torch", "drugresponse.train", "drugresponse.export"):
            sys.modules[name] = None
        from pathlib import Path
        from drugresponse.serve.app import create
        app = create(Path({str(assets_dir)!r}), provider="cpu")
        blocked = [m for m, mod in sys.modules.items() if mod is not None
                   and (m == "torch" or m.startswith(("torch.", "drugresponse.train", "drugresponse.export")))]
        print(json.dumps({{"blocked_loaded": blocked}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"blocked_loaded": []}
