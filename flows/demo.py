"""`clerk demo`: a morning's Blue Badge mail, end to end, on embedded defaults.

Generates a realistic batch, starts the Casebook sandbox and a local Prefect server, runs the mail
intake, shows progress, and prints what happened and where to look next.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bots.casebook.application import CasebookSettings
from connectors.audit import AuditTrail
from connectors.audit_verify import verify
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
from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.mailgen import demo_batch

DEMO_DIR = Path(".clerk/demo")
DUPLICATE_OUTCOMES = ("already_keyed", "existing_application", "duplicate_delivery")


def demo_settings(workdir: Path, casebook_url: str) -> Settings:
    return Settings(
        mailbox=MailboxSettings(root=workdir / "mailbox"),
        ledger=LedgerSettings(path=workdir / "ledger.db"),
        audit=AuditSettings(path=workdir / "audit" / "audit.jsonl"),
        browser=BrowserOptions(screenshots_dir=workdir / "screenshots"),
        casebook=CasebookSettings(url=casebook_url, retry_delay_s=0.5),
        source="embedded defaults (demo)",
    )


def summarise(results, mailbox: LocalMailbox, cases_created: int, emails: int, wall_s: float,
              audit_log: Path) -> dict:
    outcomes = [result.outcome for result in results]
    return {
        "emails": emails,
        "processed": len(results),
        "done": len(mailbox.folder("done")),
        "exceptions": len(mailbox.folder("exceptions")),
        "rejected": outcomes.count("rejected"),
        "system_errors": outcomes.count("system_error"),
        "cases_created": cases_created,
        "duplicates_recognised": sum(outcomes.count(name) for name in DUPLICATE_OUTCOMES),
        "replies_sent": len(mailbox.folder("sent")),
        "left_in_inbox_or_processing": len(mailbox.folder("inbox")) + len(mailbox.folder("processing")),
        "wall_s": round(wall_s, 2),
        "seconds_per_item": round(wall_s / emails, 3) if emails else 0.0,
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


def _run_with_progress(work, mailbox: LocalMailbox, total: int, console: Console, quiet: bool):
    """Run ``work`` (the intake) in a worker thread, with this thread's Prefect settings, and show progress.

    The browser lives and dies in that worker thread: Playwright's sync API is bound to one thread.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake") as pool:
        future = pool.submit(contextvars.copy_context().run, work)
        if quiet:
            return future.result()
        columns = (TextColumn("[bold]Keying Blue Badge mail"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("emails", total=total)
            finished = threading.Event()
            future.add_done_callback(lambda _: finished.set())
            while not finished.wait(0.2):
                progress.update(bar, completed=len(mailbox.folder("done")) + len(mailbox.folder("exceptions")))
            progress.update(bar, completed=len(mailbox.folder("done")) + len(mailbox.folder("exceptions")))
        return future.result()


def run_demo(workdir: Path = DEMO_DIR, *, seed: int = 2026, console: Console | None = None,
             quiet: bool = False, error_rate: float = 0.02) -> dict:
    console = console or Console()
    workdir = workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    password = secrets.token_urlsafe(16)
    sandbox_config = CasebookConfig(error_rate=error_rate, seed=seed)
    with CasebookServer(workdir / "casebook.db", sandbox_config, users={"clerk-bot": password}) as casebook:
        settings = demo_settings(workdir, casebook.url)
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        batch = demo_batch(seed)
        for message in batch.messages:
            mailbox.deliver(message)
        if not quiet:
            console.print(f"Delivered [bold]{len(batch.messages)}[/] emails to {settings.mailbox.root / 'inbox'}; "
                          f"Casebook sandbox at {casebook.url}. Starting a local Prefect server...")
        with local_prefect_server(DEFAULT_HOME) as api_url:
            from flows.intake import intake

            # The demo signs its audit checkpoints with a key of its own unless CLERK_AUDIT_HMAC_KEY is set.
            audit_key_bytes = audit_key(settings) or secrets.token_hex(32).encode()

            def work():
                services = bootstrap(settings, mailbox=mailbox, secrets=Secrets(casebook_password=password),
                                     audit=AuditTrail(settings.audit.path, key=audit_key_bytes,
                                                      seal_every_events=settings.audit.seal_every_events,
                                                      seal_every_s=settings.audit.seal_every_s))
                with use_services(services), quiet_prefect_console():
                    return intake()

            started = time.perf_counter()
            results = _run_with_progress(work, mailbox, len(batch.messages), console, quiet)
            wall = time.perf_counter() - started
        summary = summarise(results, mailbox, len(casebook.cases()), len(batch.messages), wall,
                            settings.audit.path)
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
    table = Table(title="Clerk demo: Blue Badge applications", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for label, key in (("Emails received", "emails"), ("Processed", "processed"), ("Done", "done"), ("Exceptions", "exceptions"),
                       ("  of which rejected forms or senders", "rejected"), ("  of which system errors", "system_errors"),
                       ("Casebook cases created", "cases_created"), ("Duplicates recognised", "duplicates_recognised"),
                       ("Replies sent", "replies_sent"), ("Seconds per item", "seconds_per_item")):
        table.add_row(label, str(summary[key]))
    console.print(table)
    root = _shown(settings.mailbox.root)
    console.print(
        "\n[bold]Where to look next[/]\n"
        f"  Replies to staff:   {root / 'sent'}  (one .eml per reply)\n"
        f"  Done, Exceptions:   {root / 'done'}, {root / 'exceptions'}\n"
        f"  Audit trail:        {_shown(Path(summary['audit_log']))}  (personal data masked; "
        f"{'verified' if summary['audit_verified'] else 'FAILED verification'}: {summary['audit_events']} events, "
        "hash chain and signed checkpoints; check it with `clerk audit verify`)\n"
        f"  Casebook's cases:   .venv/bin/clerk sandbox casebook --db {DEMO_DIR / 'casebook.db'}\n"
        "                      then http://127.0.0.1:8765 (clerk-bot / casebook)\n"
        "  Prefect's runs:     .venv/bin/clerk ui   then http://127.0.0.1:4200/runs\n"
        "  What each outcome means: runbooks/blue-badge.md",
        soft_wrap=True,
    )
