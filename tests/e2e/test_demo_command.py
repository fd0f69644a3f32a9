"""`clerk demo --json`, as `make demo` runs it, in a fresh directory: one mixed morning, three processes."""

import json
import os
import subprocess
import sys

import pytest

from sandbox.morning import mixed_morning

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def test_demo_keys_a_mixed_morning_into_three_applications_and_prints_json_on_the_last_line(tmp_path, prefect_api):
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    result = subprocess.run([sys.executable, "-m", "flows.cli", "demo", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    morning = mixed_morning(2026)  # what the demo delivered, with what should become of each email
    expected = {name: [e for e, p in zip(morning.expected, morning.process, strict=True) if p == name]
                for name in ("blue_badge", "council_tax_move", "supplier_invoice")}

    assert summary["emails"] == len(morning.messages)
    assert summary["done"] + summary["exceptions"] == summary["emails"]
    assert summary["left_in_inbox_or_processing"] == 0
    for name, outcomes in expected.items():
        figures = summary["processes"][name]
        assert figures["emails"] == len(outcomes)
        assert figures["keyed"] == outcomes.count("created") + outcomes.count("on_hold"), name
        assert figures["exceptions"] == sum(o in ("rejected", "sender_not_allowed") for o in outcomes), name
    # One record per distinct valid email in each application; the resends and replays recognised.
    assert summary["records_created"] == {"casebook": expected["blue_badge"].count("created"),
                                          "revenues": expected["council_tax_move"].count("created"),
                                          "finance": expected["supplier_invoice"].count("created")
                                          + expected["supplier_invoice"].count("on_hold")}
    assert summary["reviews_approved"] == expected["supplier_invoice"].count("on_hold")
    assert summary["duplicates_recognised"] == sum(
        o in ("existing_application", "already_held", "duplicate_invoice", "duplicate_delivery")
        for o in morning.expected)
    assert summary["system_errors"] == 0 and summary["seconds_per_item"] > 0  # busy answers retried, not parked
    assert summary["audit_verified"] is True and summary["audit_events"] > summary["emails"]
    assert (tmp_path / summary["audit_log"]).exists()
