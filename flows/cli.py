"""The `clerk` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from connectors.errors import ClerkError, ConfigError
from connectors.settings import CONFIG_ENV, load_settings
from flows.cli_audit import audit_app
from flows.cli_new import new_app
from flows.cli_record import record
from flows.cli_report import report
from flows.prefect_server import DEFAULT_HOME

app = typer.Typer(help="Clerk: emailed forms keyed into legacy council applications, audited.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
run_app = typer.Typer(help="Run one pass of a flow against the configured systems.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Serve the simulated legacy applications.", no_args_is_help=True)
server_app = typer.Typer(help="One long-lived local Prefect server that every clerk command on this host uses.",
                         no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(server_app, name="server")
app.add_typer(audit_app, name="audit", help="Check the tamper-evident audit trail.")
app.add_typer(new_app, name="new")
app.command("report")(report)
app.command("record")(record)

console = Console()
err = Console(stderr=True)
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help=f"YAML settings file (default: ${CONFIG_ENV}).")]
HomeOption = Annotated[Path, typer.Option(help="Prefect's home: its database, the server's log and server.json.")]


def _fail(error: ClerkError) -> None:
    err.print(f"[bold red]clerk:[/] {error}")
    raise typer.Exit(2 if isinstance(error, ConfigError) else 1)


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on the last line.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the generated batch.")] = 2026,
    error_rate: Annotated[float, typer.Option(help="The sandbox applications' 'System busy' rate.")] = 0.02,
    blue_badge: Annotated[int, typer.Option(help="Valid Blue Badge applications in the morning's mail.")] = 10,
) -> None:
    """Key one mixed morning's mail (Blue Badge, Council Tax moves, supplier invoices) into the three sandbox
    applications, end to end."""
    from flows.demo import run_demo

    try:
        summary = run_demo(seed=seed, quiet=as_json, error_rate=error_rate, blue_badge=blue_badge)
    except ClerkError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(summary))
    if summary["left_in_inbox_or_processing"] or summary["done"] + summary["exceptions"] != summary["emails"]:
        err.print("[bold red]Some emails did not end in done or exceptions.[/]")
        raise typer.Exit(1)


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the settings file, every declared process (its flow, form and bot), and print where each
    adapter points."""
    from connectors.documents.forms import load_forms
    from flows.registry import check_processes

    try:
        settings = load_settings(config)
        forms = load_forms(settings.documents.forms_dir)
        enabled = check_processes(settings)
    except ConfigError as exc:
        _fail(exc)
    console.print(f"[green]OK[/] settings from {settings.source}")
    console.print(f"  forms: {', '.join(forms) or 'none'} (from {settings.documents.forms_dir})")
    mailbox = settings.mailbox
    where = {"local": lambda: str(mailbox.root), "ews": lambda: mailbox.ews.url,
             "graph": lambda: mailbox.graph.graph_url}[mailbox.kind]()
    console.print(f"  mailbox: {mailbox.address} ({mailbox.kind}) at {where}")
    for name, application in settings.applications.items():
        console.print(f"  {name}: {application.url} as {application.username}")
    for name in enabled:
        process = settings.processes[name]
        console.print(f"  process {name}: {process.title} ({process.form} form, into {process.application}; "
                      f"flow {process.flow})")


@run_app.command("intake")
def run_intake(config: ConfigOption = None,
               limit: Annotated[int | None, typer.Option(help="At most this many emails.")] = None,
               process: Annotated[str | None, typer.Option(
                   help="Only this process's emails (e.g. blue_badge); the rest wait for a full pass.")] = None,
               ) -> None:
    """One pass over the configured mailbox: claim, route, key, reply."""
    from flows.bootstrap import bootstrap, use_services
    from flows.intake import intake
    from flows.prefect_server import local_prefect_server

    try:
        settings = load_settings(config)
        enabled = [name for name, declared in settings.processes.items() if declared.enabled]
        if process is not None and process not in enabled:
            raise typer.BadParameter(f"no enabled process {process!r}; the enabled ones: {', '.join(enabled) or 'none'}",
                                     param_hint="--process")
        with local_prefect_server(), use_services(bootstrap(settings)):
            results = intake(limit=limit, process=process)
    except ClerkError as exc:
        _fail(exc)
    done = sum(1 for result in results if result.folder == "done")
    console.print(f"{len(results)} emails: {done} done, {len(results) - done} in exceptions")


@app.command()
def watch(config: ConfigOption = None) -> None:
    """Watch the mailbox and run the intake within seconds of each email (Ctrl-C stops it)."""
    import signal
    import threading

    from flows.bootstrap import bootstrap, use_services
    from flows.intake import intake
    from flows.prefect_server import local_prefect_server
    from flows.watch import watch_mailbox

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        settings = load_settings(config)
        with local_prefect_server(), use_services(bootstrap(settings)) as services:
            console.print(f"Watching {settings.mailbox.address} ({settings.mailbox.kind}); Ctrl-C stops")
            passes = watch_mailbox(services, stop, intake)
    except ClerkError as exc:
        _fail(exc)
    console.print(f"stopped after {passes} intake pass{'es' if passes != 1 else ''}")


