"""The supervisors' report: what Clerk did in a period, how fast it answered, and the staff time it freed.

Everything comes from the audit trail, never from the ledger or the mailbox, so a manager can check any
figure against the events. An item is one Clerk reference (a repeat delivery of the same email counts once):

* received in the period: the first claim's ``received`` time, on the calendar day in the UK;
* its state: WAITING FOR A PERSON when its last review is ``waiting`` with no finish after it, else what its
  latest finish says (a retry after a system fault overrides the fault), else still in progress;
* its answer: the first reply sent (or deliberately withheld from an outside sender) that is not the
  acknowledgement. A reply that failed to send told nobody anything, so it is not an answer;
* past its SLA: not answered by the end of the ``sla_working_days``-th working day after it arrived
  (weekends and England and Wales bank holidays do not count), or, unanswered, past that time now.

Percentiles interpolate between neighbours (Excel's PERCENTILE.INC), so a supervisor can check them in a
spreadsheet. The report holds references, process names and reason codes only: no personal data.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from connectors import audit_store
from connectors.calendar import add_working_days, bank_holidays, is_working_day
from connectors.settings import ProcessSettings, Settings

UK = ZoneInfo("Europe/London")
DONE_OUTCOMES = {"created", "already_keyed", "existing_application", "duplicate_delivery"}
DECIDED_REPLIES = {"sent", "suppressed"}


def read_events(trail: Path | Settings) -> Iterator[dict]:
    """Every event of the audit trail at ``trail`` (its directory, or its file: across rotated days), or of the
    trail the settings name (a file, or tables in PostgreSQL), in order. Raises AuditUnavailable when there is
    no trail there."""
    return audit_store.events(trail) if isinstance(trail, Settings) else audit_store.file_events(trail)


@dataclass(frozen=True)
class Breach:
    """An item answered after its SLA, or still unanswered past it."""

    reference: str
    process: str | None
    received: datetime
    due: date
    answered: datetime | None


@dataclass(frozen=True)
class Day:
    day: date
    done: int
    hours_freed: float
    working: bool


@dataclass(frozen=True)
class ProcessFigures:
    """One process's share of the period."""

    process: str
    received: int
    done: int
    refused: int
    system: int
    minutes_per_item: float
    hours_freed: float


@dataclass
class Report:
    start: date
    end: date
    process: str | None
    generated: datetime
    received: int
    done: int
    refused: dict[str, int]
    """Business refusals by reason code, most frequent first."""
    system_exceptions: dict[str, int]
    """System exceptions by error code, most frequent first."""
    waiting: list[str]
    """References of the items waiting for a person."""
    in_progress: int
    repeat_deliveries: int
    answered: int
    median_response: timedelta | None
    p95_response: timedelta | None
    past_sla: list[Breach]
    hours_freed: float
    days: list[Day]
    notes: list[str] = field(default_factory=list)
    by_process: list[ProcessFigures] = field(default_factory=list)
    """Received, done, refused, system exceptions and hours freed per process, most hours first."""

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    @property
    def system_total(self) -> int:
        return sum(self.system_exceptions.values())


@dataclass
class _Item:
    """What the trail says about one reference, in the order it says it."""

    reference: str
    first_seen: datetime
    received: datetime | None = None
    process: str | None = None
    answered: datetime | None = None
    finish: dict | None = None
    finished_at: int = -1
    review: str | None = None
    reviewed_at: int = -1
    business_code: str | None = None
    repeats: int = 0

    @property
    def arrived(self) -> datetime:
        return self.received or self.first_seen

    @property
    def state(self) -> str:
        if self.review == "waiting" and self.reviewed_at > self.finished_at:
            return "waiting"
        if self.finish is None:
            return "in_progress"
        if self.finish.get("outcome") == "rejected":
            return "refused"
        if self.finish.get("outcome") in DONE_OUTCOMES or self.finish.get("folder") == "done":
            return "done"
        return "system"


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:  # a malformed or redacted time: the caller falls back to another
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _uk_day(moment: datetime) -> date:
    return moment.astimezone(UK).date()


