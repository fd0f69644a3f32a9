"""`clerk demo --json`, as `make demo` runs it, in a fresh directory."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def test_demo_prints_its_summary_as_json_on_the_last_line_and_exits_0(tmp_path, prefect_api):
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    result = subprocess.run([sys.executable, "-m", "flows.cli", "demo", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["emails"] >= 20
    assert summary["done"] + summary["exceptions"] == summary["emails"]
    assert summary["left_in_inbox_or_processing"] == 0
    # 16 distinct valid applications; the resend and the replay are recognised, not keyed again.
    assert (summary["cases_created"], summary["duplicates_recognised"]) == (16, 2)
    assert summary["exceptions"] == 8 and summary["seconds_per_item"] > 0  # 5 bad forms, 3 untrusted senders
    assert summary["audit_verified"] is True and summary["audit_events"] > summary["emails"]
    assert (tmp_path / summary["audit_log"]).exists()
