"""What reading an upload did, in words a user can check: identifiers mapped and ignored, duplicates combined,
inputs the model does not read, mutation calls merged. Each function returns notes (sentences for the report
block) and adds machine-readable details (the API's ``report`` field)."""

from __future__ import annotations

import numpy as np

from drugresponse.errors import UserError

from .app_layouts import Reading
from .identifiers import ONE_GENE_READ
from .mutation_lists import MutationCalls
from .schema import ProfileSchema

RULES = {"case": "by a different case", "ensembl": "by Ensembl gene ID", "approved": "by current HGNC symbol",
         "previous": "by previous HGNC symbol", "alias": "by HGNC alias", "gdsc": "by GDSC's spelling",
         "event alias": "by event alias", "gene symbol": "by the gene's current symbol",
         ONE_GENE_READ: "as the one name the model reads of a gene GDSC names twice"}


def _examples(items, n: int = 5) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f" and {len(items) - n:,} more" if len(items) > n else "")


def identifier_notes(reading: Reading, details: dict, redirected: dict[str, set] | None = None) -> list[str]:
    """Names mapped (and how), ambiguous, chosen, unknown; a genes-as-rows table's unknown rows are noted by the reader
    (``details["unknown_rows"]``), so not again here, nor the ``redirected`` names, which ``unread_input_notes``
    points to the event that counts."""
    notes = []
    for modality, resolution in reading.resolved.items():
        unknown_names = reading.unknown[modality] - (redirected or {}).get(modality, set())
        unknown = len(unknown_names)
        mapped = sum(resolution.how.values())
        details.setdefault("identifiers", {})[modality] = {
            "mapped_by": dict(resolution.how), "examples": dict(list(resolution.renamed.items())[:10]),
            "ambiguous": dict(list(resolution.ambiguous.items())[:50]), "ambiguous_count": resolution.n_ambiguous,
            "one_gene_read": dict(resolution.chosen), "unknown": unknown}
        if mapped:
            how = ", ".join(f"{n:,} {RULES.get(rule, rule)}" for rule, n in resolution.how.most_common())
            notes.append(f"{modality}: {mapped:,} name(s) mapped to the model's names ({how}; e.g. "
                         f"{_examples(f'{a} → {b}' for a, b in resolution.renamed.items())}).")
        if resolution.chosen:
            notes.append(f"{modality}: {len(resolution.chosen):,} name(s) stand for one HGNC gene that GDSC's panel "
                         "names twice (a previous and a current symbol); each was read as the one name the model "
                         f"reads, nothing merged: {_examples(f'{a} → {b}' for a, b in resolution.chosen.items())}.")
        if resolution.n_ambiguous:
            notes.append(f"{modality}: {resolution.n_ambiguous:,} name(s) are ambiguous and were not used, since "
                         "they could mean several genes: " + _examples(
                             f"{name} ({candidates})" for name, candidates in resolution.ambiguous.items()) + ".")
        if unknown and not (modality == "expression" and "unknown_rows" in details):
            notes.append(f"{modality}: {unknown:,} name(s) the model does not know were ignored (e.g. "
                         f"{_examples(sorted(unknown_names)[:5])}).")
    notes += duplicate_notes(reading.duplicates, details, reading.repeated_in)
    return notes


def duplicate_notes(duplicates: dict[str, int], details: dict, where: str = "row") -> list[str]:
    if not duplicates:
        return []
    details["duplicated_genes"] = duplicates
    return [f"{len(duplicates):,} of the model's genes appear in more than one {where} ("
            f"{_examples(f'{g}: {n} {where}s' for g, n in duplicates.items())}): combined by summing, for samples on "
            "a linear scale (the TPM or counts of two loci add up), or by averaging, for samples on a log scale."]


def _events_of(schema: ProfileSchema, modality: str, gene: str) -> list[str]:
    """The driver events that stand for a gene's per-gene mutation (its ``_mut``) or copy number (its regions)."""
    events = ([schema.events.mutation_event(gene, schema.genes)] if modality == "mutation" else
              schema.events.regions(gene, "gain", schema.genes) + schema.events.regions(gene, "loss", schema.genes))
    return [schema.features["drivers"][j] for j in events if j >= 0]


def redirected(schema: ProfileSchema, unknown: dict[str, set]) -> dict[str, set]:
    """Per modality, the per-gene names outside the gene panel that a driver event stands for (BRAF, KRAS, PIK3CA are
    not in the panel, and their ``_mut`` events are): reported with that event, not as unknown names."""
    return {m: {g for g in sorted(unknown.get(m, ()))[:1000] if _events_of(schema, m, g)}
            for m in ("mutation", "copy_number")}


