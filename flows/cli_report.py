"""`clerk report`: the supervisors' report from the audit trail, in the terminal and as an HTML file to email.

Register with ``app.command("report")(report)`` in flows/cli.py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from connectors.errors import ClerkError, ConfigError
from connectors.settings import CONFIG_ENV, load_settings
from flows.report import build_report, read_events, render_html, render_text

_DAY = ["%Y-%m-%d"]


def report(
    start: Annotated[datetime, typer.Option("--from", formats=_DAY, help="First day emails were received (YYYY-MM-DD).")],
    end: Annotated[datetime, typer.Option("--to", formats=_DAY, help="Last day emails were received, included.")],
    process: Annotated[str | None, typer.Option(help="Only this process (as named in the settings).")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write the report to this self-contained HTML file.")] = None,
    audit: Annotated[Path | None, typer.Option(help="Audit trail folder, or a file in it (default: the trail the "
                                                    "settings name: audit.path, or PostgreSQL).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help=f"YAML settings file (default: ${CONFIG_ENV}).")] = None,
) -> None:
    """What Clerk did in a period: received, done, refused, waiting, time to reply, SLA, hours freed."""
    out, err = Console(), Console(stderr=True)
    if end < start:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    try:
        settings = load_settings(config)
        if process is not None and process not in settings.processes:
            raise ConfigError(f"no process named {process!r}; configured: {', '.join(settings.processes)}",
                              file=settings.source, key="processes")
        result = build_report(read_events(audit or settings), start=start.date(), end=end.date(), process=process,
                              settings=settings)
    except ClerkError as exc:
        err.print(f"[bold red]clerk:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2 if isinstance(exc, ConfigError) else 1) from None
    out.file.write(render_text(result, width=out.width, color=out.is_terminal))
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(result), encoding="utf-8")
        out.print(f"HTML report written to {html}", highlight=False, soft_wrap=True)
