"""A fortnight of Blue Badge mail around the spring bank holiday of 2025, with every kind of ending.

The report period is Wednesday 21 to Friday 30 May 2025; Monday 26 May is the spring bank holiday, and the
report is run at noon on Monday 2 June. Each email's letter is its name in the assertions.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from connectors.settings import ProcessSettings, Settings
from tests.report.trail import Email, Trail, uk

START, END = date(2025, 5, 21), date(2025, 5, 30)
NOW = uk("2025-06-02 12:00")
SUPERVISOR = "Priya Shah"
MINUTES = timedelta(minutes=1)


def batch_settings(audit_path: Path | None = None) -> Settings:
    settings = Settings(processes={"blue_badge": ProcessSettings(minutes_per_item=20, sla_working_days=2)})
    # A process the trail knows that this install does not declare: reported with its own figures.
    settings.processes["parking_permit"] = ProcessSettings(minutes_per_item=12, sla_working_days=1)
    if audit_path is not None:
        settings.audit.path = audit_path
    return settings


def write_batch(folder: Path) -> dict[str, Email]:
    """Write the batch's trail into ``folder`` (one file a day) and return its emails."""
    trail = Trail(folder)
    e = {}
    e["A"] = trail.email("a", "2025-05-20 15:00").arrive().key(4 * MINUTES)  # the day before the period
    e["B"] = trail.email("b", "2025-05-21 00:30").arrive().key(4 * MINUTES)  # Tuesday 23:30 UTC: Wednesday in the UK
    e["C"] = trail.email("c", "2025-05-21 09:00").arrive().key(3 * MINUTES)
    e["D"] = trail.email("d", "2025-05-21 10:00").arrive().refuse(1 * MINUTES, "FORM_INVALID")
    e["E"] = trail.email("e", "2025-05-21 11:00").arrive().start_keying().review(10 * MINUTES, "waiting")
    # A system fault answered with a "delay" reply, retried by a supervisor after the bank holiday.
    e["F"] = trail.email("f", "2025-05-22 09:00").arrive().fail(10 * MINUTES, "APP_UNAVAILABLE") \
        .redeliver("2025-05-27 09:00", run="run-2").key("2025-05-27 09:02")
    # Keyed, then the same email delivered again the next morning: one item, finished twice.
    e["G"] = trail.email("g", "2025-05-22 14:00").arrive().key(5 * MINUTES) \
        .redeliver("2025-05-23 08:00", run="run-3").key("2025-05-23 08:01", outcome="already_keyed")
    # Friday before the bank holiday: two working days run out at the end of Wednesday 28 May.
    e["H"] = trail.email("h", "2025-05-23 16:00").arrive().key("2025-05-28 10:00")
    e["I"] = trail.email("i", "2025-05-23 16:30").arrive().key("2025-05-29 09:00")
    e["J"] = trail.email("j", "2025-05-24 10:00").arrive().key("2025-05-27 09:10")  # a Saturday
    e["K"] = trail.email("k", "2025-05-26 11:00").arrive().refuse(2 * MINUTES, "ATTACHMENT_MISSING", reply="suppressed")
    e["L"] = trail.email("l", "2025-05-27 09:00").arrive().start_keying() \
        .fail(6 * MINUTES, "RECORD_NOT_VERIFIED", reply="failed")
    e["M"] = trail.email("m", "2025-05-27 10:00").arrive().start_keying().review(2 * MINUTES, "waiting") \
        .review("2025-05-27 14:00", "approved", actor=SUPERVISOR).key("2025-05-27 14:05")
    e["N"] = trail.email("n", "2025-05-28 09:00").arrive().start_keying().fail(20 * MINUTES, "APP_UNAVAILABLE") \
        .review(21 * MINUTES, "waiting")
    e["O"] = trail.email("o", "2025-05-29 12:00").arrive().start_keying()
    e["S"] = trail.email("s", "2025-05-29 10:00").arrive().refuse(1 * MINUTES, "FORM_INVALID")
    e["P"] = trail.email("p", "2025-05-30 09:00", process=None).claim().refuse(1 * MINUTES, "NO_ROUTE")
    e["Q"] = trail.email("q", "2025-05-30 10:00", process="parking_permit").arrive().key(2 * MINUTES)
    e["R"] = trail.email("r", "2025-05-31 10:00").arrive().key(2 * MINUTES)  # the day after the period
    trail.close()
    return e
