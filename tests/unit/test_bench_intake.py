"""bench/intake.py runs end to end: a tiny run on one configuration prints the figures the brief names."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect

BENCH = Path(__file__).resolve().parents[2] / "bench" / "intake.py"
KEYS = {"emails", "ews_streaming_median_s", "ews_streaming_p95_s", "graph_median_s", "graph_p95_s",
        "polling_median_s", "polling_p95_s", "polling_interval_s", "prefect_server_start_s"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_intake", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_intake_benchmark_prints_its_figures_as_the_last_line(prefect_api, capsys):
    figures = _bench().main(["--emails", "2", "--only", "ews-streaming", "--polling-interval", "3"])

    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == figures
    assert KEYS <= figures.keys()
    assert figures["emails"] == 2 and figures["polling_interval_s"] == 3
    assert figures["ews_streaming_watcher"] == "streaming"
    assert figures["ews_streaming_processed_once"] is True
    assert figures["ews_streaming_done_plus_exceptions"] == 3, "two timed emails and the warm-up"
    assert figures["ews_streaming_median_s"] > 0 and figures["ews_streaming_p95_s"] >= figures["ews_streaming_median_s"]
    assert figures["graph_median_s"] is None and figures["polling_median_s"] is None, "only one configuration ran"
