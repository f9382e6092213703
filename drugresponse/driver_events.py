"""What a list of GDSC driver-event names holds, in words (shared by the app and the model card)."""

from __future__ import annotations

FUSIONS = ("BCR-ABL_mut", "EWSR1-FLI1_mut", "EWSR1-X_mut")  # the table's fusions (HLA-A_mut is a gene's mutation)


def kind(name: str) -> str:
    """``mutation``, ``fusion``, ``copy-number region`` or ``MSI`` for a name in GDSC's feature table."""
    if name == "MSI_FACTOR":
        return "MSI"
    if name.startswith(("gain_", "loss_")):
        return "copy-number region"
    if name in FUSIONS:
        return "fusion"
    return "mutation"


def describe(names: list[str]) -> str:
    """``192 driver events (76 gene mutations, the BCR-ABL fusion, 115 copy-number regions)``."""
    counts: dict[str, list[str]] = {}
    for name in names:
        counts.setdefault(kind(name), []).append(name)
    parts = []
    if "mutation" in counts:
        parts.append(f"{len(counts['mutation'])} gene mutations")
    if "fusion" in counts:
        fusions = [n[:-4].replace("-X", " (any partner)") for n in counts["fusion"]]
        parts.append(f"the {', '.join(fusions)} fusion{'s' if len(fusions) > 1 else ''}")
    if "copy-number region" in counts:
        parts.append(f"{len(counts['copy-number region'])} copy-number regions")
    if "MSI" in counts:
        parts.append("MSI status")
    return f"{len(names)} driver events ({', '.join(parts)})" if parts else "no driver events"
