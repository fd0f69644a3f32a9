"""The report's figures against the audit trail of a generated batch (tests/report/batch.py)."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.errors import SystemError
from flows.report import (
    Day,
    build_report,
    format_duration,
    percentile,
    read_events,
    render_html,
    render_plot,
    render_text,
    sla_deadline,
)
from tests.report.batch import END, NOW, START, SUPERVISOR, batch_settings, write_batch
from tests.report.trail import STAFF, UK, Trail, uk

IN_PERIOD = "BCDEFGHIJKLMNOPQS"


@pytest.fixture
def batch(tmp_path: Path):
    emails = write_batch(tmp_path / "audit")
    return emails, list(read_events(tmp_path / "audit"))


def refs(emails, letters: str) -> list[str]:
    return sorted(emails[letter].reference for letter in letters)


def test_the_reader_takes_every_file_of_the_trail_in_name_order(batch, tmp_path: Path) -> None:
    _, events = batch
    files = sorted(file for file in (tmp_path / "audit").glob("*.jsonl") if file.name != "audit.checkpoints.jsonl")
    assert len(files) > 5  # one file a day, rotated by the trail
    assert events == [json.loads(line) for file in files for line in file.read_text().splitlines()]
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))  # name order is chain order
    assert list(read_events(tmp_path / "audit" / "audit.jsonl")) == events


def test_figures_equal_counts_taken_straight_from_the_trail(batch) -> None:
    emails, events = batch
    report = build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW)

    # Counted here the plain way, one line at a time.
    received = {e["reference"]: datetime.fromisoformat(e["received"]) for e in reversed(events) if e["step"] == "claim"}
    in_period = {ref for ref, when in received.items() if START <= when.astimezone(UK).date() <= END}
    last_finish = {e["reference"]: e for e in events if e["step"] == "finish" and e["reference"] in in_period}
    repeats = sum(1 for e in events if e["step"] == "duplicate_delivery" and e["reference"] in in_period)
    assert sorted(in_period) == refs(emails, IN_PERIOD)
    assert report.received == len(in_period) == 17
    assert report.done == sum(1 for e in last_finish.values() if e["folder"] == "done") == 9
    assert report.refused == Counter(e["code"] for e in last_finish.values() if e["outcome"] == "rejected") \
        == {"FORM_INVALID": 2, "ATTACHMENT_MISSING": 1, "NO_ROUTE": 1}
    assert list(report.refused)[0] == "FORM_INVALID"  # most frequent first
    assert report.repeat_deliveries == repeats == 2

    # What the batch was written to contain.
    assert report.system_exceptions == {"RECORD_NOT_VERIFIED": 1}  # F's fault was cured by its retry
    assert report.waiting == refs(emails, "EN")  # N waits after its system fault; M was approved and keyed
    assert report.in_progress == 1  # O
    assert report.done + report.refused_total + report.system_total + len(report.waiting) + report.in_progress \
        == report.received
    assert report.hours_freed == pytest.approx((8 * 20 + 12) / 60)


def test_items_done_and_hours_freed_by_the_day_they_were_done(batch) -> None:
    _, events = batch
    report = build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW)
    by_day = {day.day: (day.done, round(day.hours_freed, 3)) for day in report.days}
    assert list(by_day) == [START + timedelta(days=n) for n in range(10)]
    assert by_day == {
        date(2025, 5, 21): (2, 0.667), date(2025, 5, 22): (0, 0), date(2025, 5, 23): (1, 0.333),  # G's repeat
        date(2025, 5, 24): (0, 0), date(2025, 5, 25): (0, 0), date(2025, 5, 26): (0, 0),
        date(2025, 5, 27): (3, 1.0), date(2025, 5, 28): (1, 0.333), date(2025, 5, 29): (1, 0.333),
        date(2025, 5, 30): (1, 0.2),  # Q, a parking permit at 12 minutes
    }
    assert [day.day.day for day in report.days if not day.working] == [24, 25, 26]
    assert sum(day.done for day in report.days) == report.done


def test_response_times_are_from_the_email_to_the_first_answer(batch) -> None:
    emails, events = batch
    report = build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW)
    minutes = {"B": 4, "C": 3, "D": 1, "F": 10, "G": 5, "K": 2, "N": 20, "P": 1, "Q": 2, "S": 1}
    answers = [timedelta(minutes=m) for m in minutes.values()] + [
        uk("2025-05-28 10:00") - emails["H"].received,
        uk("2025-05-29 09:00") - emails["I"].received,
        uk("2025-05-27 09:10") - emails["J"].received,
        uk("2025-05-27 14:05") - emails["M"].received,
    ]
    # Unanswered: E (waiting), L (its reply failed to send), O (in progress).
    assert report.answered == len(answers) == 14
    seconds = [answer.total_seconds() for answer in answers]
    assert report.median_response == timedelta(seconds=statistics.median(seconds))
    p95 = statistics.quantiles(seconds, n=100, method="inclusive")[94]
    assert report.p95_response.total_seconds() == pytest.approx(p95)


def test_sla_counts_working_days_and_skips_the_bank_holiday(batch) -> None:
    emails, events = batch
    report = build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW)
    # E waited from Wednesday 21 (due Friday 23); I was answered on Thursday 29 (due Wednesday 28);
    # L's reply never went (due Thursday 29). H, from the same Friday, answered on Wednesday 28: in time.
    assert [breach.reference for breach in report.past_sla] == [emails[x].reference for x in "EIL"]
    breaches = {breach.reference: breach for breach in report.past_sla}
    assert breaches[emails["I"].reference].due == date(2025, 5, 28)
    assert breaches[emails["I"].reference].answered == uk("2025-05-29 09:00")
    assert breaches[emails["E"].reference].answered is None
    assert emails["H"].reference not in breaches and emails["O"].reference not in breaches  # O: due Monday 2 June


def test_friday_before_a_bank_holiday_is_due_at_the_end_of_wednesday() -> None:
    due, deadline = sla_deadline(uk("2025-05-23 16:00"), 2)
    assert due == date(2025, 5, 28)
    assert deadline == uk("2025-05-29 00:00")
    assert sla_deadline(uk("2025-05-23 23:30"), 2)[0] == date(2025, 5, 28)  # 22:30 UTC, still Friday in the UK


def test_an_unanswered_item_passes_its_sla_only_when_the_time_is_up(tmp_path: Path) -> None:
    trail = Trail(tmp_path)
    trail.email("x", "2025-05-23 16:00").arrive().start_keying()
    trail.close()
    events = list(read_events(tmp_path))

    def past(now: str) -> int:
        return len(build_report(events, start=date(2025, 5, 23), end=date(2025, 5, 23), process=None,
                                settings=batch_settings(), now=uk(now)).past_sla)

    assert past("2025-05-28 23:59") == 0
    assert past("2025-05-29 00:00") == 1


def test_one_process(batch) -> None:
    emails, events = batch
    report = build_report(events, start=START, end=END, process="blue_badge", settings=batch_settings(), now=NOW)
    assert report.received == 15  # not P (unrouted) nor Q (a parking permit)
    assert report.done == 8
    assert report.refused == {"FORM_INVALID": 2, "ATTACHMENT_MISSING": 1}
    assert report.hours_freed == pytest.approx(8 * 20 / 60)
    parking = build_report(events, start=START, end=END, process="parking_permit", settings=batch_settings(), now=NOW)
    assert (parking.received, parking.done, parking.hours_freed) == (1, 1, pytest.approx(0.2))


def test_items_done_after_the_period_extend_the_plot(batch) -> None:
    _, events = batch
    report = build_report(events, start=START, end=date(2025, 5, 23), process=None, settings=batch_settings(), now=NOW)
    assert report.days[-1].day == date(2025, 5, 29)  # I, received Friday 23, was done on Thursday 29
    assert report.done == sum(day.done for day in report.days)
    assert any("plot runs to 29 May 2025" in note for note in report.notes)


def test_a_process_missing_from_the_settings_frees_no_hours_and_says_so(batch) -> None:
    _, events = batch
    settings = batch_settings()
    del settings.processes["parking_permit"]
    report = build_report(events, start=START, end=END, process=None, settings=settings, now=NOW)
    assert report.hours_freed == pytest.approx(8 * 20 / 60)
    assert report.notes == ["Not in the settings, so counted with default SLA and no hours freed: parking_permit."]


def test_an_empty_period() -> None:
    report = build_report([], start=START, end=END, process=None, settings=batch_settings(), now=NOW)
    assert (report.received, report.done, report.median_response, report.past_sla) == (0, 0, None, [])
    assert "none answered" in render_text(report)
    assert "<svg" in render_html(report)
    with pytest.raises(ValueError):
        build_report([], start=END, end=START, process=None, settings=batch_settings())


def test_the_plot_has_round_axes_and_labels_a_long_period_sparsely() -> None:
    days = [Day(START + timedelta(days=n), done=137 if n == 3 else n % 5, hours_freed=0.2 if n == 3 else 0.05,
                working=True) for n in range(40)]
    svg = render_plot(days)
    ticks = re.findall(r'<text x="38" y="[\d.]+" text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["0", "50", "100", "150", "0", "0.05", "0.1", "0.15", "0.2"]
    assert len(re.findall(r'class="weekday"', svg)) == 14  # every third day of 40
    assert "<title>Sat 24 May: 137</title>" in svg


@pytest.mark.parametrize(("values", "percent", "expected"), [
    ([7.0], 95, 7.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([4.0, 1.0, 3.0, 2.0], 95, 3.85),  # order does not matter
    ([10.0, 20.0], 0, 10.0),
    ([10.0, 20.0], 100, 20.0),
    (list(map(float, range(1, 21))), 95, 19.05),
])
def test_percentile_interpolates_like_a_spreadsheet(values, percent, expected) -> None:
    assert percentile(values, percent) == pytest.approx(expected)


def test_durations_read_as_people_say_them() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (45, 59.6, 12 * 60, 3 * 3600 + 5 * 60, 2 * 86400 + 4 * 3600)] \
        == ["45 s", "1 min", "12 min", "3 h 05 min", "2 d 4 h"]


def test_renderings_hold_the_figures_and_no_personal_data(batch) -> None:
    emails, events = batch
    report = build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW)
    text, html = render_text(report, width=120), render_html(report)
    for rendering in (text, html):
        assert "FORM_INVALID" in rendering and "RECORD_NOT_VERIFIED" in rendering and "2.9" in rendering
        for letter in "EIL":
            assert emails[letter].reference in rendering
        assert STAFF not in rendering and SUPERVISOR not in rendering
        assert not re.search(r"[\w.+-]+@[\w-]+\.", rendering)  # no email address of anyone
        assert "box 3" not in rendering and "System busy" not in rendering  # error messages stay in the trail
    assert re.search(r"Emails received\s+│\s+17", text)
    assert "Tue 27 May" in text and "Mon 26 May (Spring bank holiday)" in text


def test_the_html_is_one_self_contained_file(batch) -> None:
    _, events = batch
    html = render_html(build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW))
    for outside in ("<script", "<link", "<img", "@import", "url(", "http://", "https://", "src="):
        assert outside not in html
    assert html.count("<svg") == 1 and "@media print" in html and 'name="viewport"' in html
    assert "<dt>Hours of staff time freed</dt><dd>2.9</dd>" in html


def test_an_unreadable_line_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_text('{"step": "claim"}\n{"step": "cla\n')
    with pytest.raises(SystemError, match=r"audit\.jsonl:2 is not a JSON"):
        list(read_events(tmp_path))


def test_hours_freed_are_broken_down_by_process_and_add_up_to_the_whole(batch) -> None:
    _, events = batch
    report = build_report(events, start=START, end=END, process=None, settings=batch_settings(), now=NOW)
    by = {figures.process: figures for figures in report.by_process}
    assert (by["blue_badge"].done, by["blue_badge"].minutes_per_item) == (8, 20)
    assert by["blue_badge"].hours_freed == pytest.approx(8 * 20 / 60)
    assert (by["parking_permit"].done, by["parking_permit"].minutes_per_item) == (1, 12)
    assert by["parking_permit"].hours_freed == pytest.approx(0.2)
    assert report.by_process[0].process == "blue_badge", "most hours first"
    assert sum(f.received for f in report.by_process) == report.received
    assert sum(f.done for f in report.by_process) == report.done
    assert sum(f.refused for f in report.by_process) == report.refused_total
    assert sum(f.hours_freed for f in report.by_process) == pytest.approx(report.hours_freed)
    text = render_text(report, width=160)
    assert "By process" in text and "parking permit" in text
    assert "<h2>By process</h2>" in render_html(report)
