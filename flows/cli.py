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

app = typer.Typer(help="Clerk: emailed forms keyed into legacy council applications, audited.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
run_app = typer.Typer(help="Run one pass of a flow against the configured systems.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Serve the simulated legacy applications.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(sandbox_app, name="sandbox")

console = Console()
err = Console(stderr=True)
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help=f"YAML settings file (default: ${CONFIG_ENV}).")]


def _fail(error: ClerkError) -> None:
    err.print(f"[bold red]clerk:[/] {error}")
    raise typer.Exit(2 if isinstance(error, ConfigError) else 1)


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on the last line.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the generated batch.")] = 2026,
    error_rate: Annotated[float, typer.Option(help="Casebook's 'System busy' rate.")] = 0.02,
) -> None:
    """Key a realistic batch of Blue Badge emails into the Casebook sandbox, end to end."""
    from flows.demo import run_demo

    try:
        summary = run_demo(seed=seed, quiet=as_json, error_rate=error_rate)
    except ClerkError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(summary))
    if summary["left_in_inbox_or_processing"] or summary["done"] + summary["exceptions"] != summary["emails"]:
        err.print("[bold red]Some emails did not end in done or exceptions.[/]")
        raise typer.Exit(1)


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the settings file and print where each adapter points."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _fail(exc)
    console.print(f"[green]OK[/] settings from {settings.source}")
    console.print(f"  mailbox: {settings.mailbox.kind} at {settings.mailbox.root}")
    console.print(f"  casebook: {settings.casebook.url} as {settings.casebook.username}")
    console.print(f"  processes: {', '.join(name for name, p in settings.processes.items() if p.enabled)}")


@run_app.command("intake")
def run_intake(config: ConfigOption = None,
               limit: Annotated[int | None, typer.Option(help="At most this many emails.")] = None) -> None:
    """One pass over the configured mailbox: claim, route, key, reply."""
    from flows.bootstrap import bootstrap, use_services
    from flows.intake import intake
    from flows.prefect_server import local_prefect_server

    try:
        settings = load_settings(config)
        with local_prefect_server(), use_services(bootstrap(settings)):
            results = intake(limit=limit)
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


@sandbox_app.command("casebook")
def sandbox_casebook(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    db: Annotated[Path, typer.Option(help="SQLite file for the cases.")] = Path(".clerk/casebook.db"),
) -> None:
    """Serve the Casebook sandbox on 127.0.0.1 (fault knobs: CASEBOOK_* environment variables)."""
    from sandbox.casebook import CasebookConfig, serve

    try:
        config = CasebookConfig.from_env()
    except ValueError as exc:
        err.print(f"[bold red]clerk:[/] {exc}")
        raise typer.Exit(2) from None
    db.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"Casebook sandbox on http://127.0.0.1:{port} (user clerk-bot, password casebook); Ctrl-C stops it")
    serve("127.0.0.1", port, db, config)


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 4200) -> None:
    """Open Prefect's UI on the runs of `clerk demo` and `clerk run` (local server, Ctrl-C stops it)."""
    from flows.prefect_server import DEFAULT_HOME, _prefect_cli

    env = {**os.environ, "PREFECT_HOME": str(DEFAULT_HOME.resolve()), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    console.print(f"Prefect UI: http://127.0.0.1:{port}/runs")
    os.execve(_prefect_cli()[0], [*_prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
