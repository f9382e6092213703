"""The app as an attacker meets it: plain HTTP with crafted payloads, files that declare huge counts, hostile names.

Every file argument that is not a user's upload is refused with one message that says nothing about the path; a
small file that names thousands of samples, tens of thousands of columns or millions of rows, or that expands in the
reader (``test_upload_bombs``), is refused before any per-sample memory is taken, and the next upload is read as
usual; names that a spreadsheet would run as formulas are made inert in downloads.
"""

import json
import os
import re
import tracemalloc

import httpx
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.serve.uploads import APP, parse_profiles
from drugresponse.serve.uploads.access import upload_folder, uploaded_file

from .fixtures.hostile_files import parquet_declaring_rows, xlsx_bomb
from .test_serve_uploads import wide_csv


def call(base: str, endpoint: str, data: list) -> tuple[str, str]:
    """(event, payload) of a call made the way curl makes it: POST the inputs, read the event stream."""
    with httpx.Client(base_url=base, timeout=120) as http:
        started = http.post(f"gradio_api/call/{endpoint}", json={"data": data})
        if started.status_code != 200:
            return "rejected", started.text
        stream = http.get(f"gradio_api/call/{endpoint}/{started.json()['event_id']}").text
    event, payload = [line for line in stream.splitlines() if line][-2:]
    return event.removeprefix("event: "), payload.removeprefix("data: ")


@pytest.fixture(scope="module")
def outside(bundle, tmp_path_factory):
    """A real, valid profile file on the server, outside the upload folder: it must never be scored."""
    path = tmp_path_factory.mktemp("server_files") / "secret_cohort.csv"
    path.write_bytes(wide_csv(bundle, [0, 1]))
    return path


@pytest.mark.parametrize("endpoint, data", [
    ("explain", lambda p: ["x", "Cisplatin", {"path": p}]),
    ("explain", lambda p: ["x", "Cisplatin", {"path": p, "meta": {"_type": "gradio.FileData"}}]),
    ("profile_report", lambda p: [{"path": p}, None, None]),
    ("profile_report", lambda p: [{"path": p, "meta": {"_type": "gradio.FileData"}}, None, None]),
    ("predict_profile", lambda p: [{"path": p}, None, "not given"]),
    ("predict_profile", lambda p: [{"path": p, "meta": {"_type": "gradio.FileData"}}, None, "not given"]),
    ("profile_report", lambda p: [{"path": p}, {"path": p}, None]),
    ("predict_compound", lambda p: ["CCO", {"path": p}]),
    ("predict_compound", lambda p: ["CCO", {"path": p, "meta": {"_type": "gradio.FileData"}}]),
])
def test_no_server_file_is_read_through_the_api(running_app, outside, bundle, endpoint, data):
    secrets = bundle.cell_lines["cell_line"][:2].to_list()  # what scoring the server's file would echo
    answers = {}
    for path in (str(outside), str(outside.parent / "missing.csv"), "/etc/passwd", "/etc/no-such-file",
                 "../../etc/passwd", str(outside.parent)):
        event, payload = call(running_app, endpoint, data(path))
        assert event in ("error", "rejected"), (path, payload[:200])
        assert not any(name in payload for name in secrets) and "root:" not in payload
        answers[path] = re.sub(r"[^\s'\"]*(/|\.\.\.)[^\s'\"]*", "PATH", payload)  # the path the caller sent
    # an existing file and a missing one get the same answer: no file-existence or file-shape oracle
    assert answers[str(outside)] == answers[str(outside.parent / "missing.csv")]
    assert answers["/etc/passwd"] == answers["/etc/no-such-file"]


def test_a_link_in_the_upload_folder_to_a_file_outside_is_refused(outside, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "link.csv").symlink_to(outside)
    (folder / "real.csv").write_text("x")
    assert uploaded_file({"path": str(folder / "real.csv")}, folder) == (folder / "real.csv").resolve()
    for probe in ({"path": str(folder / "link.csv")}, str(folder / "link.csv"), {"path": str(folder)},
                  {"path": str(folder / ".." / outside.name)}, {"path": 7}, {"path": "a\x00b"}, {}):
        with pytest.raises(UserError, match="not uploaded to this app"):
            uploaded_file(probe, folder)
    assert upload_folder() == upload_folder().resolve()


def test_a_small_file_declaring_forty_thousand_samples_is_refused_before_it_costs_memory(schema, running_app):
    from gradio_client import Client, handle_file

    data = b"sample,gene,modality,value\n" + b"".join(b"s%d,TP53,mutation,1\n" % i for i in range(40_000))
    assert len(data) < 1_000_000
    tracemalloc.start()
    with pytest.raises(UserError, match=f"more than {APP.max_samples} samples"):
        parse_profiles(data, schema)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB traced while refusing"  # arrays for the allowed samples at most
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "forty_thousand.csv")
    with open(path, "wb") as handle:
        handle.write(data)
    with pytest.raises(Exception, match=f"more than {APP.max_samples} samples"):
        Client(running_app, verbose=False).predict(handle_file(path), None, "not given", api_name="/predict_profile")


