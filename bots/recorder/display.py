"""An X display for a headed browser: the one ``$DISPLAY`` names, else a virtual one (Xvfb) for the session.

Xvfb picks a free display number itself and writes it to a pipe once it accepts connections
(``-displayfd``), so nothing is guessed and nothing polls. It listens on a local socket only (no TCP).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from connectors.errors import ConfigError

DISPLAY_ENV = "DISPLAY"
_INSTALL_HINT = "Install Debian's xvfb (`make xvfb`, or `sudo apt-get install xvfb`) or run where DISPLAY is set."


@dataclass(frozen=True)
class Display:
    name: str  # ":0", ":99"
    virtual: bool  # started here (Xvfb), so nobody sees it unless they connect a viewer to it
    pid: int | None = None  # the Xvfb process, when virtual


@dataclass(frozen=True)
class DisplaySettings:
    screen: str = "1280x1024x24"  # Xvfb's screen: width x height x depth
    start_timeout_s: float = 30.0  # for Xvfb to accept connections


@contextmanager
def display_for_browser(settings: DisplaySettings | None = None) -> Iterator[Display]:
    """``$DISPLAY`` when set; otherwise an Xvfb started now and stopped when the block ends."""
    current = os.environ.get(DISPLAY_ENV, "").strip()
    if current:
        yield Display(current, virtual=False)
        return
    with virtual_display(settings or DisplaySettings()) as display:
        yield display


@contextmanager
def virtual_display(settings: DisplaySettings) -> Iterator[Display]:
    """An Xvfb on a free display number, stopped (and waited for) when the block ends."""
    executable = shutil.which("Xvfb")
    if executable is None:
        raise ConfigError(f"There is no display (DISPLAY is not set) and Xvfb is not installed. {_INSTALL_HINT}",
                          key=DISPLAY_ENV)
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [executable, "-displayfd", str(write_end), "-screen", "0", settings.screen, "-nolisten", "tcp"],
            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    try:
        number = _read_display_number(read_end, process, settings.start_timeout_s)
        yield Display(f":{number}", virtual=True, pid=process.pid)
    finally:
        os.close(read_end)
        process.terminate()
        try:
            process.wait(timeout=settings.start_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _read_display_number(fd: int, process: subprocess.Popen, timeout_s: float) -> int:
    """The number Xvfb writes (then a newline) once it is ready; ConfigError if it exits or stays silent."""
    received = b""
    while not received.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout_s)
        chunk = os.read(fd, 32) if ready else b""
        if not chunk:  # Xvfb exited (the pipe closed) or said nothing in time
            process.terminate()
            _, errors = process.communicate()
            detail = (errors or b"").decode(errors="replace").strip().splitlines()
            why = detail[-1] if detail else f"no display number within {timeout_s:g} s"
            raise ConfigError(f"Xvfb would not start: {why}", key=DISPLAY_ENV)
        received += chunk
    return int(received.strip())