def unread_input_notes(profiles: dict[str, np.ndarray], schema: ProfileSchema, details: dict,
                       unknown: dict[str, set] | None = None) -> list[str]:
    """Per-gene mutation or copy-number values the model does not read, and the driver event that counts instead;
    ``unknown``: the names outside the gene panel, of which the ``redirected`` ones are reported here."""
    notes = []
    outside = redirected(schema, unknown or {})
    for modality in ("mutation", "copy_number"):
        read = set(schema.features_read[modality])
        given = [schema.features[modality][j] for j in np.flatnonzero(np.isfinite(profiles[modality]).any(axis=0))]
        unread = [g for g in given if g not in read] + sorted(outside[modality])
        if not unread:
            continue
        pointers = []
        for gene in unread:
            counted = [e for e in _events_of(schema, modality, gene) if e in schema.features_read["drivers"]]
            pointers += [f"{modality}:{gene} → driver:{e}" for e in counted[:1]]
        details.setdefault("unread_inputs", {})[modality] = {"given": len(unread), "events_that_count": pointers[:50]}
        then = ("give those as driver columns, or as a mutation list." if modality == "mutation" else
                "a gene's gain (1) or loss (-1) sets them.")
        notes.append(f"{modality}: {len(unread):,} per-gene value(s) given that this model does not read"
                     + (f"; the events that count are {_examples(pointers)}: {then}" if pointers else "."))
    return notes


def outside_panel_notes(schema: ProfileSchema, unknown: dict[str, set]) -> list[str]:
    """``unread_input_notes`` for names outside the gene panel alone (``mutation:BRAF``), for a reader that never
    holds the whole file's values (``drugresponse predict``)."""
    nothing = {m: np.empty((0, len(schema.features[m])), np.float32) for m in ("mutation", "copy_number")}
    return unread_input_notes(nothing, schema, {}, unknown)


def merge_mutations(names: list[str], profiles: dict[str, np.ndarray], calls: MutationCalls,
                    schema: ProfileSchema, source: str, details: dict) -> list[str]:
    """Put a mutation list's events into the samples' driver inputs (in place); pair samples by name, or a single
    sample with a single sample."""
    rows = {n: i for i, n in enumerate(names)}
    folded = {n.lower(): i for i, n in enumerate(names)}
    pairs, paired_by = {}, "name"
    for sample in calls.samples:
        row = rows.get(sample, folded.get(sample.lower()))
        if row is not None:
            pairs[sample] = row
    if not pairs and len(calls.samples) == 1 and len(names) == 1:
        pairs, paired_by = {calls.samples[0]: 0}, "being the only sample of each file"
    missing = [s for s in calls.samples if s not in pairs]
    if missing:
        raise UserError(f"{source}: sample(s) {_examples(repr(s) for s in missing)} are not in the expression file "
                        f"(which has {_examples(repr(n) for n in names)}); name the samples the same in both files.")
    drivers, read = profiles["drivers"], set(schema.read_columns["drivers"].tolist())
    changed = 0
    for sample, row in pairs.items():
        for j, value in calls.events[sample].items():
            changed += int(np.isfinite(drivers[row, j]) and drivers[row, j] != value)
            drivers[row, j] = value
    set_events = sorted({schema.features["drivers"][j] + (" = 1" if v else " = 0")
                         for s in calls.samples for j, v in calls.events[s].items()})
    read_events = {schema.features["drivers"][j] for s in calls.samples for j in calls.events[s] if j in read}
    details["mutations"] = {"file": source, "kind": calls.kind, "records": calls.variants, "paired_by": paired_by,
                            "events": set_events[:200], "not_gdsc_events": dict(list(calls.unmapped.items())[:50]),
                            "left_unknown": dict(list(calls.unknown.items())[:50]),
                            "not_understood": dict(list(calls.not_understood.items())[:50]),
                            "unknown_genes": dict(list(calls.unknown_genes.items())[:50]), "choices": calls.notes}
    notes = list(calls.notes) + [
        f"{source} ({calls.kind}, {calls.variants:,} record(s); samples paired by {paired_by}): "
        + (f"events set: {_examples(set_events, 8)}; {len(read_events)} of them read by the model."
           if set_events else "no GDSC event in it (nothing changes).")]
    notes += mutation_notes(calls)
    if changed:
        notes.append(f"{changed} driver value(s) given in the expression file were replaced by the mutation file's.")
    return notes


def mutation_notes(calls: MutationCalls) -> list[str]:
    """What a mutation file listed that set nothing, by why (``mutation_lists``' rule)."""
    kinds = (
        (calls.unknown, "alteration(s) say the status is unknown (or of unknown significance) and leave their event "
                        "unknown"),
        ({f"{item} ({why})": 1 for item, why in calls.not_understood.items()}, "change(s) were not understood and set "
                                                                               "nothing"),
        (calls.unknown_genes, "gene name(s) are not among the genes of GDSC's events or panel and were ignored"),
        (calls.unmapped, "alteration(s) are not one of GDSC's events and were ignored"),
    )
    return [f"{len(items):,} {what}: {_examples(items)}." for items, what in kinds if items]
