"""Plain-text lists of alterations: ``BRAF V600E, TP53 R273H; ERBB2 amp`` or ``BRAF:V600E`` items, one sample.

Items are separated by commas, semicolons or new lines; an item is ``GENE CHANGE``, ``GENE:CHANGE``, or a gene or an
event (``BCR-ABL1``, ``ERBB2_amp``) on its own. A file is read as such a list when it is short, no item is a number (a
table of values is not a list), at least one item names a change or an event, and at least half of the items start
with a gene, fusion or event the model's tables know. Items whose gene is not known are reported as ignored, not a reason to refuse the list.
"""

from __future__ import annotations

import re
from pathlib import Path

from .identifiers import FUSION_ALIASES, UNKNOWN
from .mutation_words import NOT_UNDERSTOOD, classify
from .mutation_words import UNKNOWN as UNKNOWN_CALL
from .schema import ProfileSchema
from .tables import Table

MAX_ITEMS = 5_000
MAX_BYTES = 1_000_000  # a list of alterations is a few KB; a larger file is a table
EXAMPLE = ("items GENE CHANGE or GENE:CHANGE separated by commas, semicolons or new lines, e.g. "
           "'BRAF V600E, TP53 R273H, ERBB2 amplification, BCR-ABL1' or 'BRAF:V600E; TP53:WT'")
_SEPARATORS = re.compile(r"[,;\r\n]+")
_ITEM = re.compile(r"^([^\s:]+(?:::[^\s:]+)?)(?:\s*:(?!:)\s*|\s+|$)(.*)$")  # GENE, then ":" or spaces (not BCR::ABL1)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$", re.IGNORECASE)
_EVENT_MARKS = ("-", "::", "/", "_")  # in an event's name or alias (BCR-ABL1, EWSR1::FLI1, ERBB2_amp), not a symbol's


def named_event(schema: ProfileSchema, name: str) -> int:
    """The event a name stands for when it names an event, not a gene: a fusion (``BCR-ABL1``, ``EWSR1::FLI1``), a
    GDSC event or its alias (``BRAF_mut``, ``ERBB2_amp``, ``MSI``); else ``UNKNOWN``."""
    if any(m in name for m in _EVENT_MARKS) or name.strip().upper() in FUSION_ALIASES:
        return schema.events.index(name)[0]
    return UNKNOWN


def known_gene(schema: ProfileSchema, gene: str) -> bool:
    """A gene the model's tables know (by any name), or an event's name."""
    return (schema.genes.symbol(gene)[0] is not None or named_event(schema, gene) >= 0
            or schema.events.mutation_event(gene, schema.genes) >= 0)


def split_items(text: str) -> list[tuple[str, str]]:
    """(gene, change) per item; the change is "" when an item names only a gene."""
    out = []
    for item in _SEPARATORS.split(text.lstrip("\ufeff")):
        item = item.strip().strip("\"'").strip()
        match = _ITEM.match(item)
        if match:
            out.append((match.group(1), match.group(2).strip()))
    return out


def raw_text(table: Table) -> str | None:
    """A short text file's whole text, or None (parquet, or too long to be a list of alterations)."""
    source = table._source
    if not table.text or table.rows > MAX_ITEMS:
        return None
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source[:MAX_BYTES + 1])
    else:
        with open(Path(source), "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    return None if len(data) > MAX_BYTES else data.decode(table.encoding, "replace")


def _values(change: str) -> bool:
    """A change that is only numbers (a table row's values: ``12.3 4.5``), other than a lone 0 or 1 (a status)."""
    tokens = change.split()
    return bool(tokens) and change not in ("0", "1") and all(_NUMBER.match(t) for t in tokens)


def _shape(items: list[tuple[str, str]]) -> bool:
    """Shaped like a list of alterations: no item is a number or a row of numbers."""
    return bool(items) and len(items) <= MAX_ITEMS and not any(_NUMBER.match(g) or _values(c) for g, c in items)


def is_item_list(table: Table, schema: ProfileSchema) -> bool:
    """Plain text whose items are alterations, at least half of them of genes the model's tables know."""
    text = raw_text(table)
    items = split_items(text) if text is not None else []
    if not _shape(items):
        return False
    known = [(g, c) for g, c in items if known_gene(schema, g)]
    named = any(c or named_event(schema, g) >= 0 for g, c in known)
    return named and 2 * len(known) >= len(items)


def problem(table: Table, schema: ProfileSchema) -> str | None:
    """Why text that looks like a list of alterations is not read as one (for the refusal), or None."""
    text = raw_text(table)
    items = split_items(text) if text is not None else []
    if not _shape(items) or not any(c for _, c in items):
        return None
    unknown = [g for g, _ in items if not known_gene(schema, g)]
    if len(unknown) == len(items) and all(classify(c)[0] in (NOT_UNDERSTOOD, UNKNOWN_CALL) for _, c in items):
        return None  # nothing in it is a gene or an alteration: not a list gone wrong
    return (f"{table.name} looks like a list of alterations, but {len(unknown)} of its {len(items)} item(s) do not start "
            f"with a gene the model knows (e.g. {', '.join(repr(g) for g in unknown[:3])}). Expected {EXAMPLE}; genes by "
            "HGNC symbol.")