def _collect(events: Iterable[dict]) -> dict[str, _Item]:
    items: dict[str, _Item] = {}
    for position, event in enumerate(events):
        reference, when = event.get("reference"), _moment(event.get("time"))
        if not reference or when is None:
            continue
        item = items.setdefault(reference, _Item(reference, first_seen=when))
        step, outcome = event.get("step"), event.get("outcome")
        item.process = event.get("process") or item.process
        if step == "claim" and item.received is None:
            item.received = _moment(event.get("received"))
        elif step == "duplicate_delivery":
            item.repeats += 1
        elif step == "reply" and item.answered is None and outcome in DECIDED_REPLIES \
                and event.get("kind") != "acknowledgement":
            item.answered = when
        elif step == "error" and outcome == "business":
            item.business_code = event.get("code")
        elif step == "finish" and not (outcome == "duplicate_delivery" and item.finish is not None):
            item.finish, item.finished_at = {**event, "at": when}, position  # a copy does not redo its original
        elif step == "review":
            item.review, item.reviewed_at = outcome, position
    return items


def percentile(values: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile, interpolating between the two nearest values (PERCENTILE.INC)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sla_deadline(received: datetime, working_days: int) -> tuple[date, datetime]:
    """The last day to answer an email received at ``received``, and the moment that day ends in the UK."""
    due = add_working_days(_uk_day(received), working_days)
    return due, datetime.combine(due + timedelta(days=1), time(0), tzinfo=UK)


def _by_count(counter: Counter) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda pair: (-pair[1], pair[0])))


def build_report(events: Iterable[dict], *, start: date, end: date, process: str | None, settings: Settings,
                 now: datetime | None = None) -> Report:
    """The report for items received from ``start`` to ``end`` inclusive (UK dates), of one process or all."""
    if end < start:
        raise ValueError("the period ends before it starts")
    now = now or datetime.now(UTC)
    items = [item for item in _collect(events).values()
             if start <= _uk_day(item.arrived) <= end and (process is None or item.process == process)]
    notes: list[str] = []
    unconfigured = sorted({item.process for item in items if item.process and item.process not in settings.processes})
    if unconfigured:
        notes.append(f"Not in the settings, so counted with default SLA and no hours freed: {', '.join(unconfigured)}.")

    states = Counter(item.state for item in items)
    refused = Counter(item.finish.get("code") or item.business_code or "UNKNOWN"
                      for item in items if item.state == "refused")
    system = Counter(item.finish.get("code") or "UNKNOWN" for item in items if item.state == "system")
    responses = [max(0.0, (item.answered - item.arrived).total_seconds()) for item in items if item.answered]

    past_sla = []
    for item in items:
        rules = settings.processes.get(item.process or "", ProcessSettings())
        due, deadline = sla_deadline(item.arrived, rules.sla_working_days)
        if (item.answered or now) >= deadline:
            past_sla.append(Breach(item.reference, item.process, item.arrived, due, item.answered))
    past_sla.sort(key=lambda breach: (breach.received, breach.reference))

    done_by_day: Counter = Counter()
    hours_by_day: Counter = Counter()
    for item in items:
        if item.state == "done":
            day = _uk_day(item.finish["at"])
            configured = settings.processes.get(item.process or "")
            done_by_day[day] += 1
            hours_by_day[day] += configured.minutes_per_item / 60 if configured else 0.0
    last_day = max([end, *done_by_day])
    days = [Day(day, done_by_day[day], hours_by_day[day], is_working_day(day))
            for day in (start + timedelta(days=offset) for offset in range((last_day - start).days + 1))]
    if last_day > end:
        notes.append(f"Some items received by {end:%d %B %Y} were done later; the plot runs to {last_day:%d %B %Y}.")

    by_process = []
    for name in sorted({item.process or "unrouted" for item in items}):
        mine = [item for item in items if (item.process or "unrouted") == name]
        configured = settings.processes.get(name)
        minutes = configured.minutes_per_item if configured else 0.0
        done = sum(1 for item in mine if item.state == "done")
        by_process.append(ProcessFigures(name, len(mine), done, sum(1 for item in mine if item.state == "refused"),
                                         sum(1 for item in mine if item.state == "system"), minutes,
                                         done * minutes / 60))
    by_process.sort(key=lambda figures: (-figures.hours_freed, figures.process))

    return Report(
        by_process=by_process,
        start=start, end=end, process=process, generated=now,
        received=len(items), done=states["done"], refused=_by_count(refused), system_exceptions=_by_count(system),
        waiting=sorted(item.reference for item in items if item.state == "waiting"),
        in_progress=states["in_progress"],
        repeat_deliveries=sum(item.repeats for item in items),
        answered=len(responses),
        median_response=timedelta(seconds=percentile(responses, 50)) if responses else None,
        p95_response=timedelta(seconds=percentile(responses, 95)) if responses else None,
        past_sla=past_sla,
        hours_freed=sum(hours_by_day.values()),
        days=days,
        notes=notes,
    )


