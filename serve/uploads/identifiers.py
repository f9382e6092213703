"""Which model gene or GDSC event a name in a user's file stands for.

Genes, in this order (the first rule that applies wins):

1. the model's own name for the gene (GDSC's spelling, some of them retired HGNC symbols), in any case;
2. the assets' identifier table (``gene_identifiers.parquet``, built at export from the pinned HGNC complete set):
   an Ensembl gene ID with or without its version, a current HGNC symbol, a previous symbol, an alias, in any case.
   Where HGNC's own precedence (approved symbol over previous symbol over alias) leaves one gene, that gene; where
   it leaves several, the name is ambiguous: reported, never merged into one of them;
3. one exception, stated in the report: where the candidates are one HGNC gene that GDSC's panel names twice (a
   previous and a current symbol, e.g. ``C2orf48`` and ``RRM2`` for ENSG00000171848) and the model reads exactly one
   of the two names, the name it reads. Nothing is merged (the other name is not read), and the choice is reported.

Events: the GDSC name in any case, or a short alias: ``ERBB2_amp`` / ``ERBB2_gain`` for the recurrent gained region
that holds ERBB2, ``CDKN2A_del`` / ``CDKN2A_loss`` for a lost one, ``BCR-ABL1``, ``BCR::ABL1`` or ``BCR-ABL`` for the
fusion, ``EWSR1-FLI1`` (``EWSR1::FLI1``), ``MSI`` for ``MSI_FACTOR``, and a gene's current symbol for its
``_mut`` event. A gene in several regions of the same kind has no alias (ambiguous). A gene-level gain or loss
(``regions``) sets every region of its kind that lists the gene.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

UNKNOWN, AMBIGUOUS = -1, -2
ENSEMBL = re.compile(r"^(ENSG\d{11})(\.\d+)?(_PAR_Y)?$", re.IGNORECASE)
_REGION = re.compile(r"^(gain|loss)_cnaPANCAN\d+(?:_\((.*)\))?$")
_ONE_GENE = re.compile(r"^([^,()]+) \(GDSC: ([^()]+\|[^()]+)\)$")  # one HGNC gene that GDSC names more than once
ONE_GENE_READ = "one gene, the name read"
FUSION_ALIASES = {"BCR-ABL": "BCR-ABL_mut", "BCR-ABL1": "BCR-ABL_mut", "BCR::ABL1": "BCR-ABL_mut",
                  "BCR/ABL": "BCR-ABL_mut", "BCR/ABL1": "BCR-ABL_mut", "EWSR1-FLI1": "EWSR1-FLI1_mut",
                  "EWSR1::FLI1": "EWSR1-FLI1_mut", "EWS-FLI1": "EWSR1-FLI1_mut", "MSI": "MSI_FACTOR",
                  "MSI-H": "MSI_FACTOR", "MSI_H": "MSI_FACTOR"}


@dataclass
class Resolution:
    """What one file's names resolved to: indices (``UNKNOWN``, ``AMBIGUOUS`` or a column) and how."""

    indices: np.ndarray
    how: Counter = field(default_factory=Counter)  # rule -> names resolved by it (not counting the model's own)
    ambiguous: dict[str, str] = field(default_factory=dict)  # name -> the genes it could mean
    renamed: dict[str, str] = field(default_factory=dict)  # a few examples: name in the file -> model feature
    n_ambiguous: int = 0  # ambiguous names, all of them (``ambiguous`` keeps the first 50)
    chosen: dict[str, str] = field(default_factory=dict)  # name -> why the one gene's name the model reads was taken
    unknown_names: set = field(default_factory=set)  # names of nothing the model knows, where the caller keeps them

    def merge(self, other: "Resolution") -> None:
        self.how.update(other.how)
        self.n_ambiguous += other.n_ambiguous
        self.ambiguous.update(list(other.ambiguous.items())[:50 - len(self.ambiguous)])
        self.renamed.update(list(other.renamed.items())[:20 - len(self.renamed)])
        self.chosen.update(list(other.chosen.items())[:50 - len(self.chosen)])
        self.unknown_names.update(list(other.unknown_names)[:max(0, 50_000 - len(self.unknown_names))])


