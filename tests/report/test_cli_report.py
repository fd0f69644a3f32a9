"""`clerk report` on a generated trail, through typer's test runner."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from connectors.processes import PROCESSES_DIR
from flows.cli_report import report
from tests.report.batch import write_batch

app = typer.Typer()
app.command("report")(report)


@app.callback()
def clerk() -> None:
    """Stands in for the clerk app the lead registers the command in."""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    write_batch(tmp_path / "audit")
    file = tmp_path / "clerk.yaml"
    declared = tmp_path / "processes"
    declared.mkdir()
    shutil.copy(PROCESSES_DIR / "blue_badge.yaml", declared)
    (declared / "parking_permit.yaml").write_text(  # a process retired since: its items still count
        "title: Parking permit\nflow: flows.parking_permit:parking_permit\nform: parking_permit\n"
        "application: parking\nenabled: false\n")
    file.write_text(yaml.safe_dump({
        "audit": {"path": str(tmp_path / "audit" / "audit.jsonl")},
        "processes_dir": str(declared),
        "processes": {"blue_badge": {"minutes_per_item": 20}, "parking_permit": {"minutes_per_item": 12}},
    }))
    return file


def run(*args: str):
    return CliRunner().invoke(app, ["report", *args], env={"COLUMNS": "120"})


def figure(output: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}\s+│\s+([^│]+?)\s+│", output)
    assert match, f"{label} not in:\n{output}"
    return match.group(1)


def test_report_prints_the_figures_and_writes_the_html(config: Path, tmp_path: Path) -> None:
    html = tmp_path / "out" / "may.html"
    result = run("--from", "2025-05-21", "--to", "2025-05-30", "--config", str(config), "--html", str(html))
    assert result.exit_code == 0, result.output
    assert [figure(result.output, label) for label in ("Emails received", "Done", "Refused (business)",
                                                       "Waiting for a person", "Hours of staff time freed")] \
        == ["17", "9", "4", "2", "2.9"]
    assert f"HTML report written to {html}" in result.output
    assert "<dt>Emails received</dt><dd>17</dd>" in html.read_text()


def test_report_for_one_process_from_an_audit_folder(config: Path, tmp_path: Path) -> None:
    result = run("--from", "2025-05-21", "--to", "2025-05-30", "--process", "blue_badge", "--config", str(config),
                 "--audit", str(tmp_path / "audit"))
    assert result.exit_code == 0, result.output
    assert (figure(result.output, "Emails received"), figure(result.output, "Done")) == ("15", "8")
    assert "Blue badge, emails received Wed 21 May 2025 to Fri 30 May 2025" in result.output


def test_an_unknown_process_stops_with_the_names_configured(config: Path) -> None:
    result = run("--from", "2025-05-21", "--to", "2025-05-30", "--process", "blue_bdage", "--config", str(config))
    assert result.exit_code == 2
    assert "no process named 'blue_bdage'" in result.output and "blue_badge, parking_permit" in result.output


def test_bad_dates_and_missing_or_damaged_trails_are_refused(config: Path, tmp_path: Path) -> None:
    backwards = run("--from", "2025-05-30", "--to", "2025-05-21", "--config", str(config))
    assert backwards.exit_code == 2 and "--to is before --from" in backwards.output
    assert run("--from", "21/05/2025", "--to", "2025-05-30", "--config", str(config)).exit_code == 2
    missing = run("--from", "2025-05-21", "--to", "2025-05-30", "--audit", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1 and "no audit trail at" in missing.output
    with (tmp_path / "audit" / "audit.jsonl").open("a") as trail:
        trail.write('{"step": "cla\n')
    damaged = run("--from", "2025-05-21", "--to", "2025-05-30", "--config", str(config))
    assert damaged.exit_code == 1 and re.search(r"audit\.jsonl:\d+ is not a JSON", damaged.output)
