"""What reading an upload did, in words a user can check: identifiers mapped and ignored, duplicates combined,
inputs the model does not read, mutation calls merged. Each function returns notes (sentences for the report
block) and adds machine-readable details (the API's ``report`` field)."""

from __future__ import annotations

import numpy as np

from drugresponse.errors import UserError

from .app_layouts import Reading
from .mutation_lists import MutationCalls
from .schema import ProfileSchema

RULES = {"case": "by a different case", "ensembl": "by Ensembl gene ID", "approved": "by current HGNC symbol",
         "previous": "by previous HGNC symbol", "alias": "by HGNC alias", "gdsc": "by GDSC's spelling",
         "event alias": "by event alias", "gene symbol": "by the gene's current symbol"}


def _examples(items, n: int = 5) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f" and {len(items) - n:,} more" if len(items) > n else "")


def identifier_notes(reading: Reading, details: dict) -> list[str]:
    notes = []
    for modality, resolution in reading.resolved.items():
        unknown = len(reading.unknown[modality])
        mapped = sum(resolution.how.values())
        details.setdefault("identifiers", {})[modality] = {
            "mapped_by": dict(resolution.how), "examples": dict(list(resolution.renamed.items())[:10]),
            "ambiguous": dict(list(resolution.ambiguous.items())[:50]), "unknown": unknown}
        if mapped:
            how = ", ".join(f"{n:,} {RULES.get(rule, rule)}" for rule, n in resolution.how.most_common())
            notes.append(f"{modality}: {mapped:,} name(s) mapped to the model's names ({how}; e.g. "
                         f"{_examples(f'{a} → {b}' for a, b in resolution.renamed.items())}).")
        if resolution.ambiguous:
            notes.append(f"{modality}: {len(resolution.ambiguous):,} name(s) are ambiguous and were not used, since "
                         "they could mean several genes: " + _examples(
                             f"{name} ({candidates})" for name, candidates in resolution.ambiguous.items()) + ".")
        if unknown:
            notes.append(f"{modality}: {unknown:,} name(s) the model does not know were ignored (e.g. "
                         f"{_examples(sorted(reading.unknown[modality])[:5])}).")
    return notes


def duplicate_notes(duplicates: dict[str, int], details: dict) -> list[str]:
    if not duplicates:
        return []
    details["duplicated_genes"] = duplicates
    return [f"{len(duplicates):,} of the model's genes appear on more than one row ("
            f"{_examples(f'{g}: {n} rows' for g, n in duplicates.items())}): combined by summing, for samples on a "
            "linear scale (the TPM or counts of two loci add up), or by averaging, for samples on a log scale."]


def unread_input_notes(profiles: dict[str, np.ndarray], schema: ProfileSchema, details: dict) -> list[str]:
    """Per-gene mutation or copy-number values the model does not read, and the driver event that counts instead."""
    notes = []
    for modality, suffixes in (("mutation", ("_mut",)), ("copy_number", ("_amp", "_del"))):
        read = set(schema.features_read[modality])
        given = [schema.features[modality][j] for j in np.flatnonzero(np.isfinite(profiles[modality]).any(axis=0))]
        unread = [g for g in given if g not in read]
        if not unread:
            continue
        pointers = []
        for gene in unread:
            events = [schema.features["drivers"][j] for suffix in suffixes
                      if (j := schema.events.index(gene + suffix)[0]) >= 0]
            counted = [e for e in events if e in schema.features_read["drivers"]]
            if counted:
                pointers.append(f"{modality}:{gene} → driver:{counted[0]}")
        details.setdefault("unread_inputs", {})[modality] = {"given": len(unread), "events_that_count": pointers[:50]}
        notes.append(f"{modality}: {len(unread):,} per-gene value(s) given that this model does not read"
                     + (f"; the events that count are {_examples(pointers)}: give those as driver columns, or as a "
                        "mutation list." if pointers else "."))
    return notes


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
                            "events": set_events[:200], "not_gdsc_events": dict(list(calls.unmapped.items())[:50])}
    notes = [f"{source} ({calls.kind}, {calls.variants:,} record(s); samples paired by {paired_by}): "
             + (f"events set: {_examples(set_events, 8)}; {len(read_events)} of them read by the model."
                if set_events else "no GDSC event in it (nothing changes).")]
    if calls.unmapped:
        notes.append(f"{len(calls.unmapped):,} alteration(s) are not one of GDSC's events and were ignored: "
                     f"{_examples(calls.unmapped)}.")
    if changed:
        notes.append(f"{changed} driver value(s) given in the expression file were replaced by the mutation file's.")
    return notes
