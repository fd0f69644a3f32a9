"""The browser runtime: finding Chromium, and screenshots that never show personal data."""

from __future__ import annotations

import os
import stat

import pytest
from PIL import Image

from bots.runtime import BrowserRuntime, BrowserSettings, find_browser
from connectors.errors import ConfigError

# A page whose inputs, table cells and details values hold "personal data" in red on white, one in an iframe.
_FRAME = "<table><tr><th>Surname</th><td style='background:red;width:200px;height:40px'>Smith</td></tr></table>"
_PAGE = f"""<body style="margin:0;background:white">
<input value="Jane Smith" style="position:absolute;left:10px;top:10px;width:200px;height:40px;background:red">
<iframe srcdoc="{_FRAME}" style="position:absolute;left:10px;top:100px;width:400px;height:120px;border:0"></iframe>
<dl style="position:absolute;left:10px;top:250px;margin:0"><dt>Net</dt>
<dd style="margin:0;background:red;width:200px;height:40px">£474.96</dd></dl>
</body>"""


def test_find_browser_prefers_the_explicit_path_then_clerk_browser(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert find_browser(str(fake)) == str(fake)
    monkeypatch.setenv("CLERK_BROWSER", str(fake))
    assert find_browser() == str(fake)


def test_find_browser_says_how_to_fix_a_missing_browser(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CLERK_BROWSER", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="not an executable file") as raised:
        find_browser()
    assert "CLERK_BROWSER" in str(raised.value) and "apt-get install chromium" in str(raised.value)
    monkeypatch.delenv("CLERK_BROWSER")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="No Chromium browser found"):
        find_browser()


@pytest.mark.browser
def test_failure_screenshots_mask_inputs_and_cells_in_every_frame(browser_runtime: BrowserRuntime) -> None:
    page = browser_runtime.new_page()
    try:
        page.set_content(_PAGE)
        page.frame_locator("iframe").get_by_text("Smith").wait_for()
        path = browser_runtime.screenshot_on_failure(page, "masking check")
    finally:
        page.context.close()
    assert path is not None and path.exists() and path.name.endswith("-masking-check.png")
    picture = Image.open(path).convert("RGB")
    for x, y in ((110, 30), (180, 130), (110, 290)):  # the input; the iframe's table cell; the details value
        assert picture.getpixel((x, y)) == (0, 0, 0)
    reds = sum(1 for pixel in picture.getdata() if pixel[0] > 200 and pixel[1] < 80 and pixel[2] < 80)
    assert reds == 0, "some personal data was left unmasked"
    os.remove(path)


def test_screenshot_is_skipped_without_a_folder() -> None:
    quiet = BrowserRuntime(BrowserSettings(screenshots_dir=None))
    assert quiet.screenshot_on_failure(None, "anything") is None


def test_a_trace_when_switched_on_keeps_the_actions_but_not_what_was_typed(
        tmp_path, casebook, make_application, browser_runtime, monkeypatch):
    import zipfile

    from bots.casebook.bot import CasebookBot, CasebookBotSettings
    from tests.conftest import CASEBOOK_PASSWORD, CASEBOOK_USER

    application = make_application()
    # The session's browser, with tracing switched on for this test only.
    monkeypatch.setattr(browser_runtime.settings, "trace_dir", tmp_path / "traces")
    monkeypatch.setattr(browser_runtime.settings, "secrets", (CASEBOOK_PASSWORD,))
    bot = CasebookBot(browser_runtime, CasebookBotSettings(url=casebook.url, username=CASEBOOK_USER,
                                                           password=CASEBOOK_PASSWORD))
    try:
        result = bot.key_application(application, "CLK-TRACE00001")
    finally:
        bot.close()
    [trace] = list((tmp_path / "traces").glob("*.zip"))
    with zipfile.ZipFile(trace) as archive:
        text = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    assert result.outcome == "created"
    assert '"fill"' in text or "fill" in text, "the trace still shows what the bot did"
    for planted in (CASEBOOK_PASSWORD, application.ni_number, application.ni_number[:2] + " ",
                    application.date_of_birth_text, application.email, application.surname):
        assert planted not in text, f"{planted!r} leaked into the trace"
