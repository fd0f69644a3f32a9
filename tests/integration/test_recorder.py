"""`clerk record` for real: Debian's Chromium, headed, on a virtual X display (Xvfb), recording Casebook.

No display is set for these tests, so the recorder starts its own Xvfb, exactly as on a server. The person
is played by the test: a second Playwright connection drives the headed browser over the DevTools
protocol, so the recorder sees real input events in the page, as from a person at the keyboard. Nothing
here waits on time: each step waits for the screen it leads to, or for the recorder to report the action.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import expect, sync_playwright

from bots.recorder.display import DisplaySettings, display_for_browser, virtual_display
from bots.recorder.session import RecordingSession
from bots.recorder.skeleton import skeleton
from bots.runtime import BrowserRuntime, find_browser
from connectors.errors import ConfigError
from sandbox.casebook import CasebookConfig, CasebookServer
from tests.unit.test_recorder_skeleton import JOURNEY_SCREENS, methods_of, ruff_check

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
USER = "recorder-test"
PASSWORD = "Tr0ub4dor&3-horse"
WAIT_MS = 15_000  # for the recorder to report an action
T = TypeVar("T")


@pytest.fixture
def casebook_for_recording(tmp_path):
    config = CasebookConfig(popup=True, postcode_delay_ms=0, seed=20261203)
    with CasebookServer(tmp_path / "casebook.db", config, users={USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def in_own_thread(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread of its own: the session's ``browser_runtime`` holds Playwright's sync API (and its
    event loop) in this one, and a second Playwright (sync or asyncio) cannot start beside it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def read_until(process: subprocess.Popen, text: str, seen: list[str]) -> None:
    """Read the command's output line by line until one contains ``text``."""
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return
    pytest.fail(f"clerk record ended before printing {text!r}:\n{''.join(seen)}")


def test_clerk_record_writes_a_page_object_skeleton_that_drives_the_app(
    tmp_path, monkeypatch, no_display, casebook_for_recording, browser_runtime: BrowserRuntime
):
    casebook = casebook_for_recording
    reference = casebook.store.create({"surname": "Okafor", "first_names": "Grace", "date_of_birth": "14/03/1950"},
                                      created_by="test")
    port = free_port()
    chromium = tmp_path / "chromium-with-devtools"  # the installed Chromium, which a second client can drive
    chromium.write_text(f'#!/bin/sh\nexec "{find_browser()}" --remote-debugging-port={port} "$@"\n')
    chromium.chmod(0o755)
    out = tmp_path / "bots" / "casework" / "pages" / "recorded_1.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    command = [sys.executable, "-m", "flows.cli", "record", casebook.url,
               "--app", "casework", "--out", str(out), "--browser", str(chromium)]
    seen: list[str] = []
    with subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as clerk:
        try:
            read_until(clerk, "Press Enter here when done", seen)
            assert "DISPLAY is not set here, so Chromium runs on a virtual display (Xvfb)" in "".join(seen)
            in_own_thread(lambda: act_as_the_person(clerk, port, casebook.url, reference, seen))
            clerk.stdin.write("\n")
            clerk.stdin.flush()
            seen.append(clerk.stdout.read())
            assert clerk.wait(timeout=60) == 0, "".join(seen)
        finally:
            if clerk.poll() is None:
                clerk.kill()
    output = "".join(seen)
    assert ('fill the "Password" textbox (a secret: kept out of the skeleton) on "Casebook log in"') in output
    assert f"Wrote {out}: 5 screens (CasebookLogInPage, MainMenuPage, SearchCasesPage, SearchResultsPage, " \
           "CaseDetailsPage), 6 methods." in output
    for typed in (PASSWORD, USER, reference):
        assert typed not in output

    source = out.read_text()
    ast.parse(source)
    checked = ruff_check(source, tmp_path)
    assert checked.returncode == 0, checked.stdout
    for typed in (PASSWORD, USER, reference):
        assert typed not in source
    screens = methods_of(source)
    assert {name: methods for name, methods in screens.items() if name.endswith("Page")} == JOURNEY_SCREENS
    assert '        self.user_name_field = page.get_by_role("textbox", name="User name")\n' in source
    assert '        self.password_field.fill(self.settings.password)\n' in source
    assert '        self.marker = self.frame.get_by_role("heading", name="Case details", exact=True)\n' in source

    # The skeleton works as it stands: it keys the same journey into Casebook (headless, as a bot would).
    spec = importlib.util.spec_from_file_location("recorded_casework", out)
    recorded = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, recorded)  # dataclasses look their module up there
    spec.loader.exec_module(recorded)
    settings = recorded.RecordedSettings(password=PASSWORD, navigation_ms=8_000)
    page = browser_runtime.new_page()
    try:
        menu = recorded.CasebookLogInPage(page, settings).open(casebook.url).log_in(USER)
        menu.ok()
        case = menu.open_search_cases().search_by_reference(reference).open_case_reference(reference)
        assert type(case).__name__ == "CaseDetailsPage"
        expect(case.frame.get_by_role("table", name="Case details")).to_contain_text("Okafor")
    finally:
        page.context.close()


