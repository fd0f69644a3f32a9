"""bench/documents.py runs end to end on a tiny batch, as a script (its parse functions are sent to the parser
workers by the script's own name): a row per format, Excel included, and one JSON object on its last line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "documents.py"


def test_the_documents_benchmark_has_an_excel_row_and_ends_with_one_json_object() -> None:
    run = subprocess.run([sys.executable, str(BENCH), "--forms", "2", "--format-forms", "2", "--rounds", "1"],
                         capture_output=True, text=True, timeout=240, check=True)  # fmt: skip

    lines = run.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures["formats"]) == {"pdf", "docx", "xlsx"}
    assert figures["formats"]["xlsx"]["forms"] == 2 and figures["formats"]["xlsx"]["guard_ratio"] > 0
    assert figures["xlsx_guard_ratio"] == figures["formats"]["xlsx"]["guard_ratio"]
    assert any(line.startswith("xlsx ") for line in lines[:-1])
    assert figures["bombs"]["XML entity bomb .xlsx"]["code"] == "ATTACHMENT_DAMAGED"
    assert figures["bombs"]["zip bomb .xlsx, 64 MB at ~1000:1"]["code"] == "ATTACHMENT_BOMB"
    assert "read some forms differently" not in run.stderr
