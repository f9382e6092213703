"""An .xlsx measured by reading it, before the Excel reader (fastexcel) opens it, then its first sheet as CSV bytes.

A workbook is a zip of XML, and three things in one cost memory far out of proportion to the file:
- members that unpack to far more than the zip's few KB, and a zip directory that misstates what they unpack to;
- a shared string that thousands of cells point to: the reader gives every cell its own copy (a 19 KB workbook whose
  5,000 cells point to one 20 KB string became 100 MB of text, and 448 MB of peak memory);
- cells far apart: the reader allocates the whole rectangle between them (two cells, A1 and XFD1048576, ask it for
  17 billion cells, and the process aborts).
So every member is read through ``zipfile`` with a byte counter that stops at ``Limits.max_unpacked_bytes`` whatever
the directory declares (a member that unpacks to another size than declared is refused); the shared strings are
stream-parsed for each string's length, and the first sheet for each cell's place and text. The workbook is refused
when its text would exceed ``Limits.max_text_bytes``, one cell's ``max_cell_bytes``, or the sheet's rectangle
``max_cells``. The parse holds no element: expat's handlers count as it reads, and a run of more than
``GAP_CELLS * max_cell_bytes`` bytes without a ``<`` (one tag or text that the parser would buffer whole) is refused.
"""

from __future__ import annotations

import copy
import io
import zipfile
import zlib
from array import array
from pathlib import Path
from xml.parsers import expat

import numpy as np
import polars as pl

from drugresponse.errors import UserError

from .limits import Limits, TextBudget

READ = 1 << 16  # bytes per read of a member
MAX_MEMBERS = 10_000  # a workbook has tens of parts; pictures add a few each
GAP_CELLS = 10  # escaped text may take up to 10 bytes per character (&#1114111;)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CSV_INSTEAD = "Save the sheet as CSV instead."


def first_sheet_as_csv(source, name: str, limits: Limits) -> bytes:
    """The first sheet of an .xlsx file as CSV bytes, once ``check_workbook`` has measured what opening it costs."""
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    check_workbook(data, name, limits)
    try:
        import fastexcel

        sheet = fastexcel.read_excel(data).load_sheet(0, header_row=None)
        frame = pl.from_arrow(sheet.to_arrow()).cast(pl.String)
    except Exception as exc:  # fastexcel raises its own error types for damaged workbooks
        raise UserError(f"{name} is not a readable Excel workbook: {str(exc).splitlines()[0]}") from None
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    return buffer.getvalue()