def act_as_the_person(clerk: subprocess.Popen, port: int, url: str, reference: str, seen: list[str]) -> None:
    """Log in, search for the case by its reference, open it and go back, through the recording browser."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        [page] = [page for context in browser.contexts for page in context.pages
                  if page.url.startswith(url)]
        page.get_by_label("User name").press_sequentially(USER)  # key by key, as a person types
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("dialog", name="Message of the day").get_by_role("button", name="OK").click()
        page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Search cases").click()
        frame = page.get_by_title("Casebook").content_frame
        expect(frame.get_by_role("heading", name="Search cases")).to_be_visible()
        frame.get_by_label("Case reference").fill(reference)
        frame.get_by_role("button", name="Search by reference").click()
        expect(frame.get_by_role("heading", name="Search results")).to_be_visible()
        frame.get_by_role("link", name=reference).click()
        expect(frame.get_by_role("heading", name="Case details")).to_be_visible()
        frame.get_by_role("link", name="Back to search").click()
        expect(frame.get_by_role("heading", name="Search cases")).to_be_visible()
        read_until(clerk, 'click the "Back to search" link on "Case details"', seen)


def test_a_recording_marks_a_password_typed_anywhere_as_secret_and_ends_when_the_window_closes(
    no_display, casebook_for_recording
):
    casebook = casebook_for_recording

    async def record() -> tuple[list, int, bool]:
        async with RecordingSession(casebook.url) as session:
            xvfb = session.display.pid
            page = session.page
            await page.get_by_label("User name").press_sequentially(USER)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.get_by_role("dialog", name="Message of the day").get_by_role("button", name="OK").click()
            await page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Search cases").click()
            frame = page.get_by_title("Casebook").content_frame
            await frame.get_by_role("heading", name="Search cases").wait_for()
            await frame.get_by_label("Notes").fill(PASSWORD)  # the password again, in a field named otherwise
            await frame.get_by_role("button", name="Search notes").click()
            await frame.get_by_role("heading", name="Search results").wait_for()
            await session.wait_for(lambda actions: actions[-1].kind == "click" and "Search notes" in actions[-1].describe(),
                                   WAIT_MS)
            await page.close()  # the person closes the window
            await asyncio.wait_for(session.closed(), WAIT_MS / 1000)
            actions = await session.finish()
            alive = _running(xvfb)
        return actions, xvfb, alive

    actions, xvfb, alive_while_recording = in_own_thread(lambda: asyncio.run(record()))
    assert alive_while_recording and not _running(xvfb)  # the virtual display went with the session
    assert [(action.kind, action.secret, action.describe()) for action in actions] == [
        ("open", False, "open /"),
        ("fill", False, 'fill the "User name" textbox on "Casebook log in"'),
        ("fill", True, 'fill the "Password" textbox (a secret: kept out of the skeleton) on "Casebook log in"'),
        ("click", False, 'click the "Log in" button on "Casebook log in"'),
        ("click", False, 'click the "OK" button on "Main menu"'),
        ("click", False, 'click the "Search cases" link on "Main menu"'),
        ("fill", True, 'fill the "Notes" textbox (a secret: kept out of the skeleton) on "Search cases"'),
        ("click", False, 'click the "Search notes" button on "Search cases"'),
    ]
    source = skeleton(actions, app="casework", url=casebook.url).source
    assert PASSWORD not in source and USER not in source
    assert "        self.notes_field.fill(self.settings.notes)\n" in source
    assert methods_of(source)["SearchCasesPage"]["search_notes"] == ([], "None")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_set_display_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":57")
    with display_for_browser() as display:
        assert (display.name, display.virtual, display.pid) == (":57", False, None)


def test_a_virtual_display_accepts_connections_and_is_stopped_afterwards():
    with virtual_display(DisplaySettings()) as display:
        assert display.virtual and _running(display.pid)
        with socket.socket(socket.AF_UNIX) as x11:
            x11.connect(f"/tmp/.X11-unix/X{display.name.lstrip(':')}")  # X clients connect here
    assert not _running(display.pid)


def test_without_a_display_or_xvfb_recording_stops_with_a_config_error(no_display, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Xvfb on it
    with pytest.raises(ConfigError, match=r"DISPLAY is not set\) and Xvfb is not installed.*make xvfb"):
        with display_for_browser():
            pass
