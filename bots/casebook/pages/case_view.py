"""Case details: every stored field in a two-column table."""

from __future__ import annotations

from playwright.sync_api import Locator

from bots.casebook.pages.common import Screen, clean

_READ_ROWS = """rows => rows.map(row => [
    row.cells[0] ? row.cells[0].innerText : '',
    row.cells[1] ? row.cells[1].innerText : '',
])"""


class CaseViewPage(Screen):
    @property
    def marker(self) -> Locator:
        return self.content.get_by_role("table", name="Case details")

    def fields(self) -> dict[str, str]:
        """Label -> value, exactly as the table shows them (in one round trip)."""
        rows = self.marker.get_by_role("row").evaluate_all(_READ_ROWS)
        return {clean(label): clean(value) for label, value in rows if clean(label)}
