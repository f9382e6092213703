"""Gene-level copy number onto GDSC's recurrent copy-number regions (``gain_cnaPANCAN…`` / ``loss_cnaPANCAN…``).

The rule, written down: a gene's copy number 1 (a gain or amplification) sets to 1 every ``gain_cnaPANCAN`` region
whose name lists the gene (``copy_number:ERBB2`` = 1 -> ``gain_cnaPANCAN301_(CDK12,ERBB2,MED24)``); -1 (a loss or
deletion) every ``loss_cnaPANCAN`` region that lists it. 0 sets nothing: a region is called on its whole segment, and
one gene at its usual copy number does not say the segment is not gained elsewhere. A region's value given in the
file (a ``driver:`` column, a mutation list) is kept; regions whose names list no gene are never set this way. This
is what a mutation list's ``ERBB2 amp`` does too (``mutation_lists``).
"""

from __future__ import annotations

import numpy as np

from .schema import ProfileSchema


def gene_regions(schema: ProfileSchema) -> list[tuple[int, int, float]]:
    """(copy-number column, region event, the gene's value that sets it) for every gene a region lists."""
    pairs = []
    for g, gene in enumerate(schema.features["copy_number"]):
        for kind, value in (("gain", 1.0), ("loss", -1.0)):
            pairs += [(g, e, value) for e in schema.events.regions(gene, kind)]
    return pairs


def set_regions(samples: list[str], profiles: dict[str, np.ndarray], schema: ProfileSchema) -> list[str]:
    """Set the regions of genes gained or lost (in place, where the file gave no value); notes for the report."""
    copy_number, drivers = profiles["copy_number"], profiles["drivers"]
    if not np.isfinite(copy_number).any():
        return []
    given = np.isfinite(drivers)  # what the file (or a mutation list) set: kept
    set_by: dict[str, set[str]] = {}
    for g, e, value in gene_regions(schema):
        rows = (copy_number[:, g] == value) & ~given[:, e]
        if rows.any():
            drivers[rows, e] = 1.0
            set_by.setdefault(schema.features["drivers"][e], set()).add(
                f"{schema.features['copy_number'][g]} {'+1' if value > 0 else '-1'}")
    if not set_by:
        return []
    read = set(schema.features_read["drivers"])
    shown = [f"{region} (from {', '.join(sorted(genes)[:3])})" for region, genes in sorted(set_by.items())]
    return [f"copy_number: gene-level gains (1) and losses (-1) set {len(set_by)} of GDSC's recurrent regions that "
            f"list the gene, {len(read & set(set_by))} of them read by the model: {', '.join(shown[:5])}"
            f"{' …' if len(shown) > 5 else ''} (for {len(samples)} sample(s); region values given in the file kept)."]
