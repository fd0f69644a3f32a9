"""`clerk record URL --app APP`: record a task in a legacy application and write a page-object skeleton.

Opens the installed Chromium, headed, on URL with Playwright's recorder (``bots/recorder/session.py``). Where
``DISPLAY`` is not set it starts a virtual display (Xvfb) and says so. The person does the task in the
browser and presses Enter in the terminal (Ctrl-C, or closing the browser, also ends it). What was recorded
becomes ``bots/APP/pages/recorded_<n>.py`` (the next free n) or ``--out``: a skeleton to turn into page
objects by hand (runbooks/getting-started.md, "Writing a bot for a new application"). Nothing typed is
written: typed values are method parameters, secrets come from the settings.

Exit status: 0 the skeleton was written; 1 nothing was recorded; 2 bad arguments or settings (no browser,
no display and no Xvfb, the address would not open, ``--out`` exists).

Register with ``app.command("record")(record)`` in flows/cli.py. Playwright is loaded only when it runs.
"""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

import bots
from connectors.errors import ClerkError, ConfigError

_APP_NAME = re.compile(r"[a-z][a-z0-9_]*")


def record(
    url: Annotated[str, typer.Argument(help="The application's address, e.g. http://casebook.council.local/.")],
    app_name: Annotated[str, typer.Option("--app", help="The application's package under bots/ (bots/APP).")],
    out: Annotated[Path | None, typer.Option(
        help="Where to write the skeleton (default: bots/APP/pages/recorded_<n>.py, the next free n).")] = None,
    browser: Annotated[str | None, typer.Option(
        help="Chromium to run (default: $CLERK_BROWSER, else chromium on PATH).")] = None,
) -> None:
    """Record a task in the browser and write a page-object skeleton for bots/APP."""
    out_console, err = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)
    if not _APP_NAME.fullmatch(app_name):
        raise typer.BadParameter("a Python package name: lower case letters, digits and _", param_hint="--app")
    address = urlsplit(url)
    if address.scheme not in {"http", "https"} or not address.netloc:
        raise typer.BadParameter("an http:// or https:// address", param_hint="URL")
    pages = Path(bots.__file__).resolve().parent / app_name / "pages"
    target = out or _next_free(pages)
    if target.exists():
        err.print(f"[bold red]clerk:[/] {escape(str(target))} exists: choose another --out")
        raise typer.Exit(2)

    from bots.recorder.session import RecorderSettings, RecordingSession
    from bots.recorder.session import record as record_session
    from bots.recorder.skeleton import skeleton

    def ready(session: RecordingSession) -> None:
        display = session.display
        out_console.print(f"Recording {escape(url)} in Chromium ({escape(session.executable)}) "
                          f"on display {display.name if display else '?'}.")
        if display is not None and display.virtual:
            out_console.print(
                f"[yellow]DISPLAY is not set here[/], so Chromium runs on a virtual display (Xvfb) {display.name}: "
                f"nobody sees it unless a viewer connects to it (e.g. `x11vnc -display {display.name}` and a VNC "
                "client). To record by hand, run clerk record in a desktop session or over `ssh -X`, where "
                "DISPLAY is set.")
        out_console.print("Do the task in the browser. Press [bold]Enter[/] here when done "
                          "(Ctrl-C, or closing the browser, also ends the recording).")

    def recorded(action) -> None:
        out_console.print(f"  {escape(action.describe())}")

    try:
        actions = _run_to_end(lambda: record_session(url, RecorderSettings(executable=browser), on_ready=ready,
                                                      on_action=recorded))
    except ClerkError as exc:
        err.print(f"[bold red]clerk:[/] {escape(str(exc))}")
        raise typer.Exit(2 if isinstance(exc, ConfigError) else 1) from None
    if not any(action.kind != "open" for action in actions):
        err.print("Nothing was recorded: no file written.")
        raise typer.Exit(1)
    result = skeleton(actions, app=app_name, url=url, recorded_on=date.today().isoformat())
    _write(target, result.source, package=pages if out is None else None)
    out_console.print(f"Wrote {escape(str(target))}: {len(result.classes)} screens ({', '.join(result.classes)}), "
                      f"{result.methods} methods.")
    out_console.print('Next: turn it into page objects (runbooks/getting-started.md, "Writing a bot for a new '
                      'application").')


def _run_to_end(coroutine):
    """Run the recording to its end: in this thread, or in one of its own where a loop already runs here
    (a notebook, or a host that left one running), since asyncio.run refuses to nest."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine())
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine())
        except BaseException as exc:  # handed back to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="clerk-record")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _next_free(pages: Path) -> Path:
    number = 1
    while (pages / f"recorded_{number}.py").exists():
        number += 1
    return pages / f"recorded_{number}.py"


def _write(target: Path, source: str, *, package: Path | None) -> None:
    """Write the skeleton; in bots/APP/pages, make bots/APP and its pages/ packages if they are new."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if package is not None:
        app = package.parent.name
        for folder, what in ((package.parent, "The bot"), (package, "Page objects, one class per screen,")):
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text(f'"""{what} for {app} (started with `clerk record`)."""\n', encoding="utf-8")
    target.write_text(source, encoding="utf-8")