class GeneResolver:
    """Gene names -> indices into the model's gene list (see the module docstring for the rules)."""

    def __init__(self, genes: list[str], table: pl.DataFrame | None = None):
        self.genes = genes
        self.exact = {g: j for j, g in enumerate(genes)}
        counts = Counter(g.upper() for g in genes)
        self.folded = {g.upper(): j for j, g in enumerate(genes) if counts[g.upper()] == 1}
        self.table: dict[str, tuple[str | None, str, str]] = {}  # KEY -> (GDSC symbol or None, rule, candidates)
        if table is not None:
            for key, symbol, rule, candidates in table.select("identifier", "symbol", "rule", "candidates").iter_rows():
                self.table[key] = (symbol, rule, candidates or "")

    def symbol(self, name: str, read: set | None = None) -> tuple[str | None, str]:
        """(GDSC symbol or None, rule): the gene a name stands for, whether or not the model reads it as a column;
        ``read`` (the names the model reads) settles one gene that GDSC names twice (rule 3 of the module)."""
        if name in self.exact:
            return name, "model"
        key = name.strip().upper()
        if key in self.folded:
            return self.genes[self.folded[key]], "case"
        entry = self.table.get(self._key(key))
        if entry is None:
            return None, "unknown"
        symbol, rule, candidates = entry
        if symbol is not None:
            return symbol, rule
        one = self.one_gene_read(candidates, read)
        return (one, ONE_GENE_READ) if one else (None, "ambiguous:" + candidates)

    def one_gene_read(self, candidates: str, read: set | None) -> str | None:
        """The model's name for one HGNC gene that GDSC names twice, where the model reads exactly one of them."""
        match = _ONE_GENE.match(candidates) if read else None
        names = [n for n in match.group(2).split("|") if n in read and n in self.exact] if match else []
        return names[0] if len(names) == 1 else None

    def resolve(self, names: list[str], read: set | None = None) -> Resolution:
        """Each name's column (``UNKNOWN``, ``AMBIGUOUS`` or an index); ``read``: the names the model reads."""
        out = Resolution(np.full(len(names), UNKNOWN, dtype=np.int64))
        for i, name in enumerate(names):
            if not name:  # an empty or missing cell names nothing
                continue
            symbol, rule = self.symbol(name, read)
            if rule.startswith("ambiguous:"):
                out.indices[i] = AMBIGUOUS
                out.n_ambiguous += 1
                if len(out.ambiguous) < 50:
                    out.ambiguous[name] = rule.split(":", 1)[1]
            elif symbol is not None and symbol in self.exact:
                if rule == ONE_GENE_READ and len(out.chosen) < 50:
                    out.chosen[name] = f"{symbol} ({self.table[self._key(name)][2]}; the model reads {symbol})"
                out.indices[i] = self.exact[symbol]
                if rule != "model":
                    out.how[rule] += 1
                    if len(out.renamed) < 20 and name.strip() != symbol:
                        out.renamed[name] = symbol
        return out

    @staticmethod
    def _key(name: str) -> str:
        key = name.strip().upper()
        ensembl = ENSEMBL.match(key)
        return ensembl.group(1) if ensembl else key


class EventResolver:
    """GDSC event names, in any case, and their aliases -> indices into the model's event list."""

    def __init__(self, events: list[str]):
        self.events = events
        self.exact = {e: j for j, e in enumerate(events)}
        self.aliases: dict[str, int] = {e.upper(): j for j, e in enumerate(events)}
        for alias, event in FUSION_ALIASES.items():
            if event in self.exact:
                self.aliases.setdefault(alias.upper(), self.exact[event])
        regions: dict[tuple[str, str], list[int]] = {}
        for j, event in enumerate(events):
            match = _REGION.match(event)
            for gene in (match.group(2) or "").split(",") if match else []:
                regions.setdefault((gene.strip().upper(), match.group(1)), []).append(j)
        self.regions_of_gene = regions  # (GENE, "gain" or "loss") -> every region of that kind that lists the gene
        for (gene, kind), where in regions.items():
            if len(where) == 1:  # a gene in two regions of one kind has no alias: it would be a guess
                for suffix in (("_AMP", "_GAIN") if kind == "gain" else ("_DEL", "_LOSS")):
                    self.aliases.setdefault(gene + suffix, where[0])

    def region_genes(self) -> dict[str, str]:
        """Alias -> event, for the template a user can download."""
        return {alias: self.events[j] for alias, j in self.aliases.items() if alias.endswith(("_AMP", "_DEL"))}

    def resolve(self, names: list[str], genes: GeneResolver | None = None) -> Resolution:
        """Event names (or aliases); with ``genes``, a current symbol's ``_mut`` finds GDSC's spelling's event."""
        out = Resolution(np.full(len(names), UNKNOWN, dtype=np.int64))
        for i, name in enumerate(names):
            if not name:
                continue
            j, rule = self.index(name, genes)
            out.indices[i] = j
            if j >= 0 and rule != "model":
                out.how[rule] += 1
                if len(out.renamed) < 20 and name.strip() != self.events[j]:
                    out.renamed[name] = self.events[j]
        return out

    def index(self, name: str, genes: GeneResolver | None = None) -> tuple[int, str]:
        if name in self.exact:
            return self.exact[name], "model"
        key = name.strip().upper().replace(" ", "_")
        if key in self.aliases:
            return self.aliases[key], "event alias"
        if genes is not None and key.endswith("_MUT"):
            symbol, _ = genes.symbol(name.strip()[:-4])
            if symbol is not None and f"{symbol}_mut" in self.exact:
                return self.exact[f"{symbol}_mut"], "gene symbol"
        return UNKNOWN, "unknown"

    def regions(self, gene: str, kind: str, genes: GeneResolver | None = None) -> list[int]:
        """Every ``kind`` (``gain`` or ``loss``) region that lists ``gene`` (GDSC's spelling, or its current symbol)."""
        found = self.regions_of_gene.get((gene.strip().upper(), kind))
        if found is None and genes is not None:
            symbol, _ = genes.symbol(gene.strip())
            found = self.regions_of_gene.get((symbol.upper(), kind)) if symbol else None
        return list(found or [])

    def mutation_event(self, gene: str, genes: GeneResolver | None = None) -> int:
        """The ``GENE_mut`` event of a gene named in a mutation list (current or GDSC symbol), or ``UNKNOWN``."""
        return self.index(f"{gene.strip()}_mut", genes)[0]