def test_too_many_columns_rows_or_unpacked_bytes_are_refused_before_parsing(schema):
    header = ",".join(["sample"] + [f"expression:G{i}" for i in range(APP.max_columns + 1)]).encode()
    with pytest.raises(UserError, match="columns; at most"):
        parse_profiles(header + b"\nS1" + b",1" * (APP.max_columns + 1) + b"\n", schema)
    declared = parquet_declaring_rows(APP.max_rows + 1)  # a few KB that declare millions of rows
    assert len(declared) < 1_000_000
    with pytest.raises(UserError, match="rows; at most"):
        parse_profiles(declared, schema, name="declared.parquet")
    bomb = xlsx_bomb(250)
    assert len(bomb) < 2_000_000
    with pytest.raises(UserError, match="would unpack to"):
        parse_profiles(bomb, schema, name="bomb.xlsx")


@pytest.mark.parametrize("layout", ["wide", "genes as columns"])
def test_a_header_as_wide_as_the_limit_costs_its_used_columns_not_all_of_them(assets_dir, tmp_path, layout):
    """A 0.6 MB file of 70,000 column names (unknown ones in the wide layout, or real and made-up Ensembl IDs as a
    genes-as-columns table) and one row took ~700 MB in the reader: every column was made into an Arrow and a polars
    column. Only the columns a reader uses are now parsed. Peak memory is measured in a fresh process (Arrow's is not
    traced)."""
    import subprocess
    import sys

    if layout == "wide":
        names = [f"expression:X{i}" for i in range(APP.max_columns - 1)]
    else:  # the model's genes by Ensembl ID (as a lab's table of every gene names them), then made-up ones
        table = pl.read_parquet(assets_dir / "gene_identifiers.parquet").filter(pl.col("rule") == "ensembl")
        names = table["identifier"].head(5_000).to_list()
        names += [f"ENSG9{i:010d}" for i in range(APP.max_columns - 1 - len(names))]
    names = ",".join(names)
    path = tmp_path / "wide.csv"
    path.write_text(f"sample,{names}\nS,{','.join('1' for _ in range(APP.max_columns - 1))}\n")
    script = ("import sys\n"
              "from drugresponse.serve.runtime import load_runtime\n"
              "from drugresponse.serve.uploads import ProfileSchema, parse_profiles\n"
              "from drugresponse.errors import UserError\n"
              f"model = {str(assets_dir / 'model.onnx')!r}\n"
              "schema = ProfileSchema.beside(load_runtime(model, 'cpu'), model)\n"
              "def status(key):\n"
              "    line = next(l for l in open('/proc/self/status') if l.startswith(key))\n"
              "    return int(line.split()[1]) / 1024\n"
              "open('/proc/self/clear_refs', 'w').write('5')  # the peak (VmHWM) starts again from here\n"
              "before = status('VmRSS')\n"
              "import time\n"
              "started = time.perf_counter()\n"
              "try:\n"
              f"    parse_profiles(open({str(path)!r}, 'rb').read(), schema, name='wide.csv')\n"
              "except UserError as error:\n"
              "    print('refused:', error, file=sys.stderr)\n"
              "print(time.perf_counter() - started)\n"
              "print(status('VmHWM') - before)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds, grown = (float(v) for v in done.stdout.strip().splitlines()[-2:])
    assert grown < 150, f"{grown:.0f} MiB over the process's level before reading"
    assert seconds < 5, f"{seconds:.1f} s to read one row"  # bounded whatever the header's width


def test_files_that_expand_in_the_reader_are_refused_over_http_and_the_next_upload_is_read(running_app, bundle,
                                                                                          tmp_path):
    from gradio_client import Client, handle_file

    from .fixtures.hostile_files import dictionary_bomb, shared_string_bomb
    from .test_upload_bombs import workbook

    client = Client(running_app, verbose=False)
    far = workbook('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')
    for name, data, message in [("strings.xlsx", shared_string_bomb(), "MB of text"),
                                ("far.xlsx", far, "spans 1,048,576 rows"),  # before its guard: the reader aborted
                                ("dictionary.parquet", dictionary_bomb(), "text columns decode to more than")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(Exception, match=message):
            client.predict(handle_file(str(path)), None, "not given", api_name="/predict_profile")
    good = tmp_path / "good.csv"
    good.write_bytes(wide_csv(bundle, [0], modalities=("expression",)))
    report = client.predict(handle_file(str(good)), None, None, api_name="/profile_report")
    assert report["samples"] == [bundle.cell_lines["cell_line"][0]]


def test_names_are_bounded_and_formulas_are_inert_in_downloads(bundle, schema, tmp_path):
    from drugresponse.serve.downloads import Downloads

    table = pl.read_csv(wide_csv(bundle, [0, 1]))
    long_name = table.with_columns(pl.Series("sample", ["x" * 5000, "ok"]))
    with pytest.raises(UserError, match="characters long"):
        parse_profiles(long_name.write_csv().encode(), schema)
    hostile = table.with_columns(pl.Series("sample", ['=HYPERLINK("http://evil","x")', "@SUM(A1)"]))
    report = parse_profiles(hostile.write_csv().encode(), schema)
    # report lines above the header carry names too: a spreadsheet splits them at commas, semicolons and tabs
    path = Downloads(tmp_path).csv(pl.DataFrame({"sample": report.samples, "v": [1, 2]}), "out",
                                   ["=note", "1 sample(s): BT474,=1+2; x;@SUM(A1)\t -2+3"])
    text = open(path, encoding="utf-8-sig").read()
    assert "'=HYPERLINK" in text and "\n'@SUM" in text and "# '=note" in text
    assert not re.search(r'\n"?[=+@-]', text)  # no cell starts a formula
    for line in text.splitlines():
        assert not [cell for cell in re.split(r"[,;\t]", line) if cell.strip().startswith(("=", "+", "-", "@"))]
    assert open(path, "rb").read().startswith(b"\xef\xbb\xbf")  # Excel reads the UTF-8 (µ) only with a BOM


def test_the_report_endpoint_over_plain_http(running_app, bundle, tmp_path):
    from gradio_client import Client, handle_file

    path = tmp_path / "sample.csv"
    path.write_bytes(wide_csv(bundle, [0], modalities=("expression",)))
    report = Client(running_app, verbose=False).predict(handle_file(str(path)), None, None, api_name="/profile_report")
    assert report["samples"] == [bundle.cell_lines["cell_line"][0]]
    context = report["context"][report["samples"][0]]
    assert len(context["similar_lines"]) == 5 and context["similar_lines"][0]["cell_line"] == report["samples"][0]
    assert json.dumps(report)  # plain JSON for any client


def test_crafted_arguments_get_a_message_naming_the_argument_before_any_work(running_app, bundle):
    """Found by an attacker's review: 5,000 copies of one drug (a 65 KB body) took 20 s and 700 MB in the plot that
    shares /predict's inputs; a list where a name belongs answered Python's "unhashable type: 'list'"; a string of
    drugs was read letter by letter; a 900 KB name was echoed whole. Each is now refused from its arguments, with the
    argument named and the echo bounded."""
    import time

    line = bundle.cell_lines["cell_line"][0]
    started = time.perf_counter()
    event, payload = call(running_app, "predict", [line, ["Cisplatin"] * 5000])
    assert event == "error" and "at most" in payload and time.perf_counter() - started < 10
    event, payload = call(running_app, "predict", [line, ["Cisplatin", "Cisplatin"]])
    assert event == "error" and "'Cisplatin' given more than once" in payload
    event, payload = call(running_app, "predict", [line, "Cisplatin"])  # one name is a list of one
    assert event == "complete" and "Cisplatin" in payload
    for endpoint, data, says in [
        ("explain", [line, ["Cisplatin"], None], "the drug must be one name (a string), not a list"),
        ("explain", [{"a": 1}, "Cisplatin", None], "must be one name (a string), not an object"),
        ("rank_drugs", [[line]], "the cell line must be one name (a string), not a list"),
        ("profile_report", [None, None, ["bone"]], "the tissue must be one name (a string), not a list"),
    ]:
        event, payload = call(running_app, endpoint, data)
        assert event == "error" and says in payload, (endpoint, payload[:300])
        assert "unhashable" not in payload and "Traceback" not in payload
    event, payload = call(running_app, "explain", ["x" * 900_000, "Cisplatin", None])
    assert event in ("error", "rejected") and len(payload) < 2_000  # refused; the name is not echoed back whole


def test_smaller_holes_a_review_found_are_closed(schema, bundle, tmp_path):
    """A quoted report field that starts a formula, a file whose lines end in CR alone (read as 'a header but no
    rows'), names with hidden characters, and a ranking CSV rewritten on every request."""
    import csv

    from drugresponse.serve.downloads import Downloads, neutralise_line

    line = neutralise_line('samples: a,"=HYPERLINK(""http://x.example"",""y"")", S1')
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for cell in next(csv.reader([line])))
    with_cr = wide_csv(bundle, [0], modalities=("expression",)).replace(b"\n", b"\r")
    assert parse_profiles(with_cr, schema, name="old_mac.csv").samples == [bundle.cell_lines["cell_line"][0]]
    for hidden in ("S\u200b1", "A\u202eBC", "A\nB"):
        data = wide_csv(bundle, [0], modalities=("expression",)).decode().split("\n")
        data[1] = '"' + hidden + '"' + data[1][data[1].index(","):]
        with pytest.raises(UserError, match="invisible or control character"):
            parse_profiles("\n".join(data).encode(), schema, name="x.csv")
    downloads = Downloads(tmp_path / "downloads")
    (tmp_path / "downloads").mkdir(exist_ok=True)
    table = pl.DataFrame({"drug": ["a"], "z": [1.0]})
    first = downloads.csv(table, "ranking_A-253", keep=True)
    assert downloads.csv(table, "ranking_A-253", keep=True) == first  # written once, offered again
    assert downloads.csv(table, "ranking_A/253", keep=True) != first  # names that clean alike do not collide
