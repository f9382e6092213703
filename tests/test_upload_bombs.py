"""Small files that expand in the reader: refused before the expansion, by what the file holds, not what it declares.

An .xlsx whose cells share one long string, whose cells lie far apart, or whose zip directory misstates a member; a
parquet file whose dictionary repeats one long string, or whose numbers decode to far more than its bytes; a cell
longer than any real file holds. Each test fails without the guard it checks (``xlsx_guard``, ``parquet_guard``,
the cell checks of ``tables`` and ``cells``).
"""

import io
import tracemalloc
import zipfile
from dataclasses import replace

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter

from drugresponse.errors import UserError
from drugresponse.serve.uploads import APP, parse_profiles
from drugresponse.serve.uploads.tables import open_table

from .fixtures.hostile_files import dictionary_bomb, shared_string_bomb
from .test_serve_uploads import wide_csv

SHEET = "xl/worksheets/sheet1.xml"


def workbook(sheet_data: str, sheet: bytes | None = None) -> bytes:
    """The smallest .xlsx the Excel reader opens: one sheet whose ``<sheetData>`` holds ``sheet_data`` (or whose
    whole XML is ``sheet``)."""
    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    relations = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-'
                         'types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        archive.writestr("xl/workbook.xml", f'<workbook {main} xmlns:r="{relations}"><sheets><sheet name="S" '
                         'sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                         f'package/2006/relationships"><Relationship Id="rId1" Type="{relations}/worksheet" '
                         'Target="worksheets/sheet1.xml"/></Relationships>')
        archive.writestr(SHEET, sheet if sheet is not None else
                         f"<worksheet {main}><sheetData>{sheet_data}</sheetData></worksheet>")
    return buffer.getvalue()


def understating(data: bytes, member: str, declared: int) -> bytes:
    """``data`` with the zip directory (and local header) saying ``member`` unpacks to ``declared`` bytes."""
    data, name = bytearray(data), member.encode()
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at:at + name_at + len(name)] == name:
                data[at + size_at:at + size_at + 4] = declared.to_bytes(4, "little")
            at = data.find(signature, at + 4)
    return bytes(data)


@pytest.fixture
def excel_reader(monkeypatch):
    """Every workbook the Excel reader is asked to open; the reader itself is never run (a guard must refuse first,
    and without one a file that asks for 17 billion cells would abort the test process)."""
    import fastexcel

    opened = []

    def read_excel(data, *args, **kwargs):
        opened.append(len(data))
        raise AssertionError("the Excel reader was reached")

    monkeypatch.setattr(fastexcel, "read_excel", read_excel)
    return opened


def test_cells_sharing_one_long_string_are_refused_before_the_reader_copies_it(schema, excel_reader):
    bomb = shared_string_bomb()
    assert len(bomb) < 30_000
    tracemalloc.start()
    with pytest.raises(UserError, match="MB of text .a shared string counted once per cell"):
        parse_profiles(bomb, schema, name="bomb.xlsx")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not excel_reader and peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB traced while refusing"


def test_cells_far_apart_are_refused_before_the_reader_allocates_between_them(schema, excel_reader):
    far = workbook('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')
    with pytest.raises(UserError, match="spans 1,048,576 rows x 16,384 columns"):
        parse_profiles(far, schema, name="far.xlsx")
    one_long = workbook(f'<row r="1"><c r="A1" t="inlineStr"><is><t>{"x" * 70_000}</t></is></c></row>')
    with pytest.raises(UserError, match="cell A1 of its first sheet holds 70,000 bytes"):
        parse_profiles(one_long, schema, name="long.xlsx")
    assert not excel_reader


def test_a_sheet_hidden_behind_a_name_that_differs_only_in_case_is_refused(schema, excel_reader):
    """The Excel reader finds parts ignoring case and opens the last match: a harmless sheet1.xml for the guard to
    check and a SHEET1.xml behind it for the reader would smuggle the shared-string bomb past the guard."""
    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    cells = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}" t="s"><v>0</v></c>' for c in "ABCD") + "</row>"
                    for r in range(1, 626))
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook('<row r="1"><c r="A1"><v>1</v></c></row>'))) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            archive.writestr(member, source.read(member))
        archive.writestr("xl/sharedStrings.xml", f'<sst {main}><si><t>{"A" * 20_000}</t></si></sst>')
        archive.writestr("xl/worksheets/SHEET1.xml", f"<worksheet {main}><sheetData>{cells}</sheetData></worksheet>")
    with pytest.raises(UserError, match="some named twice"):
        parse_profiles(buffer.getvalue(), schema, name="hidden.xlsx")
    assert not excel_reader


