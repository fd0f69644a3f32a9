"""Start-up stays light: the settings and the CLI load no parser, browser or mail library until a command needs it.

Each check runs in a fresh interpreter, so nothing another test imported can hide a heavy import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pypdf", "docx", "openpyxl", "playwright", "exchangelib", "reportlab", "psycopg")


def heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh Python and return the heavy top-level packages it left in ``sys.modules``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("CLERK_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import connectors.settings; connectors.settings.load_settings()",
    "import flows.cli",
    # `clerk check-config` and `clerk --help`, run as the console script would, in-process
    "from flows.cli import app\ntry:\n    app(['check-config'])\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code",
    "from flows.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code",
], ids=["settings", "cli-import", "check-config", "help"])
def test_start_up_imports_no_heavy_library(code):
    assert heavy_modules_after(code) == []


def test_the_probe_sees_a_heavy_import():
    """The check above can fail: reading a form does load the parsers."""
    assert heavy_modules_after("from connectors.documents import read_form") == ["docx", "openpyxl", "pypdf"]


def test_the_package_extract_is_the_function_whichever_is_imported_first():
    code = ("import connectors.documents.extract as first\n"
            "from connectors.documents import extract\n"
            "from connectors.documents.extract import extract as defined\n"
            "assert extract is defined, extract")
    assert heavy_modules_after(code) == ["docx", "openpyxl", "pypdf"]
