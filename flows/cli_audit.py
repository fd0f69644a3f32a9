"""`clerk audit ...`: commands for supervisors and auditors on the tamper-evident audit trail.

``clerk audit verify [PATH]`` walks the hash chain through every file of the trail (or, without PATH, through the
trail the settings name: its file, or its tables in PostgreSQL) and checks it against the signed, numbered
checkpoints and the seal record (runbooks/audit.md); ``--against-prefect`` also holds it against the checkpoint
the last intake pass published to Prefect. Exit status: 0 verified; 1 the trail fails
(the first line that fails is named as file:line, or as a row's seq), or it only has warnings and ``--strict`` was given;
2 bad settings, or Prefect could not be asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors import audit_store
from connectors.audit_chain import HMAC_KEY_ENV, hmac_keys_from_environment
from connectors.audit_seal import SealPolicy
from connectors.audit_verify import VerifyReport, verify
from connectors.errors import ClerkError
from connectors.settings import CONFIG_ENV, load_settings
from flows.audit_anchor import ARTIFACT_KEY, latest_published_checkpoint
from flows.bootstrap import audit_key
from flows.prefect_server import PrefectUnavailable

audit_app = typer.Typer(no_args_is_help=True, add_completion=False)


@audit_app.callback()
def audit() -> None:
    """Check the tamper-evident audit trail."""


@audit_app.command("verify")
def verify_command(
    path: Annotated[Path | None, typer.Argument(
        help="An audit file, or its directory (default: the trail the settings name: audit.path, or its "
             "tables in PostgreSQL with audit.kind: postgres).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help=f"YAML settings file (default: ${CONFIG_ENV}).")] = None,
    strict: Annotated[bool, typer.Option(
        help="Also fail on warnings: checkpoints not authenticated (no key), an unsealed tail (a crash, or a "
             "writer still at work), a seal behind its checkpoints.")] = False,
    against_prefect: Annotated[bool, typer.Option(
        "--against-prefect", help=f"Also check the checkpoint the last intake pass published to Prefect "
                                  f"(artifact {ARTIFACT_KEY}): catches the whole audit folder put back to an "
                                  "older copy.")] = False,
) -> None:
    """Prove the audit trail has not been edited: every line chained, every checkpoint matched and signed."""
    out = Console(soft_wrap=True)
    try:
        settings = load_settings(config)
        key, previous = audit_key(settings), hmac_keys_from_environment()[1]
        anchor = latest_published_checkpoint() if against_prefect else None
        if against_prefect and anchor is None:
            raise PrefectUnavailable(f"Prefect holds no {ARTIFACT_KEY} artifact: no intake pass has published one")
        if path is None:
            report = audit_store.verify(settings, key, previous_keys=previous, anchor=anchor)
        else:
            policy = SealPolicy(settings.audit.seal_every_events, settings.audit.seal_every_s)
            report = verify(path, key, previous_keys=previous, policy=policy, anchor=anchor)
    except ClerkError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]clerk:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    out.print(_summary(report, key is not None))
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    if report.failure:
        out.print(f"[bold red]FAILED at {escape(report.failure.where)}[/]: {escape(report.failure.reason)}")
        out.print("See runbooks/audit.md, 'When verify fails'.")
        raise typer.Exit(1)
    if strict and report.warnings:
        out.print("[bold red]FAILED[/] (--strict): warnings count as failures")
        raise typer.Exit(1)
    out.print(f"[bold green]VERIFIED[/] {report.events} events, seq 1..{report.last_seq}")


def _summary(report: VerifyReport, keyed: bool) -> Table:
    table = Table(title="Audit trail", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("trail", escape(str(report.path)))
    parts = "files" if all(isinstance(part, Path) for part in report.files) else "tables"
    table.add_row(parts, escape(", ".join(part.name for part in report.files)) or "(none)")
    table.add_row("events checked", str(report.events))
    authenticated = f"{report.checkpoints_authenticated} authenticated" if keyed else f"not authenticated: ${HMAC_KEY_ENV} unset"
    table.add_row("checkpoints", f"{report.checkpoints_checked} ({authenticated})")
    table.add_row("last checkpoint", f"counter {report.last_counter}" if report.last_counter else "none")
    if report.ok:
        table.add_row("after last checkpoint", f"{report.events_after_last_checkpoint} events (not sealed yet)")
    table.add_row("result", "[green]verified[/]" if report.ok else "[red]failed[/]")
    return table