def test_a_zip_directory_that_misstates_a_member_is_refused(schema, excel_reader):
    honest = workbook('<row r="1"><c r="A1"><v>1</v></c></row>')
    with pytest.raises(UserError, match="zip directory says 'xl/worksheets/sheet1.xml' unpacks to 10 bytes"):
        parse_profiles(understating(honest, SHEET, 10), schema, name="lying.xlsx")
    zeros = b"<worksheet>" + b" " * 5_000_000 + b"</worksheet>"  # 5 MB that say they are 100 bytes
    small = replace(APP, max_unpacked_bytes=2_000_000)
    with pytest.raises(UserError, match="would unpack to more than 2 MB"):
        parse_profiles(understating(workbook("", zeros), SHEET, 100), schema, small, name="bomb.xlsx")
    assert not excel_reader


def test_a_workbook_within_the_limits_is_read(schema, bundle):
    table = pl.read_csv(wide_csv(bundle, [0, 1], modalities=("expression",)))
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for row, values in enumerate([table.columns, *table.rows()]):
        sheet.write_row(row, 0, values)
    book.close()
    report = parse_profiles(buffer.getvalue(), schema, name="two.xlsx")
    assert report.samples == table["sample"].to_list()


def test_a_parquet_dictionary_that_repeats_a_long_string_is_refused_before_it_is_decoded():
    bomb = dictionary_bomb()
    assert len(bomb) < 2_000
    with pytest.raises(UserError, match="text columns decode to more than 25 MB .column 'sample'"):
        open_table(bomb, APP, "bomb.parquet")  # refused on opening: no row is decoded
    buffer = io.BytesIO()
    pl.DataFrame({"sample": ["x" * 100_000], "expression:TP53": [1.0]}).write_parquet(buffer)
    with pytest.raises(UserError, match="column 'sample' .row group 0. holds 100,000 bytes"):
        open_table(buffer.getvalue(), APP, "long.parquet")


def test_parquet_numbers_that_decode_past_the_limit_are_refused_from_the_metadata():
    zeros = pa.array(np.zeros(1_000_000))  # a run of one value: a few KB on disk, 8 MB decoded per column
    buffer = io.BytesIO()
    pq.write_table(pa.table({f"expression:G{i}": zeros for i in range(30)}), buffer)
    assert len(buffer.getvalue()) < 1_000_000
    with pytest.raises(UserError, match="would decode to more than 200 MB"):
        open_table(buffer.getvalue(), APP, "zeros.parquet")


def vcf(info: str) -> bytes:
    return ("##fileformat=VCFv4.2\n##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Format: Allele|Consequence|"
            "SYMBOL\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
            f"7\t140453136\t.\tA\tT\t.\tPASS\t{info}\n").encode()


def test_a_cell_longer_than_any_real_file_holds_is_refused_before_it_is_copied(schema, bundle):
    expression = wide_csv(bundle, [0], modalities=("expression",))
    sample = bundle.cell_lines["cell_line"][0]
    annotation = "CSQ=" + ",".join(["T|missense_variant|BRAF"] * 2500)  # 60 KB: VEP on a gene of many transcripts
    report = parse_profiles(expression, schema, mutations=vcf(annotation), mutations_name=f"{sample}.vcf")
    assert report.samples == [sample]
    with pytest.raises(UserError, match=r"column 'INFO', holds 70,\d{3} bytes of text; a cell may hold at most 65,536"):
        parse_profiles(expression, schema, mutations=vcf(annotation + ",T|x|Y" * 1800), mutations_name="x.vcf")
    spanning = b'gene,protein_change\nBRAF,"' + b"V600E\n" * 20_000 + b'"\n'  # one quoted cell over many lines
    with pytest.raises(UserError, match="holds 120,000 bytes"):
        parse_profiles(expression, schema, mutations=spanning, mutations_name="calls.csv")


def test_a_number_longer_than_a_number_is_refused(schema, bundle):
    table = pl.read_csv(wide_csv(bundle, [0], modalities=("expression",)), infer_schema=False)
    gene = table.columns[1]
    tiny = "0." + "0" * 150 + "1"  # a finite number, and no number a file needs
    with pytest.raises(UserError, match=f"{gene} value .* is 153 characters long; a number may have at most 100"):
        parse_profiles(table.with_columns(pl.lit(tiny).alias(gene)).write_csv().encode(), schema)
