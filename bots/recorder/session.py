"""A recording: the installed Chromium, headed, with Playwright's recorder reporting each action as it is made.

Why not ``playwright codegen``? It launches only Playwright's own downloaded browsers or a branded
channel (``--channel chrome``); its one way to another executable is an internal test hook
(``PWTEST_CLI_EXECUTABLE_PATH``). ``page.pause()`` does work with our Chromium, but records into the
Playwright Inspector, a separate window whose code a person would have to copy out by hand (its file
output, through a private method too, drops the per-action aria snapshots that tell which screen an
action was on). So Clerk launches Chromium itself, through
``executable_path`` like every bot (``bots.runtime.find_browser``), and starts Playwright's recorder on the
context with ``BrowserContext._start_recording``: the programmatic recorder Playwright's own tools use.
It runs the same injected recorder as codegen (the same role, label and text locators) and streams each
action as a JSON entry (its "jsonl" language) with the aria snapshot of the document it was made in,
from which :mod:`bots.recorder.actions` reads the screen.

The method is private in Playwright's Python package (present in the pinned 1.65): if an upgrade drops
it, ``clerk record`` stops with a ConfigError saying so, and ``tests/integration/test_recorder.py`` fails.

Password fields: a small init script reports each value typed into an ``<input type="password">``
through a binding, held in memory only, so :func:`bots.recorder.actions.recorded_actions` can mark the
field secret whatever it is called. Nothing here writes what was typed anywhere, or logs it.

A recording ends when the person presses Enter in the terminal, sends Ctrl-C (or SIGTERM), or closes the
browser. Enter and Ctrl-C first flush the recorder (a click is held half a second in case it becomes a
double click); closing the window loses a click made in its last half second.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

from bots.recorder.actions import (
    RecordedAction,
    Screen,
    element_name_from_snapshot,
    recorded_actions,
    screen_from_snapshot,
)
from bots.recorder.display import Display, DisplaySettings, display_for_browser
from bots.runtime import BROWSER_ENV, CHROMIUM_ARGS, _first_line, find_browser
from connectors.errors import ConfigError

_SECRET_BINDING = "__clerkRecorderSecret"
_SECRET_REPORTER = """(() => {
  const report = (event) => {
    const field = event.composedPath()[0];
    if (field instanceof HTMLInputElement && field.type === "password" && field.value)
      window.BINDING(field.value);
  };
  window.addEventListener("input", report, true);
  window.addEventListener("change", report, true);
})();""".replace("BINDING", _SECRET_BINDING)


@dataclass(frozen=True)
class RecorderSettings:
    executable: str | None = None  # else $CLERK_BROWSER, else chromium on PATH (bots.runtime.find_browser)
    open_timeout_ms: int = 30_000  # for the first page to load
    launch_timeout_ms: int = 30_000  # for Chromium to start
    display: DisplaySettings = field(default_factory=DisplaySettings)


class RecordingSession:
    """One recording, as an async context manager: ``page`` is the headed browser's page, on ``url``.

    ``on_action`` is called with each new action (never with anything typed). ``actions()`` is what was
    recorded so far; ``finish()`` stops the recorder and returns all of it.
    """

    def __init__(self, url: str, settings: RecorderSettings | None = None, *,
                 on_action: Callable[[RecordedAction], None] | None = None) -> None:
        self.url = url
        self.settings = settings or RecorderSettings()
        self.on_action = on_action
        self.display: Display | None = None
        self.executable = ""
        self._entries: list[tuple[dict[str, Any], Screen | None]] = []
        self._secrets: set[str] = set()
        self._reported = 0
        self._changed = asyncio.Event()
        self._all_closed = asyncio.Event()
        self._stack = AsyncExitStack()
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._recording = False

    @property
    def page(self) -> Page:
        assert self._page is not None, "the session has not started"
        return self._page

    async def __aenter__(self) -> RecordingSession:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        self.executable = find_browser(self.settings.executable)
        self.display = self._stack.enter_context(display_for_browser(self.settings.display))
        playwright = await self._stack.enter_async_context(async_playwright())
        try:
            browser = await playwright.chromium.launch(
                executable_path=self.executable, headless=False, args=list(CHROMIUM_ARGS),
                env={**os.environ, "DISPLAY": self.display.name}, timeout=self.settings.launch_timeout_ms,
                handle_sigint=False, handle_sigterm=False, handle_sighup=False,  # Ctrl-C finishes the recording
            )
        except PlaywrightError as exc:
            raise ConfigError(f"Chromium at {self.executable} would not start on display {self.display.name}: "
                              f"{_first_line(exc)}", key=BROWSER_ENV) from exc
        self._stack.push_async_callback(browser.close)
        browser.on("disconnected", lambda _: self._all_closed.set())
        context = self._context = await browser.new_context(no_viewport=True, locale="en-GB", service_workers="block")
        await context.expose_binding(_SECRET_BINDING, lambda _source, value: self._secrets.add(str(value)))
        await context.add_init_script(_SECRET_REPORTER)
        context.on("page", self._watch_page)
        start = getattr(context._impl_obj, "_start_recording", None)  # Playwright's programmatic recorder
        if start is None:
            raise ConfigError("this Playwright has no programmatic recorder (BrowserContext._start_recording); "
                              "`clerk record` needs the version in requirements.lock")
        await start({"language": "jsonl"}, self)
        self._recording = True
        page = self._page = await context.new_page()
        try:
            await page.goto(self.url, timeout=self.settings.open_timeout_ms)
        except PlaywrightError as exc:
            raise ConfigError(f"could not open {self.url}: {_first_line(exc)}", key="URL") from exc

    def _watch_page(self, page: Page) -> None:
        page.on("close", self._page_closed)

    def _page_closed(self, _page: Page) -> None:
        if self._context is not None and not self._context.pages:
            self._all_closed.set()

    # --- Playwright's recorder calls these (its event sink) ---------------------------------------------------

    def action_added(self, _page: Any, data: dict[str, Any], code: str) -> None:
        self._entries.append(self._entry(data, code))
        self._note()

    def action_updated(self, _page: Any, data: dict[str, Any], code: str) -> None:
        """A fill typed on (the recorder merges each keystroke into the last fill)."""
        if self._entries:
            self._entries[-1] = self._entry(data, code)
        else:
            self._entries.append(self._entry(data, code))
        self._note()

    def signal_added(self, _page: Any, data: dict[str, Any], _code: str) -> None:
        """A popup, download or dialog that followed the last action."""
        if self._entries and data.get("name"):
            self._entries[-1][0].setdefault("signals", []).append({"name": data["name"]})
            self._note()

    @staticmethod
    def _entry(data: dict[str, Any], code: str) -> tuple[dict[str, Any], Screen | None]:
        """The recorder's JSON entry (its locator as steps) and the screen; the snapshot goes no further."""
        lines = code.strip().splitlines() if code else []
        entry = json.loads(lines[0]) if lines else {key: value for key, value in data.items() if key != "ariaSnapshot"}
        snapshot = data.get("ariaSnapshot")
        entry["elementName"] = element_name_from_snapshot(snapshot, data.get("ref"))
        return entry, screen_from_snapshot(snapshot)

    def _note(self) -> None:
        self._changed.set()
        if self.on_action is None:
            return
        actions = self.actions()
        for action in actions[self._reported:]:
            self.on_action(action)
        self._reported = max(self._reported, len(actions))

    # --- for whoever runs the session ------------------------------------------------------------------------

    def actions(self) -> list[RecordedAction]:
        return recorded_actions(self._entries, self._secrets)

    async def wait_for(self, condition: Callable[[list[RecordedAction]], bool], timeout_ms: int) -> list[RecordedAction]:
        """Wait until the recorded actions meet ``condition`` (each new action is checked); TimeoutError after
        ``timeout_ms``."""
        async with asyncio.timeout(timeout_ms / 1000):
            while not condition(actions := self.actions()):
                self._changed.clear()
                await self._changed.wait()
        return actions

    async def closed(self) -> None:
        """Until the person has closed every window of the recording (or the browser went away)."""
        await self._all_closed.wait()

    async def finish(self) -> list[RecordedAction]:
        """Stop the recorder, flushing what it still holds, and return every recorded action."""
        if self._recording and self._context is not None:
            self._recording = False
            try:
                await self._context._impl_obj._stop_recording()
            except PlaywrightError:
                pass  # the browser is gone: what arrived before is all there is
        return self.actions()


async def record(url: str, settings: RecorderSettings | None = None, *,
                 on_ready: Callable[[RecordingSession], None] | None = None,
                 on_action: Callable[[RecordedAction], None] | None = None) -> list[RecordedAction]:
    """Record on ``url`` until the person presses Enter here, sends Ctrl-C, or closes the browser."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    async with RecordingSession(url, settings, on_action=on_action) as session:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, done.set)
        reading = _finish_on_enter(loop, done)
        try:
            if on_ready is not None:
                on_ready(session)
            waits = [asyncio.ensure_future(done.wait()), asyncio.ensure_future(session.closed())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            return await session.finish()
        finally:
            if reading:
                loop.remove_reader(sys.stdin.fileno())
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


def _finish_on_enter(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> bool:
    """Set ``done`` when a line arrives on standard input; at its end (no terminal) stop reading it."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return False

    def on_input() -> None:
        chunk = os.read(fd, 4096)
        if not chunk:
            loop.remove_reader(fd)
        elif b"\n" in chunk:
            done.set()

    loop.add_reader(fd, on_input)
    return True
