"""`clerk record`: what it refuses before any browser starts, and where it writes the skeleton.

The recording itself (Chromium headed on Xvfb, Playwright's recorder, the skeleton written and replayed)
is tests/integration/test_recorder.py.
"""


import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.cli_record import _next_free, _write

runner = CliRunner()


@pytest.mark.parametrize(("arguments", "complaint"), [
    (["http://127.0.0.1:8765/", "--app", "Case-Book"], "--app"),
    (["casebook.council.local", "--app", "casebook"], "an http:// or https:// address"),
    (["ftp://casebook.council.local/", "--app", "casebook"], "an http:// or https:// address"),
])
def test_record_refuses_a_bad_app_name_or_address(arguments, complaint):
    result = runner.invoke(app, ["record", *arguments])
    assert result.exit_code == 2
    assert complaint in result.output


def test_record_never_overwrites_a_file(tmp_path):
    existing = tmp_path / "recorded_1.py"
    existing.write_text("# by hand\n")
    result = runner.invoke(app, ["record", "http://127.0.0.1:8765/", "--app", "casebook", "--out", str(existing)])
    assert result.exit_code == 2
    assert "exists: choose another --out" in result.output
    assert existing.read_text() == "# by hand\n"


def test_record_names_a_browser_that_is_not_there(tmp_path):
    missing = tmp_path / "chromium"
    result = runner.invoke(app, ["record", "http://127.0.0.1:8765/", "--app", "casebook", "--out",
                                 str(tmp_path / "out.py"), "--browser", str(missing)])
    assert result.exit_code == 2
    assert f"'{missing}' (browser setting) is not an executable file" in result.output
    assert not (tmp_path / "out.py").exists()


def test_the_skeleton_goes_to_the_next_free_number_in_a_new_bots_package(tmp_path):
    pages = tmp_path / "bots" / "rents" / "pages"
    first = _next_free(pages)
    assert first == pages / "recorded_1.py"
    _write(first, "# one\n", package=pages)
    assert first.read_text() == "# one\n"
    assert (pages / "__init__.py").read_text() == '"""Page objects, one class per screen, for rents (started with `clerk record`)."""\n'
    assert (pages.parent / "__init__.py").read_text() == '"""The bot for rents (started with `clerk record`)."""\n'
    (pages / "__init__.py").write_text('"""Written by hand."""\n')
    second = _next_free(pages)
    _write(second, "# two\n", package=pages)
    assert second == pages / "recorded_2.py"
    assert (pages / "__init__.py").read_text() == '"""Written by hand."""\n'  # never rewritten