# --- words and numbers ----------------------------------------------------------------------------------------
def format_duration(span: timedelta | None) -> str:
    """A response time as people say it: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    if span is None:
        return "none answered"
    seconds = round(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_hours(hours: float) -> str:
    return f"{hours:,.1f}"


def _period(report: Report) -> str:
    scope = report.process.replace("_", " ").capitalize() if report.process else "All processes"
    return f"{scope}, emails received {report.start:%a %d %b %Y} to {report.end:%a %d %b %Y}"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UK).strftime("%a %d %b %Y %H:%M") if moment else "not yet answered"


def headline(report: Report) -> list[tuple[str, str]]:
    """The figures at the top of every rendering, as (label, value)."""
    return [
        ("Emails received", f"{report.received:,}"),
        ("Done", f"{report.done:,}"),
        ("Refused (business)", f"{report.refused_total:,}"),
        ("System exceptions", f"{report.system_total:,}"),
        ("Waiting for a person", f"{len(report.waiting):,}"),
        ("Still in progress", f"{report.in_progress:,}"),
        ("Median time to reply", format_duration(report.median_response)),
        ("95th percentile time to reply", format_duration(report.p95_response)),
        ("Past SLA", f"{len(report.past_sla):,}"),
        ("Hours of staff time freed", format_hours(report.hours_freed)),
    ]


PROCESS_COLUMNS = ("process", "received", "done", "refused", "system exceptions", "minutes per item",
                   "hours freed")


def _process_rows(report: Report) -> list[tuple[str, ...]]:
    return [(figures.process.replace("_", " "), f"{figures.received:,}", f"{figures.done:,}", f"{figures.refused:,}",
             f"{figures.system:,}", _number(figures.minutes_per_item), format_hours(figures.hours_freed))
            for figures in report.by_process]


def _day_label(day: date) -> str:
    holiday = bank_holidays(day.year).get(day)
    return f"{day:%a %d %b}" + (f" ({holiday})" if holiday else "")


# --- terminal ---------------------------------------------------------------------------------------------------
def render_text(report: Report, *, width: int = 100, color: bool = False) -> str:
    """The report as rich tables for a terminal (plain text unless ``color``)."""
    figures = Table(show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right", style="bold")
    for label, value in headline(report):
        figures.add_row(label, value)
    figures.add_row("Answered", f"{report.answered:,} of {report.received:,}")
    figures.add_row("Repeat deliveries (counted once)", f"{report.repeat_deliveries:,}")

    peak = max((day.done for day in report.days), default=0) or 1
    days = Table(title="By the day items were done", title_justify="left")
    days.add_column("day")
    days.add_column("done", justify="right")
    days.add_column("hours freed", justify="right")
    days.add_column("")
    for day in report.days:
        days.add_row(_day_label(day.day), str(day.done), format_hours(day.hours_freed),
                     "█" * round(20 * day.done / peak), style=None if day.working else "dim")

    parts: list = [Text(f"Clerk report: {_period(report)}", style="bold"), figures, days]
    if report.by_process:
        table = Table(title="By process", title_justify="left")
        for column in PROCESS_COLUMNS:
            table.add_column(column, justify="left" if column == "process" else "right")
        for row in _process_rows(report):
            table.add_row(*row)
        parts.append(table)
    for title, counts in (("Refused by reason", report.refused), ("System exceptions by code", report.system_exceptions)):
        if counts:
            table = Table(title=title, title_justify="left")
            table.add_column("code")
            table.add_column("items", justify="right")
            for code, count in counts.items():
                table.add_row(code, str(count))
            parts.append(table)
    if report.past_sla:
        table = Table(title="Past SLA", title_justify="left")
        for column in ("reference", "process", "received", "due by end of", "answered"):
            table.add_column(column)
        for breach in report.past_sla:
            table.add_row(breach.reference, breach.process or "unrouted", _when(breach.received),
                          f"{breach.due:%a %d %b %Y}", _when(breach.answered))
        parts.append(table)
    if report.waiting:
        parts.append(f"Waiting for a person: {', '.join(report.waiting)}")
    parts.extend(report.notes)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False)
    console.print(Group(*parts))
    return buffer.getvalue()


# --- HTML -------------------------------------------------------------------------------------------------------
_CSS = """
:root { --ink: #1d1d1b; --muted: #5f6368; --line: #d0d4d9; --accent: #1d70b8; --green: #00703c; --rest: #f3f2f1; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--ink);
       background: #fff; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem; }
.meta, .note { color: var(--muted); margin: 0 0 .5rem; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(8.5rem, 1fr)); gap: .6rem; margin: 1rem 0 0; }
.figure { border: 1px solid var(--line); border-left: 5px solid var(--accent); padding: .5rem .75rem; margin: 0; }
.figure dt { color: var(--muted); font-size: .9rem; }
.figure dd { margin: 0; font-size: 1.6rem; font-weight: 700; }
.figure.freed { border-left-color: var(--green); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.n, th.n { text-align: right; }
tr.rest td { color: var(--muted); background: var(--rest); }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, Arial, sans-serif; fill: var(--ink); }
svg .done { fill: var(--accent); }  svg .hours { fill: var(--green); }  svg .rest { fill: var(--rest); }
svg .axis { stroke: var(--muted); stroke-width: 1; }  svg .grid { stroke: var(--line); stroke-width: 1; }
@media (max-width: 30rem) {
  body { font-size: 15px; }  main { padding: .75rem; }  .figure dd { font-size: 1.3rem; }
  th, td { white-space: normal; }  svg text { font-size: 16px; }  svg .weekday { display: none; }
  table.stack thead { display: none; }
  table.stack tr { display: block; border-bottom: 1px solid var(--line); padding: .3rem 0; }
  table.stack td { display: flex; justify-content: space-between; gap: 1rem; border: 0; padding: .1rem 0; }
  table.stack td::before { content: attr(data-label); color: var(--muted); }
}
@media print {
  @page { margin: 15mm; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  section, .figure, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
}
"""


def _nice_step(rough: float) -> float:
    """A round axis step (1, 2 or 5 times a power of ten) at least ``rough``."""
    if rough <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(rough))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= rough)


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def _panel(days: Sequence[Day], values: Sequence[float], top: float, css: str, title: str, *, integer: bool,
           label_every: int) -> list[str]:
    """One bar chart panel (``top`` px down) of the plot, with its axis, grid and value labels."""
    left, width, height, gap = 44, 580, 110, 4
    slot = width / len(days)
    step = _nice_step(max(max(values, default=0), 1 if integer else 0.1) / 4)
    if integer:
        step = max(1.0, math.ceil(step))
    ceiling = step * max(1, math.ceil(max(values, default=0) / step))

    def y(value: float) -> float:
        return top + height - height * value / ceiling

    parts = [f'<text x="{left}" y="{top - 8}" font-weight="700">{escape(title)}</text>']
    tick = 0.0
    while tick <= ceiling + 1e-9:
        parts.append(f'<line class="grid" x1="{left}" x2="{left + width}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
        tick += step
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        x = left + index * slot
        if not day.working:
            parts.append(f'<rect class="rest" x="{x:.1f}" y="{top}" width="{slot:.1f}" height="{height}"/>')
        if value:
            shown = f"{value:g}" if integer else format_hours(value)
            parts.append(f'<rect class="{css}" x="{x + gap / 2:.1f}" y="{y(value):.1f}" width="{slot - gap:.1f}" '
                         f'height="{top + height - y(value):.1f}"><title>{escape(_day_label(day.day))}: '
                         f'{shown}</title></rect>')
            if label_every == 1:
                parts.append(f'<text x="{x + slot / 2:.1f}" y="{y(value) - 3:.1f}" text-anchor="middle">'
                             f'{shown}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left + width}" y1="{top + height}" y2="{top + height}"/>')
    return parts


def render_plot(days: Sequence[Day]) -> str:
    """Items done and hours freed per day as one inline SVG (two panels sharing the day axis)."""
    label_every = max(1, math.ceil(len(days) / 16))
    done = [day.done for day in days]
    hours = [day.hours_freed for day in days]
    parts = [
        '<svg viewBox="0 0 640 330" role="img" aria-labelledby="plot-title">',
        '<title id="plot-title">Items done and hours of staff time freed per day; weekends and bank holidays '
        'shaded</title>',
        *_panel(days, done, 24, "done", "Items done", integer=True, label_every=label_every),
        *_panel(days, hours, 174, "hours", "Hours freed", integer=False, label_every=label_every),
    ]
    slot = 580 / len(days)
    for index, day in enumerate(days):
        if index % label_every == 0:
            x = 44 + index * slot + slot / 2
            parts.append(f'<text x="{x:.1f}" y="300" text-anchor="middle">{day.day:%d}</text>'
                         f'<text class="weekday" x="{x:.1f}" y="314" text-anchor="middle">{day.day:%a}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Collection[int] = (),
           row_class: Sequence[str] | None = None, stack: bool = False) -> str:
    """A table in a sideways-scrolling box; ``stack`` shows each row as a list of label: value on a phone."""
    def align(index: int) -> str:
        return " class=n" if index in numeric else ""

    head = "".join(f'<th{align(i)} scope="col">{escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        css = f' class="{row_class[r]}"' if row_class and row_class[r] else ""
        cells = "".join(f'<td{align(i)} data-label="{escape(headers[i])}">{escape(cell)}</td>'
                        for i, cell in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    return (f'<div class="scroll"><table{" class=stack" if stack else ""}><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG): readable on a phone, printable, emailable."""
    figures = "".join(
        f'<div class="figure{" freed" if label.startswith("Hours") else ""}"><dt>{escape(label)}</dt>'
        f"<dd>{escape(value)}</dd></div>"
        for label, value in headline(report)
    )
    sections = [
        f"<h1>What Clerk did</h1><p class=meta>{escape(_period(report))}. "
        f"Generated {escape(_when(report.generated))} (UK time) from the audit trail.</p>",
        f'<dl class="figures">{figures}</dl>',
        f"<p class=note>{report.answered:,} of {report.received:,} emails answered; "
        f"{report.repeat_deliveries:,} repeat deliveries counted once.</p>",
        "<section><h2>By day</h2>" + render_plot(report.days)
        + "<p class=note>Items count on the day they were done. Weekends and bank holidays are shaded.</p>"
        + _table(["Day", "Items done", "Hours freed"],
                 [(_day_label(day.day), str(day.done), format_hours(day.hours_freed)) for day in report.days],
                 numeric={1, 2}, row_class=["" if day.working else "rest" for day in report.days])
        + "</section>",
    ]
    if report.by_process:
        sections.append("<section><h2>By process</h2>"
                        + _table(list(PROCESS_COLUMNS), _process_rows(report), numeric={1, 2, 3, 4, 5, 6}, stack=True)
                        + "</section>")
    for title, counts in (("Refused by reason", report.refused), ("System exceptions by code", report.system_exceptions)):
        if counts:
            sections.append(f"<section><h2>{title}</h2>"
                            + _table(["Code", "Items"], [(code, str(n)) for code, n in counts.items()], numeric={1})
                            + "</section>")
    if report.past_sla:
        sections.append(
            "<section><h2>Past SLA</h2>"
            + _table(["Reference", "Process", "Received", "Due by end of", "Answered"],
                     [(b.reference, b.process or "unrouted", _when(b.received), f"{b.due:%a %d %b %Y}",
                       _when(b.answered)) for b in report.past_sla], stack=True)
            + "</section>")
    if report.waiting:
        sections.append("<section><h2>Waiting for a person</h2><p>" + ", ".join(escape(r) for r in report.waiting)
                        + "</p></section>")
    sections.extend(f"<p class=note>{escape(note)}</p>" for note in report.notes)
    return (
        '<!doctype html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Clerk report: {escape(_period(report))}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )
