"""Gene-level copy number and GDSC's recurrent copy-number regions (``gain_cnaPANCAN…`` / ``loss_cnaPANCAN…``).

The rule, written down: a gene's copy number in the app's layout (``copy_number:ERBB2`` = 1 or -1, GDSC's own scale)
**does not set a region**; the report points to the region events that list the gene. GDSC's regions are called
amplifications and deletions of a recurrent segment, while a gene-level 1 or -1 is any gain or loss: in GDSC's own
lines, most gene-level gains of a region's genes lie outside a called region (measured on the bundle: of the lines
with a gain of some gene of a region, about one in seven has the region), so setting it from a 1 would call
amplifications that are not there. An amplification or deletion a lab called sets the region through a mutation list
(``ERBB2 amp``, ``CDKN2A homozygous deletion``; ``mutation_lists``) or a ``driver:`` column (``driver:ERBB2_amp``).
"""

from __future__ import annotations

import numpy as np

from .schema import ProfileSchema


def region_notes(samples: list[str], profiles: dict[str, np.ndarray], schema: ProfileSchema) -> list[str]:
    """Gene-level gains and losses of genes that GDSC's read regions list, where the file gave no region value: the
    region events to give instead (a note for the report; nothing is set)."""
    copy_number, drivers = profiles["copy_number"], profiles["drivers"]
    if not np.isfinite(copy_number).any():
        return []
    read = set(schema.features_read["drivers"])
    pointers: dict[str, str] = {}
    for g, gene in enumerate(schema.features["copy_number"]):
        for kind, value in (("gain", 1.0), ("loss", -1.0)):
            for e in schema.events.regions(gene, kind):
                region = schema.features["drivers"][e]
                if region in read and ((copy_number[:, g] == value) & ~np.isfinite(drivers[:, e])).any():
                    pointers.setdefault(region, f"copy_number:{gene} = {value:+.0f}")
    if not pointers:
        return []
    shown = [f"{given} → driver:{region}" for region, given in sorted(pointers.items())]
    return [f"copy_number: gene-level gains and losses do not set GDSC's recurrent regions, which are called "
            f"amplifications and deletions; {len(pointers)} region(s) the model reads list a gene gained or lost "
            f"here ({', '.join(shown[:4])}{' …' if len(shown) > 4 else ''}): if the lab called an amplification or a "
            "deletion there, give the region as a driver column or in a mutation list (e.g. 'ERBB2 amp')."]