def _services(config: Path | None):
    from flows.bootstrap import bootstrap

    return bootstrap(load_settings(config))


@app.command()
def exceptions(config: ConfigOption = None) -> None:
    """List the emails parked in Exceptions, with their code and the runbook section that explains it."""
    from rich.table import Table

    from flows.operations import parked_items

    try:
        services = _services(config)
        parked = parked_items(services)
    except ClerkError as exc:
        _fail(exc)
    table = Table(title=f"{len(parked)} item{'s' if len(parked) != 1 else ''} in Exceptions")
    for column in ("reference", "received", "process", "code", "kind", "what to do"):
        table.add_column(column)
    for item in parked:
        table.add_row(item.reference, item.email.received.strftime("%Y-%m-%d %H:%M"),
                      item.item.process if item.item else "-", item.code,
                      "system (retry when fixed)" if item.system_fault else "business (sender told)",
                      item.runbook or "-")
    console.print(table)


@app.command()
def retry(reference: Annotated[str, typer.Argument(help="The Clerk reference (CLK-...).")],
          config: ConfigOption = None,
          by: Annotated[str, typer.Option(help="Who re-queued it (for the audit trail).")] = os.environ.get(
              "USER", "supervisor"),
          force: Annotated[bool, typer.Option(help="Re-queue a business rejection too.")] = False) -> None:
    """Re-queue a parked item once its fault is fixed; the next intake pass keys it (never twice)."""
    from flows.operations import retry as requeue

    try:
        parked = requeue(_services(config), reference, by, force=force)
    except ClerkError as exc:
        _fail(exc)
    console.print(f"{parked.reference} ({parked.code}) is back in the inbox; the next intake pass takes it.")


@app.command()
def status(reference: Annotated[str, typer.Argument(help="The Clerk reference (CLK-...).")],
           config: ConfigOption = None) -> None:
    """An item's state, the ledger's record of every change, and its whole history from the audit trail."""
    from rich.table import Table

    from flows.operations import history

    try:
        found = history(_services(config), reference)
    except ClerkError as exc:
        _fail(exc)
    item, events = found.item, found.events
    if item is None and not events:
        err.print(f"[bold red]clerk:[/] no item {reference.upper()} in the ledger or the audit trail")
        raise typer.Exit(1)
    if item:
        console.print(f"{item.reference}: {item.state} ({item.process}), outcome {item.outcome or '-'}, "
                      f"code {item.reason_code or '-'}, case {item.case_reference or '-'}, attempts {item.attempts}, "
                      f"held by {item.owner or 'nobody'}")
    if found.changes:
        ledger = Table(title="ledger")
        for column in ("time", "change", "state", "worker", "claim", "details"):
            ledger.add_column(column)
        for change in found.changes:
            ledger.add_row(str(change["at"])[:19], change["change"], change["state"] or "", change["owner"] or "",
                           str(change["fence"] or ""), change["detail"] or "")
        console.print(ledger)
    table = Table(title="history")
    for column in ("seq", "time", "step", "outcome", "actor", "details"):
        table.add_column(column)
    shown = {"seq", "time", "step", "outcome", "actor", "reference", "prev", "run", "item", "process"}
    for event in events:
        details = ", ".join(f"{k}={v}" for k, v in event.items() if k not in shown and v is not None)
        table.add_row(str(event.get("seq")), str(event.get("time", ""))[:19], event.get("step", ""),
                      str(event.get("outcome", "")), str(event.get("actor", "")), details)
    console.print(table)


