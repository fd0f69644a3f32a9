"""The HTML report in real Chromium: the figures are on the page, on a desktop and on a phone, and it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.runtime import BrowserRuntime
from flows.report import build_report, read_events, render_html
from tests.report.batch import END, NOW, START, batch_settings, write_batch


@pytest.mark.browser
def test_the_html_report_shows_its_figures_in_chromium(browser_runtime: BrowserRuntime, tmp_path: Path) -> None:
    emails = write_batch(tmp_path / "audit")
    report = build_report(read_events(tmp_path / "audit"), start=START, end=END, process=None,
                          settings=batch_settings(), now=NOW)
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    page = browser_runtime.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(page_file.as_uri())
        page.screenshot(path=str(tmp_path / "report-desktop.png"), full_page=True)
        figures = {
            "Emails received": "17", "Done": "9", "Refused (business)": "4", "System exceptions": "1",
            "Waiting for a person": "2", "Past SLA": "3", "Hours of staff time freed": "2.9",
            "Median time to reply": "4 min", "95th percentile time to reply": "5 d 1 h",
        }
        for label, value in figures.items():
            figure = page.locator(".figure").filter(has=page.get_by_text(label, exact=True))
            assert figure.locator("dd").inner_text() == value, label
        assert page.get_by_role("img", name="Items done and hours of staff time freed per day").is_visible()
        past_sla = page.locator("section").filter(has=page.get_by_role("heading", name="Past SLA"))
        for letter in "EIL":
            assert past_sla.get_by_text(emails[letter].reference, exact=True).is_visible()
        refused = page.locator("section").filter(has=page.get_by_role("heading", name="Refused by reason"))
        assert refused.get_by_role("row", name="FORM_INVALID 2").is_visible()

        page.set_viewport_size({"width": 360, "height": 740})  # a small phone
        page.screenshot(path=str(tmp_path / "report-phone.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, "the page scrolls sideways on a phone"
        assert page.get_by_text("Hours of staff time freed", exact=True).is_visible()

        page.emulate_media(media="print")
        pdf = page.pdf(path=str(tmp_path / "report.pdf"), format="A4")
        assert pdf.startswith(b"%PDF")
    finally:
        page.context.close()
    assert requested == [page_file.as_uri()], "the report fetched something besides itself"
    assert (tmp_path / "report-desktop.png").stat().st_size > 10_000