def check_workbook(data: bytes, name: str, limits: Limits) -> None:
    """Refuse (``UserError``) a workbook whose opening would cost more than ``limits`` allow; see the module."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_members(archive, name, limits)
            lengths = _shared_string_lengths(archive, name, limits)
            _check_sheet(archive, _first_sheet(archive, name, limits), lengths, name, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, expat.ExpatError,
            ValueError, IndexError, KeyError, OSError):
        raise UserError(f"{name} is not a readable Excel (.xlsx) file.") from None


def _check_members(archive: zipfile.ZipFile, name: str, limits: Limits) -> None:
    members = archive.infolist()
    names = [m.filename for m in members]
    if "xl/workbook.xml" not in names:
        raise UserError(f"{name} is a zip archive but not an Excel workbook; save the sheet as .xlsx or CSV.")
    # the Excel reader finds a part by its name ignoring case (the last of two such names wins), while this guard
    # reads the exact name: two names that differ only in case or separators would let it check one part and the
    # reader open another
    folded = {n.replace("\\", "/").lstrip("/").lower() for n in names}
    if len(members) > MAX_MEMBERS or len(folded) < len(names):
        raise UserError(f"{name} is not a workbook Excel writes ({len(members):,} parts, some named twice?). "
                        + CSV_INSTEAD)
    cap = limits.max_unpacked_bytes
    declared = sum(m.file_size for m in members)
    if declared > cap:
        raise UserError(f"{name} would unpack to {declared / 1e6:,.0f} MB; at most {cap / 1e6:,.0f} MB is accepted. "
                        + CSV_INSTEAD)
    total = 0
    for member in members:
        size = sum(len(block) for block in _unpack(archive, member, cap - total, name, cap))
        if size != member.file_size:
            raise UserError(f"{name}: its zip directory says {member.filename[:60]!r} unpacks to {member.file_size:,} "
                            f"bytes, but it unpacks to {size:,}; refused.")
        total += size


def _unpack(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int, name: str, cap: int):
    """The member's bytes as they unpack, to the end of its compressed data whatever its declared size; refused once
    they pass ``budget``."""
    info = copy.copy(member)
    info.file_size = 1 << 62  # zipfile stops at the declared size: let it read to the end of the data, and count
    read = 0
    with archive.open(info) as handle:
        while block := handle.read(READ):
            read += len(block)
            if read > budget:
                raise UserError(f"{name} would unpack to more than {cap / 1e6:,.0f} MB, the most accepted. "
                                + CSV_INSTEAD)
            yield block


def _parse(archive: zipfile.ZipFile, path: str, limits: Limits, start, text=None) -> None:
    """Stream one member through expat: ``start(name, attributes)`` per element (``name`` may carry a prefix,
    ``x:c``), ``text(data)`` per run of text. No end handler: a cell is complete when the next one starts (a third
    fewer calls on a sheet of a million cells)."""
    parser = expat.ParserCreate()
    parser.buffer_text, parser.buffer_size = True, READ
    parser.StartElementHandler = start
    if text is not None:
        parser.CharacterDataHandler = text

    def refuse(*_):
        raise ValueError("a document type declaration")  # entities could expand without bound: never in a workbook

    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
    limit, run = GAP_CELLS * limits.max_cell_bytes + 4096, 0
    with archive.open(path) as handle:  # every member's real size was checked against its declared one
        while block := handle.read(READ):
            opens = np.flatnonzero(np.frombuffer(block, np.uint8) == 60)  # "<"
            longest = max(run + (int(opens[0]) if len(opens) else len(block)),
                          int(np.diff(opens).max()) if len(opens) > 1 else 0)
            if longest > limit:
                raise ValueError("a tag or text longer than any cell")
            run = len(block) - int(opens[-1]) if len(opens) else run + len(block)
            parser.Parse(block, False)
    parser.Parse(b"", True)


def _first_sheet(archive: zipfile.ZipFile, name: str, limits: Limits) -> str:
    """The member the reader opens as sheet 0: the first ``<sheet>`` of the workbook, through its relationship (as
    calamine resolves it)."""
    found: dict[str, str] = {}

    def sheet(tag, attrs):
        if _local(tag) == "sheet" and "id" not in found:
            found["id"] = attrs.get("r:id") or attrs.get("relationships:id") or ""

    def relationship(tag, attrs):
        if _local(tag) == "Relationship" and attrs.get("Id") == found.get("id") and "target" not in found:
            found["target"] = attrs.get("Target", "")

    _parse(archive, "xl/workbook.xml", limits, sheet)
    if found.get("id") and "xl/_rels/workbook.xml.rels" in archive.NameToInfo:
        _parse(archive, "xl/_rels/workbook.xml.rels", limits, relationship)
    target = found.get("target", "")
    path = target[1:] if target.startswith("/xl/") else target if target.startswith("xl/") else f"xl/{target}"
    if not target or path not in archive.NameToInfo:
        raise UserError(f"{name}: its first sheet cannot be found in the workbook. {CSV_INSTEAD}")
    return path


def _shared_string_lengths(archive: zipfile.ZipFile, name: str, limits: Limits) -> array:
    """The UTF-8 length of each shared string (``xl/sharedStrings.xml``, the one the reader loads, whole)."""
    lengths = array("q")
    if "xl/sharedStrings.xml" not in archive.NameToInfo:
        return lengths
    inside, total = False, 0

    def start(tag, _):
        nonlocal inside, total
        tag = _local(tag)
        if tag == "si":
            total += lengths[-1] if lengths else 0
            if len(lengths) >= limits.max_cells or total > limits.max_text_bytes:
                raise UserError(f"{name}: its shared strings hold more than {limits.max_text_bytes / 1e6:,.0f} MB of "
                                f"text or {limits.max_cells:,} strings, more than an upload may. {CSV_INSTEAD}")
            lengths.append(0)
        inside = tag == "t" and len(lengths) > 0  # plain and rich text runs (phonetic runs too: counted over)

    def text(data):
        if inside:
            lengths[-1] += len(data) if data.isascii() else len(data.encode())

    _parse(archive, "xl/sharedStrings.xml", limits, start, text)
    if sum(lengths) > limits.max_text_bytes:
        raise UserError(f"{name}: its shared strings hold more than {limits.max_text_bytes / 1e6:,.0f} MB of text, "
                        f"more than an upload may. {CSV_INSTEAD}")
    return lengths


def _check_sheet(archive: zipfile.ZipFile, path: str, shared: array, name: str, limits: Limits) -> None:
    """Each cell's place and text as the reader will expand them (a shared string once per cell that uses it):
    refused past the limits before the reader allocates anything. Numbers' text is not counted: the reader keeps
    them as numbers, bounded by the cells."""
    cells = limits.max_cells
    row = column = rows = columns = size = 0
    budget = TextBudget(limits, lambda _: (
        f"{name}: its first sheet's cells hold more than {limits.max_text_bytes / 1e6:,.0f} MB of text (a shared "
        f"string counted once per cell that uses it), more than an upload may. {CSV_INSTEAD}"))
    kind, inside, index = "", 0, ""  # inside: 1 in a shared string's index, 2 in a string cell's text
    columns_of: dict[str, int] = {}

    def close() -> None:  # the string cell before the one starting now, or the last
        length = shared[_index(index)] if kind == "s" else size
        if length > limits.max_cell_bytes:  # (checked here first: this runs once per cell)
            limits.check_cell(length, f"{name}: cell {_letters(column)}{row} of its first sheet")
        budget.add(length, "")

    def start(tag, attrs):
        nonlocal row, column, rows, columns, kind, inside, size, index
        if ":" in tag:
            tag = tag.rpartition(":")[2]
        if tag == "c":
            if size or kind == "s":
                close()
            place = attrs.get("r")
            if place is None:
                column += 1
            else:  # "AB12": letters, then the row (anything else is refused as unreadable)
                digits = place.lstrip(_UPPER)
                row, letters = int(digits), place[:len(place) - len(digits)]
                column = columns_of.get(letters) or columns_of.setdefault(letters, _column(letters))
            if row > rows or column > columns:
                rows, columns = max(rows, row), max(columns, column)
                if rows * columns > cells:
                    raise UserError(f"{name}: its first sheet spans {rows:,} rows x {columns:,} columns or more; "
                                    f"the Excel reader allocates every cell between them, and at most {cells:,} "
                                    f"are accepted. {CSV_INSTEAD}")
            kind, size, index, inside = attrs.get("t", "n"), 0, "", 0
        elif tag == "v":
            inside = 1 if kind == "s" else 2 if kind in ("str", "inlineStr", "e", "d") else 0
        elif tag == "t" and kind == "inlineStr":
            inside = 2
        elif tag == "row":
            row, column, inside = (int(attrs["r"]) if "r" in attrs else row + 1), 0, 0
        elif tag not in ("is", "r"):
            inside = 0

    def characters(data):
        nonlocal size, index
        if inside == 2:
            size += len(data) if data.isascii() else len(data.encode())
        elif inside == 1 and len(index) < 32:
            index += data

    _parse(archive, path, limits, start, characters)
    if size or kind == "s":
        close()


def _index(text: str) -> int:
    index = int(text)
    if index < 0:
        raise IndexError("a negative shared string index")
    return index


def _local(tag: str) -> str:
    return tag.rpartition(":")[2]


def _column(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def _letters(column: int) -> str:
    out = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        out = chr(65 + rest) + out
    return out
