"""Which files an upload may be, by name and by content: one list for the app's file picker, the upload readers and
``drugresponse predict``, and one message for every file that is not one of them.

A file is read by its content (``tables.open_table``), but a name that says it is a kind that holds no readable
table (a PDF, a Word document, an old ``.xls`` workbook, a ``.gz`` archive) is refused first: read as text, such a file failed later with
a message about rows or layouts that named nothing the user could act on. The first bytes are checked too, for the
same kinds under an accepted name or none (bytes sent without a name).
"""

from __future__ import annotations

import re

from drugresponse.errors import UserError

# the app's upload fields offer exactly these (serve/sample_tab.py): delimited text (.txt also a list of
# alterations; .tab as STAR's ReadsPerGene.out.tab), parquet, Excel, GCT 1.2, RSEM genes.results, Salmon quant.sf, VCF, MAF
FILE_TYPES = [".csv", ".tsv", ".txt", ".tab", ".parquet", ".xlsx", ".gct", ".results", ".sf", ".vcf", ".maf"]
SUPPORTED = "CSV or TSV text, parquet, Excel (.xlsx), GCT, VCF or MAF"
LISTED = ", ".join(FILE_TYPES)

# what to do with the files labs most often send instead; any other extension gets the list alone
INSTEAD = {
    ".gz": "decompress it first (gunzip) and upload the file inside",
    ".bz2": "decompress it first and upload the file inside",
    ".xz": "decompress it first and upload the file inside",
    ".zip": "unzip it and upload the table inside",
    ".xls": "open it in Excel and save it as .xlsx (Excel Workbook) or .csv",
    ".xlsm": "save it as .xlsx (Excel Workbook) or .csv",
    ".ods": "save it as .xlsx or .csv",
    ".pdf": "a PDF holds no table the app can read: export the table from its source as .csv or .xlsx",
    ".doc": "export the table as .csv, or paste it into Excel and save as .xlsx",
    ".docx": "export the table as .csv, or paste it into Excel and save as .xlsx",
    ".zst": "decompress it first and upload the file inside",
    ".7z": "unpack it and upload the table inside",
    ".bam": "the model reads gene-level expression: upload the quantification (e.g. salmon.merged.gene_tpm.tsv)",
    ".fastq": "the model reads gene-level expression: upload the quantification (e.g. salmon.merged.gene_tpm.tsv)",
}
# first bytes of the kinds a misnamed or nameless upload most often is, and the extension whose advice fits (parquet
# and .xlsx, a zip, are read; a zip that is not a workbook is refused by ``xlsx_guard``)
MAGIC = {
    b"%PDF": ("a PDF document", ".pdf"),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": ("an old Office file (.xls or .doc)", ".xls"),
    b"\x1f\x8b": ("a gzip-compressed file", ".gz"),
    b"\xfd7zXZ\x00": ("an xz-compressed file", ".xz"), b"7z\xbc\xaf\x27\x1c": ("a 7-Zip archive", ".7z"),
    b"\x28\xb5\x2f\xfd": ("a zstd-compressed file", ".zst"), b"{\\rtf": ("an RTF document", ".doc"),
    b"\x89PNG": ("a PNG image", ".png"), b"\xff\xd8\xff": ("a JPEG image", ".jpg"),
}
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,9}$")  # "S1.2" ends in a version, not a file type


def extension(name: str) -> str:
    """The file type a name ends in, lower case (``""`` for none): ``x.CSV`` -> ``.csv``, ``S1.genes.results`` ->
    ``.results``."""
    found = _EXTENSION.search(name)
    return found.group(0).lower() if found else ""


def refusal(name: str, kind: str, advice: str | None = None) -> str:
    """The one message for a file that is not an accepted type: what it is, what to do, what is accepted."""
    return (f"{name} is {kind}, which cannot be read" + (f"; {advice}" if advice else "") + f". Accepted file types: "
            f"{LISTED} (comma- or tab-separated text, parquet, Excel .xlsx, GCT, RSEM, Salmon or STAR output, VCF, MAF).")


def check_file_type(name: str, head: bytes) -> None:
    """Refuse (``UserError``) a file whose name says it is a kind that holds no readable table (a PDF, a Word document,
    an old .xls workbook, an archive), or whose first bytes show one, whatever its name; any other name is read by
    its content."""
    suffix = extension(name)
    if suffix in INSTEAD:  # other names are read by their content (a .tpm or .counts file is often a plain table)
        raise UserError(refusal(name, f"a {suffix} file", INSTEAD[suffix]))
    for magic, (kind, like) in MAGIC.items():
        if head.startswith(magic):
            raise UserError(refusal(name, kind, INSTEAD.get(like)))
