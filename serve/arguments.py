"""The endpoints' arguments checked before any work: a crafted API call sends whatever JSON it likes, and a wrong type
must get a message that names the argument and what it takes (not Python's ``unhashable type: 'list'``), a long
value must not be echoed back whole, and a list of drugs must not ask for more work than one per output.
"""

from __future__ import annotations

from drugresponse.errors import UserError

MAX_CHARS = 200  # a cell line, drug or tissue name; the longest real one is under 60


def name(value, what: str, optional: bool = False) -> str | None:
    """``value`` as one name (a string of at most ``MAX_CHARS``); None passes when ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise UserError(f"{what} must be one name (a string), not {_kind(value)}.")
    if len(value) > MAX_CHARS:
        raise UserError(f"{what} {value[:40]!r}… is {len(value):,} characters long; names are at most {MAX_CHARS}.")
    return value


def names(value, what: str, most: int) -> list[str]:
    """``value`` as a list of distinct names, at most ``most`` of them (one string is a list of one)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise UserError(f"{what} must be a list of names, not {_kind(value)}.")
    if len(value) > most:
        raise UserError(f"{what}: {len(value):,} given; at most {most:,} (each once).")
    checked = [name(v, f"each of {what}") for v in value]
    repeated = sorted({v for v in checked if checked.count(v) > 1})
    if repeated:
        raise UserError(f"{what}: {', '.join(repr(v[:60]) for v in repeated[:3])} given more than once; name each once.")
    return checked


def _kind(value) -> str:
    return {list: "a list", tuple: "a list", dict: "an object", bool: "true/false", int: "a number",
            float: "a number", type(None): "nothing (choose one first)"}.get(type(value), type(value).__name__)
