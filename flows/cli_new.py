"""``clerk new bot APP`` and ``clerk new process NAME --app APP`` (flows/scaffold.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from connectors.errors import ConfigError

new_app = typer.Typer(help="Make a working skeleton (it passes its own tests at once): a bot, or a process.",
                      no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _show(made) -> None:
    for path in made.files:
        console.print(f"  [green]new[/] {path}")
    console.print("Next:")
    for step in made.next_steps:
        console.print(f"  - {step}")


@new_app.command("bot")
def new_bot(app: Annotated[str, typer.Argument(help="The application's name (lower case, _): bots/APP.")],
            title: Annotated[str | None, typer.Option(help="How staff name the application.")] = None,
            port: Annotated[int, typer.Option(help="The stub's default port.")] = 8800) -> None:
    """A bot for a legacy application Clerk has never seen, and a stub of the application for its tests."""
    from flows.scaffold import new_bot as make

    try:
        _show(make(app, port=port, title=title))
    except ConfigError as exc:
        err.print(f"[bold red]clerk:[/] {exc}")
        raise typer.Exit(2) from None


@new_app.command("process")
def new_process(name: Annotated[str, typer.Argument(help="The process's name (lower case, _).")],
                app: Annotated[str, typer.Option("--app", help="The application it keys into (bots/APP).")],
                title: Annotated[str | None, typer.Option(help="How staff name it.")] = None) -> None:
    """A process: its declaration, form, flow, runbook and tests, keying into APP's bot."""
    from flows.scaffold import new_process as make

    try:
        _show(make(name, app, title=title))
    except ConfigError as exc:
        err.print(f"[bold red]clerk:[/] {exc}")
        raise typer.Exit(2) from None
