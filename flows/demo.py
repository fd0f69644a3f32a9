"""`clerk demo`: one mixed morning's mail for three processes, end to end, on embedded defaults.

Generates a morning of staff email (Blue Badge applications, Council Tax changes of address and supplier
invoices, sandbox/morning.py), starts the three sandbox applications (Casebook, Revenues, Finance) and a
local Prefect server, runs the mail intake, shows progress, answers the supervisor's questions the way a
supervisor would (the demo approves them), and prints what happened to each process and where to look next.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.audit import AuditTrail
from connectors.audit_verify import verify
from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from connectors.settings import (
    AuditSettings,
    BrowserOptions,
    LedgerSettings,
    MailboxSettings,
    Secrets,
    Settings,
)
from flows.bootstrap import audit_key, bootstrap, use_services
from flows.prefect_server import DEFAULT_HOME, local_prefect_server

DEMO_DIR = Path(".clerk/demo")
KEYED = ("created", "on_hold")
"""Outcomes where a new record was keyed (an invoice on hold is keyed, and held for a three-way match)."""
RECOGNISED = ("already_keyed", "existing_application", "already_held", "duplicate_invoice", "duplicate_delivery")
"""Outcomes where Clerk recognised something the application already held, so nothing new was keyed."""
REVIEWER = "demo supervisor"


def demo_settings(workdir: Path, casebook_url: str, **application_urls: str) -> Settings:
    """Settings for everything under ``workdir``; ``application_urls`` gives other applications' addresses
    (``revenues=...``)."""
    applications = {name: {"url": url, "retry_delay_s": 0.5}
                    for name, url in {"casebook": casebook_url, **application_urls}.items()}
    return Settings(
        mailbox=MailboxSettings(root=workdir / "mailbox"),
        ledger=LedgerSettings(path=workdir / "ledger.db"),
        audit=AuditSettings(path=workdir / "audit" / "audit.jsonl"),
        browser=BrowserOptions(screenshots_dir=workdir / "screenshots"),
        applications=applications,
        source="embedded defaults (demo)",
    )


@dataclass(frozen=True)
class DemoApplication:
    """A sandbox application the demo starts: its settings name, how to start it, and how to count what
    it holds (before and after, so seeded records are not counted as keyed)."""

    name: str
    title: str
    records: str
    port: int
    start: Callable[[Path, float, int, str], Any]
    count: Callable[[Any], int]


def _casebook(db: Path, error_rate: float, seed: int, password: str):
    from sandbox.casebook import CasebookConfig, CasebookServer

    return CasebookServer(db, CasebookConfig(error_rate=error_rate, seed=seed), users={"clerk-bot": password})


def _revenues(db: Path, error_rate: float, seed: int, password: str):
    from sandbox.revenues import RevenuesConfig, RevenuesServer

    return RevenuesServer(db, RevenuesConfig(error_rate=error_rate, seed=seed), users={"clerk-bot": password})


def _finance(db: Path, error_rate: float, seed: int, password: str):
    from sandbox.finance import FinanceConfig, FinanceServer

    return FinanceServer(db, FinanceConfig(error_rate=error_rate, seed=seed), users={"clerk-bot": password})


APPLICATIONS = (
    DemoApplication("casebook", "Casebook", "cases", 8765, _casebook, lambda app: len(app.cases())),
    DemoApplication("revenues", "Revenues", "liabilities", 8766, _revenues, lambda app: len(app.liabilities())),
    DemoApplication("finance", "Finance", "invoices", 8767, _finance, lambda app: len(app.invoices())),
)


def summarise(results, mailbox: LocalMailbox, morning, created: dict[str, int], wall_s: float,
              audit_log: Path, approved: list[str]) -> dict:
    """The demo's figures: the whole morning, then each process (received, done, exceptions, keyed...)."""
    outcomes = [result.outcome for result in results]
    emails = len(morning.messages)
    process_of = {clerk_reference(str(message["Message-ID"])): name
                  for message, name in zip(morning.messages, morning.process, strict=True)}
    processes = {}
    for name in dict.fromkeys(morning.process):
        mine = [result for result in results if process_of.get(result.reference) == name]
        processes[name] = {
            "emails": morning.count(name),
            "done": sum(result.folder == "done" for result in mine),
            "exceptions": sum(result.folder == "exceptions" for result in mine),
            "keyed": sum(result.outcome in KEYED for result in mine),
            "recognised": sum(result.outcome in RECOGNISED for result in mine),
            "approved": sum(result.reference in approved for result in mine),
        }
    return {
        "emails": emails,
        "processed": len(results),
        "done": len(mailbox.folder("done")),
        "exceptions": len(mailbox.folder("exceptions")),
        "rejected": outcomes.count("rejected"),
        "system_errors": outcomes.count("system_error"),
        "cases_created": created.get("casebook", 0),
        "records_created": created,
        "duplicates_recognised": sum(outcomes.count(name) for name in RECOGNISED),
        "reviews_approved": len(approved),
        "replies_sent": len(mailbox.folder("sent")),
        "left_in_inbox_or_processing": len(mailbox.folder("inbox")) + len(mailbox.folder("processing")),
        "wall_s": round(wall_s, 2),
        "seconds_per_item": round(wall_s / emails, 3) if emails else 0.0,
        "processes": processes,
        "audit_log": str(audit_log),
    }


