"""Whether an address as staff wrote it on the form is the address Revenues shows.

Revenues shows an address on one line, ``Flat 1, 22 Station Road, Eastfield, Northdale`` (the first line,
the locality, the town). Staff may leave off the town, or the locality and the town; case, punctuation and
spacing do not matter. Nothing else is forgiven: a different house number or flat is a different address,
so the bot never guesses between look-alikes (9 Oak Avenue and 9 Oak Close, Flat 1 and Flat 2).
"""

from __future__ import annotations

import re

_PROPERTY_OPTION = re.compile(r"^(?P<ref>P\d{5}) (?P<address>.+) (?P<postcode>[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})$")


def squash(text: str) -> str:
    """Lower case, letters and digits only, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def postcode_key(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def same_address(written: str, shown: str) -> bool:
    """``written`` (the form) is ``shown`` (Revenues' one line), perhaps without its town or locality."""
    parts = [part for part in (squash(part) for part in shown.split(",")) if part]
    wanted = squash(written)
    keep_at_least = max(1, len(parts) - 2)
    return any(wanted == " ".join(parts[:end]) for end in range(keep_at_least, len(parts) + 1))


def property_option(text: str) -> tuple[str, str, str] | None:
    """An option of the change-of-address screen's property list, ``P10020 9 Oak Avenue, Westgate,
    Northdale ND3 1EF``, as (property, address, postcode); None for anything else."""
    match = _PROPERTY_OPTION.match(" ".join(text.split()))
    return (match["ref"], match["address"], match["postcode"]) if match else None
