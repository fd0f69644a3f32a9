"""How Finance compares suppliers and invoice numbers (a light module: the flow's lane key uses it too)."""

from __future__ import annotations

import re


def invoice_key(number: str) -> str:
    """Invoice numbers compare as Finance compares them: without letter case or spaces."""
    return re.sub(r"\s+", "", number).upper()


def supplier_key(name: str) -> str:
    """Supplier names compare without letter case, spacing, a trailing full stop, Limited/Ltd or &/and."""
    text = " ".join(name.replace("&", " and ").split()).casefold().rstrip(".")
    return re.sub(r"\blimited$", "ltd", text)
