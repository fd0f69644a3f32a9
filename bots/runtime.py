"""The browser the bots drive: one Chromium per process, a fresh context per bot, masked screenshots.

Clerk never downloads browsers (``playwright install`` cannot reach the internet on council
networks): it drives an installed Chromium through ``executable_path``. Playwright's sync API is
bound to the thread that started it, so use a runtime from that thread only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from playwright.sync_api import Browser, BrowserContext, Error, Page, Playwright, sync_playwright

from connectors.audit import MASK, redact_text
from connectors.errors import ConfigError

log = structlog.get_logger(__name__)

BROWSER_ENV = "CLERK_BROWSER"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Everything that can show personal data in a screenshot: form controls, table cells, and the values of a
# details list (<dd>, a record's dialog in Finance).
MASK_SELECTOR = "input, select, textarea, [contenteditable], td, dd"
_INSTALL_HINT = (
    "Install Debian's Chromium (`sudo apt-get install chromium`, or run `make browser`) "
    f"or set {BROWSER_ENV} to the full path of a Chromium or Chrome executable."
)


@dataclass
class BrowserSettings:
    executable: str | None = None  # else $CLERK_BROWSER, else chromium/chromium-browser/google-chrome on PATH
    headless: bool = True
    action_timeout_ms: int = 10_000
    navigation_timeout_ms: int = 15_000
    screenshots_dir: Path | None = None  # failure screenshots go here when set
    trace_dir: Path | None = None
    """Playwright traces, one zip per bot session (off by default). Typed values, network bodies and
    secrets are scrubbed from them before they are written here."""
    secrets: tuple[str, ...] = ()
    """Values masked wherever they would appear in a trace (the application's password)."""


def find_browser(explicit: str | None = None) -> str:
    """The Chromium to launch: ``explicit``, else ``$CLERK_BROWSER``, else the first one on PATH."""
    for source, candidate in (("browser setting", explicit), (BROWSER_ENV, os.environ.get(BROWSER_ENV))):
        if candidate:
            path = shutil.which(candidate) or candidate
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise ConfigError(
                    f"{candidate!r} ({source}) is not an executable file. {_INSTALL_HINT}", key=BROWSER_ENV
                )
            return path
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise ConfigError(
        f"No Chromium browser found on PATH ({', '.join(BROWSER_NAMES)}). {_INSTALL_HINT}", key=BROWSER_ENV
    )


class BrowserRuntime:
    """One Chromium for the whole process, reused across items; each bot gets its own context."""

    def __init__(self, settings: BrowserSettings) -> None:
        self.settings = settings
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def start(self) -> BrowserRuntime:
        if self._browser is not None:
            return self
        executable = find_browser(self.settings.executable)
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable, headless=self.settings.headless, args=list(CHROMIUM_ARGS)
            )
        except Error as exc:
            self._playwright.stop()
            self._playwright = None
            raise ConfigError(f"Chromium at {executable} would not start: {_first_line(exc)}", key=BROWSER_ENV) from exc
        log.info("browser.started", executable=executable, version=self._browser.version)
        return self

    def close(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()

    def __enter__(self) -> BrowserRuntime:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def new_page(self) -> Page:
        """A page in a new, isolated context (own cookies), with the configured timeouts applied."""
        if self._browser is None or not self._browser.is_connected():
            self._browser = None
            self.close()
            self.start()
        assert self._browser is not None
        context = self._browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-GB", service_workers="block"
        )
        context.set_default_timeout(self.settings.action_timeout_ms)
        context.set_default_navigation_timeout(self.settings.navigation_timeout_ms)
        if self.settings.trace_dir is not None:  # no screenshots or DOM snapshots: they would show the inputs
            context.tracing.start(screenshots=False, snapshots=False, sources=False)
        return context.new_page()

    def close_context(self, context: BrowserContext, name: str = "session") -> Path | None:
        """Close a bot's context; with tracing on, first write its trace, scrubbed. Returns the trace's path."""
        trace = None
        try:
            if self.settings.trace_dir is not None:
                folder = Path(self.settings.trace_dir)
                folder.mkdir(parents=True, exist_ok=True)
                safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "session"
                trace = folder / f"{datetime.now():%Y%m%d-%H%M%S-%f}-{safe}.zip"
                raw = folder / f".{trace.name}.raw"
                context.tracing.stop(path=str(raw))
                try:
                    scrub_trace(raw, trace, self.settings.secrets)
                finally:
                    raw.unlink(missing_ok=True)
        finally:
            context.close()
        return trace

    def screenshot_on_failure(self, page: Page | None, name: str) -> Path | None:
        """A full-page screenshot with every form control, table cell and details value masked, or None.

        Never raises: it runs while another error is being handled.
        """
        folder = self.settings.screenshots_dir
        if folder is None or page is None or page.is_closed():
            return None
        try:
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "failure"
            path = folder / f"{datetime.now():%Y%m%d-%H%M%S-%f}-{safe}.png"
            masks = [frame.locator(MASK_SELECTOR) for frame in page.frames]
            page.screenshot(
                path=str(path),
                full_page=True,
                mask=masks,
                mask_color="#000000",
                animations="disabled",
                timeout=self.settings.action_timeout_ms,
            )
            log.info("browser.screenshot", path=str(path))
            return path
        except Exception as exc:  # a failed screenshot must not hide the real error
            log.warning("browser.screenshot_failed", error=_first_line(exc))
            return None


_TYPED_KEYS = {"value", "values", "text", "postData", "postDataBuffer", "password", "files"}
_TYPED_CALL = re.compile(r"\b(fill|type|pressSequentially|selectOption|setInputFiles|check|press)\((.*)\)")


def _scrub(value, secrets: tuple[str, ...]):
    if isinstance(value, dict):
        return {key: MASK if key in _TYPED_KEYS and value[key] not in (None, "", [], {}) else _scrub(value[key], secrets)
                for key in value}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, str):
        value = _TYPED_CALL.sub(lambda match: f"{match.group(1)}({MASK})", value)
        for secret in secrets:
            if secret:
                value = value.replace(secret, MASK)
        return redact_text(value)
    return value


def scrub_trace(source: Path, target: Path, secrets: tuple[str, ...] = ()) -> None:
    """Copy a Playwright trace, masking what was typed (every fill and type), personal data and secrets in
    every event, and dropping the stored network bodies and page resources altogether."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as scrubbed:
        for member in original.infolist():
            if member.filename.startswith("resources/"):
                continue
            lines = []
            for line in original.read(member).decode("utf-8", errors="replace").splitlines():
                try:
                    lines.append(json.dumps(_scrub(json.loads(line), secrets)))
                except json.JSONDecodeError:
                    lines.append(_scrub(line, secrets))
            scrubbed.writestr(member.filename, "\n".join(lines) + "\n")


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