@app.command()
def review(
    reference: Annotated[str | None, typer.Argument(help="Answer this item (CLK-...); without it, list them.")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Key it as read.")] = False,
    correct: Annotated[list[str] | None, typer.Option("--correct", help="field=value; repeatable.")] = None,
    reject: Annotated[str | None, typer.Option("--reject", help="Reason, sent to the sender.")] = None,
    by: Annotated[str, typer.Option(help="Your name, for the audit trail.")] = os.environ.get("USER", ""),
) -> None:
    """List the items waiting for a supervisor, or answer one (Prefect's UI offers the same form)."""
    from flows.prefect_server import local_prefect_server

    try:
        with local_prefect_server():
            _review(reference, approve, correct, reject, by)
    except ClerkError as exc:
        _fail(exc)


def _review(reference, approve, correct, reject, by) -> None:
    from pydantic import ValidationError
    from rich.table import Table

    from flows.review import answer_review, waiting_reviews

    if reference is None:
        waiting = waiting_reviews()
        table = Table(title=f"{len(waiting)} item{'s' if len(waiting) != 1 else ''} waiting for a decision")
        for column in ("reference", "waiting since (UTC)", "run", "question"):
            table.add_column(column)
        for item in waiting:
            table.add_row(item.reference, item.since, item.flow_run_name, item.question)
        console.print(table)
        return
    chosen = [name for name, given in (("approve", approve), ("correct", correct), ("reject", reject)) if given]
    if len(chosen) != 1:
        err.print("[bold red]clerk:[/] give exactly one of --approve, --correct field=value, --reject REASON")
        raise typer.Exit(2)
    decision = {"reviewer": by, "decision": chosen[0]}
    if correct:
        decision["corrections"] = dict(pair.split("=", 1) for pair in correct if "=" in pair)
    if reject:
        decision["reason"] = reject
    try:
        answered = answer_review(reference, decision)
    except ValidationError as exc:
        err.print(f"[bold red]clerk:[/] {exc.errors()[0]['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None
    except LookupError as exc:
        err.print(f"[bold red]clerk:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"{answered.reference}: {chosen[0]} sent to run {answered.flow_run_name}")


@sandbox_app.command("casebook")
def sandbox_casebook(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    db: Annotated[Path, typer.Option(help="SQLite file for the cases.")] = Path(".clerk/casebook.db"),
) -> None:
    """Serve the Casebook sandbox on 127.0.0.1 (fault knobs: CASEBOOK_* environment variables)."""
    _serve_sandbox("casebook", port, db)


def _serve_sandbox(app: str, port: int, db: Path) -> None:
    """Serve ``sandbox.<app>`` on 127.0.0.1 with its settings from the environment (a bad knob exits 2)."""
    import importlib

    package = importlib.import_module(f"sandbox.{app}")
    name = app.capitalize()
    try:
        config = getattr(package, f"{name}Config").from_env()
    except ValueError as exc:
        err.print(f"[bold red]clerk:[/] {exc}")
        raise typer.Exit(2) from None
    db.parent.mkdir(parents=True, exist_ok=True)
    password = getattr(package, f"{name}Server").default_users["clerk-bot"]
    console.print(f"{name} sandbox on http://127.0.0.1:{port} (user clerk-bot, password {password}); "
                  "Ctrl-C stops it")
    package.serve("127.0.0.1", port, db, config)


@sandbox_app.command("revenues")
def sandbox_revenues(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8766,
    db: Annotated[Path, typer.Option(help="SQLite file for the accounts (seeded when new).")] = Path(".clerk/revenues.db"),
) -> None:
    """Serve the Revenues (Council Tax) sandbox on 127.0.0.1 (fault knobs: REVENUES_* environment variables)."""
    _serve_sandbox("revenues", port, db)


@sandbox_app.command("finance")
def sandbox_finance(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8767,
    db: Annotated[Path, typer.Option(help="SQLite file for the ledger (seeded when new).")] = Path(".clerk/finance.db"),
) -> None:
    """Serve the Finance (purchase ledger) sandbox on 127.0.0.1 (fault knobs: FINANCE_* environment variables)."""
    _serve_sandbox("finance", port, db)


@server_app.command("start")
def server_start(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (the API and the UI).")] = 4200,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Start a local Prefect server that keeps running; clerk commands on this host attach to it."""
    from flows.prefect_server import TIMEOUT_ENV, running_server, start_server, start_timeout_s

    try:
        timeout_s = start_timeout_s()
        record = running_server(home)
        if record is None:
            console.print(f"Starting a Prefect server on 127.0.0.1:{port}; waiting up to {timeout_s:g} s ({TIMEOUT_ENV})")
            record, _ = start_server(home, port, timeout_s)
    except ClerkError as exc:
        _fail(exc)
    console.print(f"Prefect server pid {record.pid} at {record.ui_url} (log {record.log}); stop it with "
                  f"`clerk server stop`.")
    if home.resolve() == DEFAULT_HOME.resolve():
        console.print("clerk commands run from this directory attach to it.")
    console.print(f"Anything else on this host (a worker, `prefect deploy`): PREFECT_API_URL={record.api_url}")


@server_app.command("stop")
def server_stop(home: HomeOption = DEFAULT_HOME) -> None:
    """Stop the long-lived local Prefect server."""
    from flows.prefect_server import stop_server

    record = stop_server(home)
    console.print(f"Stopped the Prefect server pid {record.pid} ({record.ui_url})" if record
                  else "No Clerk Prefect server is running for this home.")


@server_app.command("status")
def server_status(home: HomeOption = DEFAULT_HOME) -> None:
    """Is the long-lived local Prefect server running and answering? Exit status 1 when it is not."""
    from flows.prefect_server import answers, running_server

    record = running_server(home)
    if record is None:
        console.print("No Clerk Prefect server is running for this home; commands start their own.")
        raise typer.Exit(1)
    answering = answers(record.api_url)
    console.print(f"Prefect server pid {record.pid} at {record.ui_url}, started {record.started}: "
                  f"{'answering' if answering else 'NOT answering'} (log {record.log})")
    if not answering:
        raise typer.Exit(1)


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 4200) -> None:
    """Open Prefect's UI on the runs of `clerk demo` and `clerk run` (local server, Ctrl-C stops it)."""
    from flows.prefect_server import DEFAULT_HOME, prefect_cli, running_server

    shared = running_server(DEFAULT_HOME)
    if shared:
        console.print(f"Prefect UI: {shared.ui_url}/runs (the server `clerk server start` runs)")
        return
    env = {**os.environ, "PREFECT_HOME": str(DEFAULT_HOME.resolve()), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    console.print(f"Prefect UI: http://127.0.0.1:{port}/runs")
    os.execve(prefect_cli()[0], [*prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