@contextlib.contextmanager
def quiet_prefect_console():
    """Keep Prefect's per-task lines off the terminal (they still reach the run log in Prefect's UI)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


@contextlib.contextmanager
def demo_supervisor(look_every_s: float = 0.5):
    """A supervisor who approves every item that waits for a decision (``clerk review REF --approve``),
    while the intake runs; yields the references approved. A real supervisor reads the question first."""
    from flows.review import answer_review, waiting_reviews

    approved: list[str] = []
    stop = threading.Event()

    def look() -> None:
        while not stop.wait(look_every_s):
            try:
                for waiting in waiting_reviews():
                    if waiting.reference not in approved:
                        answer_review(waiting.reference, {"reviewer": REVIEWER, "decision": "approve"})
                        approved.append(waiting.reference)
            except Exception as exc:  # noqa: BLE001 - the next look tries again; the demo goes on
                logging.getLogger("clerk.demo").info("the demo supervisor will look again: %s", exc)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(look,), name="demo-supervisor",
                              daemon=True)
    thread.start()
    try:
        yield approved
    finally:
        stop.set()
        thread.join()


def _run_with_progress(work, mailbox: LocalMailbox, total: int, console: Console, quiet: bool):
    """Run ``work`` (the intake) in a worker thread, with this thread's Prefect settings, and show progress.

    The browser lives and dies in that worker thread: Playwright's sync API is bound to one thread.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake") as pool:
        future = pool.submit(contextvars.copy_context().run, work)
        if quiet:
            return future.result()
        columns = (TextColumn("[bold]Keying the morning's mail"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("emails", total=total)
            finished = threading.Event()
            future.add_done_callback(lambda _: finished.set())
            while not finished.wait(0.2):
                progress.update(bar, completed=len(mailbox.folder("done")) + len(mailbox.folder("exceptions")))
            progress.update(bar, completed=len(mailbox.folder("done")) + len(mailbox.folder("exceptions")))
        return future.result()


def run_demo(workdir: Path = DEMO_DIR, *, seed: int = 2026, console: Console | None = None,
             quiet: bool = False, error_rate: float = 0.02, blue_badge: int = 10) -> dict:
    from sandbox.morning import mixed_morning

    console = console or Console()
    workdir = workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    # 16 characters: Revenues' password box, like many legacy ones, takes at most 20.
    passwords = {app.name: secrets.token_urlsafe(12) for app in APPLICATIONS}
    with contextlib.ExitStack() as running:
        servers = {app.name: running.enter_context(app.start(workdir / f"{app.name}.db", error_rate, seed,
                                                             passwords[app.name]))
                   for app in APPLICATIONS}
        before = {app.name: app.count(servers[app.name]) for app in APPLICATIONS}
        settings = demo_settings(workdir, servers["casebook"].url,
                                 **{name: server.url for name, server in servers.items() if name != "casebook"})
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        morning = mixed_morning(seed, blue_badge=blue_badge)
        for message in morning.messages:
            mailbox.deliver(message)
        if not quiet:
            console.print(f"Delivered [bold]{len(morning.messages)}[/] emails to {settings.mailbox.root / 'inbox'} "
                          f"({', '.join(f'{morning.count(name)} {name}' for name in dict.fromkeys(morning.process))}); "
                          + ", ".join(f"{app.title} at {servers[app.name].url}" for app in APPLICATIONS)
                          + ". Starting a local Prefect server...")
        with local_prefect_server(DEFAULT_HOME) as api_url:
            from flows.intake import intake

            # The demo signs its audit checkpoints with a key of its own unless CLERK_AUDIT_HMAC_KEY is set.
            audit_key_bytes = audit_key(settings) or secrets.token_hex(32).encode()

            def work():
                services = bootstrap(settings, mailbox=mailbox, secrets=Secrets().with_passwords(**passwords),
                                     audit=AuditTrail(settings.audit.path, key=audit_key_bytes,
                                                      seal_every_events=settings.audit.seal_every_events,
                                                      seal_every_s=settings.audit.seal_every_s))
                with use_services(services), quiet_prefect_console():
                    return intake()

            started = time.perf_counter()
            with demo_supervisor() as approved:
                results = _run_with_progress(work, mailbox, len(morning.messages), console, quiet)
            wall = time.perf_counter() - started
        created = {app.name: app.count(servers[app.name]) - before[app.name] for app in APPLICATIONS}
        summary = summarise(results, mailbox, morning, created, wall, settings.audit.path, approved)
        summary["prefect_api"] = api_url
        verified = verify(settings.audit.path, audit_key_bytes)
        summary["audit_verified"] = verified.ok
        summary["audit_events"] = verified.events
    if not quiet:
        print_summary(summary, settings, console)
    return summary


def _shown(path: Path) -> Path:
    """A path as short as it can be shown: relative to the current directory when under it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def print_summary(summary: dict, settings: Settings, console: Console) -> None:
    table = Table(title="Clerk demo: one morning's mail", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for label, key in (("Emails received", "emails"), ("Processed", "processed"), ("Done", "done"),
                       ("Exceptions", "exceptions"), ("  of which rejected forms or senders", "rejected"),
                       ("  of which system errors", "system_errors"), ("Duplicates recognised", "duplicates_recognised"),
                       ("Approved by the (demo) supervisor", "reviews_approved"), ("Replies sent", "replies_sent"),
                       ("Seconds per item", "seconds_per_item")):
        table.add_row(label, str(summary[key]))
    console.print(table)
    by_process = Table(title="By process")
    for column in ("process", "emails", "done", "exceptions", "keyed", "recognised", "approved"):
        by_process.add_column(column, justify="left" if column == "process" else "right")
    for name, figures in summary["processes"].items():
        by_process.add_row(settings.processes[name].title if name in settings.processes else name,
                           *(str(figures[key]) for key in ("emails", "done", "exceptions", "keyed", "recognised",
                                                           "approved")))
    console.print(by_process)
    root = _shown(settings.mailbox.root)
    applications = "".join(
        f"  {app.title + chr(39) + 's ' + app.records + ':':<22}.venv/bin/clerk sandbox {app.name} --db "
        f"{DEMO_DIR / (app.name + '.db')}  then http://127.0.0.1:{app.port} (clerk-bot / {app.name})\n"
        for app in APPLICATIONS)
    console.print(
        "\n[bold]Where to look next[/]\n"
        f"  Replies to staff:     {root / 'sent'}  (one .eml per reply)\n"
        f"  Done, Exceptions:     {root / 'done'}, {root / 'exceptions'}\n"
        f"  Audit trail:          {_shown(Path(summary['audit_log']))}  (personal data masked; "
        f"{'verified' if summary['audit_verified'] else 'FAILED verification'}: {summary['audit_events']} events, "
        "hash chain and signed checkpoints; check it with `clerk audit verify`)\n"
        f"{applications}"
        "  Prefect's runs:       .venv/bin/clerk ui   then http://127.0.0.1:4200/runs\n"
        "  What each outcome means: runbooks/blue-badge.md, runbooks/council-tax-move.md, "
        "runbooks/supplier-invoice.md",
        soft_wrap=True,
    )
