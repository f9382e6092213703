"""Check what was read, put linear expression on a log scale, and refuse what cannot be predicted.

- mutation 0/1, copy number -1/0/1, driver events 0/1 (anything else is refused, naming the sample);
- expression on a linear scale (TPM, FPKM or counts: no negative value and a largest value above 100, which no
  log-scale profile reaches) is put on the log scale the model expects, log2(x + 1), and the report says so;
  negative values beside values above 100 fit neither scale and are refused;
- gene-level copy number does not set GDSC's recurrent regions; the report points to them (``regions``);
- a sample needs expression for at least ``REFUSE_BELOW`` of the genes the model reads, and one with fewer than
  ``FLAG_BELOW`` of them is flagged (``benchmarks/partial_profiles.py`` measures how far predictions move).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drugresponse.errors import UserError

from ..runtime import MODALITIES
from .regions import region_notes
from .schema import ProfileSchema

REFUSE_BELOW = 0.5
FLAG_BELOW = 0.9
LINEAR_ABOVE = 100.0  # log-scale expression (log2 TPM, microarray log intensities, z-scores) stays far below this
ALLOWED = {"mutation": {0.0, 1.0}, "copy_number": {-1.0, 0.0, 1.0}, "drivers": {0.0, 1.0}}


@dataclass
class UploadReport:
    """The samples of one upload as model inputs, and what reading them did."""

    samples: list[str]
    profiles: dict[str, np.ndarray]  # float32 [samples, features], NaN where missing
    unknown_features: dict[str, int] = field(default_factory=dict)  # per modality: names the model does not know
    imputed: dict[str, list[int]] = field(default_factory=dict)  # per modality, per sample: read features missing
    read: dict[str, int] = field(default_factory=dict)  # per modality: features the model reads
    flags: list[str] = field(default_factory=list)  # per sample: why its result is less trustworthy, or ""
    source: str = ""  # the file's name
    format: str = ""  # what the file was read as: "comma-separated, wide layout", "GCT 1.2, genes as rows", ...
    notes: list[str] = field(default_factory=list)  # what reading did that a user should know (mapping, scale)
    details: dict = field(default_factory=dict)  # machine-readable mapping report (identifiers, events)

    def given(self, modality: str) -> bool:
        return bool(np.isfinite(self.profiles[modality]).any())

    def summary(self) -> str:
        """The report a user reads, one block per upload (markdown)."""
        shown = ", ".join(self.samples[:10]) + (" …" if len(self.samples) > 10 else "")
        lines = [f"**{self.source or 'upload'}**" + (f" — read as {self.format}" if self.format else "") +
                 f"; {len(self.samples)} sample(s): {shown}"]
        for m in MODALITIES:
            imputed = self.imputed.get(m, [])
            if not self.read.get(m):
                lines.append(f"- {m}: not read by this model" + (" (values ignored)" if self.given(m) else ""))
                continue
            lines.append(f"- {m}: {self._ignored(m)}; of the {self.read[m]} {m} features the model reads, missing "
                         f"(imputed) per sample: {', '.join(str(n) for n in imputed[:10])}"
                         f"{' …' if len(imputed) > 10 else ''}")
        lines += [f"- {note}" for note in self.notes]
        flagged = [f"{s}: {f}" for s, f in zip(self.samples, self.flags) if f]
        if flagged:
            lines.append("- flagged: " + "; ".join(flagged[:10]) + (" …" if len(flagged) > 10 else ""))
        return "\n".join(lines)

    def _ignored(self, modality: str) -> str:
        """Names ignored, counted as the notes count them: rows of a genes-as-rows table, else distinct names; the
        ambiguous ones apart (they are named in a note)."""
        rows = self.details.get("unknown_rows") if modality == "expression" else None
        text = (f"{rows:,} row(s) of genes outside the model's panel ignored" if rows is not None
                else f"{self.unknown_features.get(modality, 0):,} unknown name(s) ignored")
        ambiguous = self.details.get("identifiers", {}).get(modality, {}).get("ambiguous_count", 0)
        return text + (f", {ambiguous:,} ambiguous name(s) not used" if ambiguous else "")


def check_values(samples: list[str], profiles: dict[str, np.ndarray]) -> list[str]:
    """Refuse values outside each input's set; return notes on expression put on the log scale (in place)."""
    for modality, allowed in ALLOWED.items():
        values = profiles[modality]
        bad = ~np.isnan(values)
        for value in allowed:  # cheaper than np.isin on a cohort's worth of values
            bad &= values != value
        if bad.any():
            s, g = np.argwhere(bad)[0]
            raise UserError(f"sample {samples[s]!r}: {modality} value {values[s, g]:g} is not allowed; expected "
                            f"{', '.join(f'{v:g}' for v in sorted(allowed))}.")
    expression = profiles["expression"]
    largest = np.fmax.reduce(expression, axis=1)  # fmax skips NaN; an all-missing sample gives NaN
    smallest = np.fmin.reduce(expression, axis=1)
    linear = largest > LINEAR_ABOVE
    if (linear & (smallest < 0)).any():
        s = int(np.argmax(linear & (smallest < 0)))
        raise UserError(f"sample {samples[s]!r}: expression goes from {smallest[s]:g} to {largest[s]:g}, which fits "
                        "neither a linear scale (TPM, counts: no negative values) nor a log scale (values below "
                        f"{LINEAR_ABOVE:g}); give one sample's values on one scale.")
    if not linear.any():
        return []
    expression[linear] = np.log2(expression[linear] + 1.0)
    names = [samples[s] for s in np.flatnonzero(linear)]
    return [f"expression of {len(names)} sample(s) ({', '.join(names[:5])}{' …' if len(names) > 5 else ''}) was on "
            f"a linear scale (largest value {float(np.nanmax(largest[linear])):,.0f}; TPM, FPKM or counts): put on "
            "the log scale the model expects as log2(value + 1)."]


def validate(samples: list[str], profiles: dict[str, np.ndarray], unknown: dict[str, int],
             schema: ProfileSchema) -> UploadReport:
    """Check values and coverage; refuse what cannot be predicted, flag what is less trustworthy."""
    notes = check_values(samples, profiles) + region_notes(samples, profiles, schema)
    index = schema.read_columns
    imputed = {m: np.isnan(profiles[m][:, index[m]]).sum(axis=1).astype(int).tolist() for m in MODALITIES}
    n_genes = len(index["expression"])
    present = n_genes - np.asarray(imputed["expression"])
    if (present < REFUSE_BELOW * n_genes).any():
        s = int(np.argmax(present < REFUSE_BELOW * n_genes))
        raise UserError(f"sample {samples[s]!r} has expression for {present[s]} of the {n_genes} genes the model "
                        f"reads; at least {REFUSE_BELOW:.0%} are needed for a prediction that is not mostly "
                        f"imputation. The list of genes it reads can be downloaded in the app (Your sample tab).")
    flags = [f"expression for {p} of the model's {n_genes} genes (fewer than {FLAG_BELOW:.0%}): the rest are "
             f"imputed, so predictions are less certain" if p < FLAG_BELOW * n_genes else "" for p in present]
    return UploadReport(samples, profiles, unknown, imputed, {m: len(index[m]) for m in MODALITIES}, flags,
                        notes=notes)
