"""How Finance's JSON API shows its records: dates as DD/MM/YYYY, amounts as "1234.50" strings."""

from __future__ import annotations

from datetime import date

from sandbox.finance.rules import APPROVED
from sandbox.kit.values import uk_date


def _day(iso: str) -> str:
    return uk_date(date.fromisoformat(iso))


def invoice_json(row: dict) -> dict:
    reasons = [reason for reason in row["match_reasons"].split("\n") if reason]
    return {
        "ref": row["ref"],
        "supplier_id": row["supplier_id"],
        "supplier_name": row["supplier_name"],
        "invoice_number": row["invoice_number"],
        "invoice_date": _day(row["invoice_date"]),
        "po_number": row["po_number"],
        "net": row["net"],
        "vat": row["vat"],
        "total": row["total"],
        "notes": row["notes"],
        "status": row["status"],
        "match": {
            "passed": row["status"] == APPROVED,
            "ordered": row["ordered"],
            "received": row["received"],
            "invoiced_before": row["invoiced_before"],
            "tolerance_pct": row["tolerance_pct"],
            "reasons": reasons,
        },
        "entered_by": row["entered_by"],
        "entered_at": row["entered_at"],
    }


def order_json(row: dict) -> dict:
    shown = {key: row[key] for key in ("po_number", "supplier_id", "supplier_name", "ordered", "received", "invoiced")}
    shown["raised"] = _day(row["raised"])
    if "lines" in row:
        shown["lines"] = row["lines"]
    return shown


def window_json(items: list[dict], *, total: int, offset: int, limit: int) -> dict:
    """One window of a list: ``more`` says whether "Load more" has anything to fetch."""
    return {"items": items, "total": total, "offset": offset, "limit": limit, "more": offset + len(items) < total}
