"""Cell-line name matching across GDSC files that spell names differently.

The files agree on a normalised key (upper case, letters and digits only: ``PFSK-1`` and ``PFSK1``
are one line), with two known traps: the expression file writes some NCI-H lines as ``H460`` where
mutation and copy number write ``NCIH460``, and the key makes different lines collide (``KM-H2`` /
``KMH-2``, ``TT`` / ``T-T``). A key that stands for more than one GDSC name is never merged: those
names are reported as ambiguous and left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_BARE_NCI_H = re.compile(r"^H\d+$")


def normalise(name: str) -> str:
    """The matching key: upper case, letters and digits only."""
    return _NOT_ALNUM.sub("", name.upper())


def key_index(names: Iterable[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Map each key to its one display name; return the colliding keys separately.

    Returns ``(unique, collisions)`` where ``collisions`` maps a key to the several distinct names
    that share it. Repeated identical names are not a collision.
    """
    by_key: dict[str, set[str]] = defaultdict(set)
    for name in names:
        by_key[normalise(name)].add(name)
    unique = {k: next(iter(v)) for k, v in by_key.items() if len(v) == 1}
    collisions = {k: sorted(v) for k, v in by_key.items() if len(v) > 1}
    return unique, collisions


def align_nci_h_keys(expression_keys: Iterable[str], other_keys: Iterable[str]) -> dict[str, str]:
    """Rename expression keys written ``H460`` to ``NCIH460`` where only the latter exists elsewhere.

    Returns a mapping from the expression file's key to the key used everywhere else. A bare
    ``H<digits>`` key is renamed only if ``NCI`` + key is in ``other_keys`` and is not itself an
    expression key (so a real line named ``H4`` is never renamed onto another).
    """
    expression_keys = set(expression_keys)
    other_keys = set(other_keys)
    mapping = {}
    for key in expression_keys:
        target = "NCI" + key
        if (_BARE_NCI_H.match(key) and key not in other_keys and target in other_keys
                and target not in expression_keys):
            mapping[key] = target
        else:
            mapping[key] = key
    return mapping
