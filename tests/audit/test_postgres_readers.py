"""`clerk report`, `clerk status` and `clerk audit verify` read the trail the settings name: in PostgreSQL, every
writer's events, whichever process (or host) wrote them."""

import multiprocessing
import re

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import flows.cli
from connectors.ledger import clerk_reference
from connectors.settings import load_settings
from flows.cli import app
from flows.report import build_report, read_events
from tests.audit.trails import KEY, edit
from tests.audit.writers import write_emails
from tests.report.trail import uk

spawn = multiprocessing.get_context("spawn")
runner = CliRunner()
KEYED = {"CLERK_AUDIT_HMAC_KEY": KEY.decode(), "CLERK_AUDIT_HMAC_PREVIOUS_KEYS": "", "CLERK_CONFIG": ""}
WRITERS = {"first": (["a1", "a2"], "2025-05-21 09:00"), "second": (["b1", "b2", "b3"], "2025-05-21 10:00")}


def reference(name: str) -> str:
    return clerk_reference(f"<{name}@mail.council.example.gov.uk>")


@pytest.fixture
def config(pg, tmp_path):
    """Settings with the ledger and the trail in PostgreSQL, whose trail two processes wrote at once."""
    workers = [spawn.Process(target=write_emails, args=(pg.store, names, received))
               for names, received in WRITERS.values()]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    file = tmp_path / "clerk.yaml"
    file.write_text(yaml.safe_dump({
        "mailbox": {"root": str(tmp_path / "mailbox")},
        "ledger": {"kind": "postgres", "url": pg.url, "schema": pg.schema},
        "audit": {"kind": "postgres", "path": str(tmp_path / "no-such-trail" / "audit.jsonl")},
    }))
    return file


def test_the_report_counts_the_items_of_both_processes(config):
    settings = load_settings(config)
    report = build_report(read_events(settings), start=uk("2025-05-21 00:00").date(), end=uk("2025-05-21 00:00").date(),
                          process=None, settings=settings, now=uk("2025-05-22 12:00"))
    assert (report.received, report.done, report.past_sla) == (5, 5, [])


def test_clerk_report_reads_the_trail_in_postgresql(config):
    result = runner.invoke(app, ["report", "--from", "2025-05-21", "--to", "2025-05-21", "--config", str(config)],
                           env={**KEYED, "COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert re.search(r"Emails received\s+│\s+5\s+│", result.output), result.output


def test_clerk_status_shows_an_item_written_by_either_process(config, monkeypatch):
    monkeypatch.setattr(flows.cli, "console", Console(width=250))  # tables unwrapped, for the asserts
    for name in ("a2", "b3"):
        result = runner.invoke(app, ["status", reference(name), "--config", str(config)], env=KEYED)
        assert result.exit_code == 0, result.output
        steps = re.findall(r"│ \d+\s+│ [\d-]+T[\d:]+ │ (\w+)\s+│ (\w+)", result.output)
        assert steps == [("claim", "ok"), ("reply", "sent"), ("parse", "ok"), ("key", "started"), ("key", "created"),
                         ("reply", "sent"), ("finish", "created")], result.output
        assert f"case_reference=BB-2025-{reference(name)[-6:]}" in result.output


def test_clerk_audit_verify_checks_the_configured_trail_and_names_a_row(config, pg):
    unkeyed = {**KEYED, "CLERK_AUDIT_HMAC_KEY": ""}  # the writers above sign nothing
    result = runner.invoke(app, ["audit", "verify", "--config", str(config)], env=unkeyed)
    assert result.exit_code == 0, result.output
    assert "VERIFIED 35 events, seq 1..35" in result.output and re.search(r"│ tables +│ audit_lines +│", result.output)
    pg.set_line(5, edit(pg.line(5), b'"step":"', b'"step":"x'))
    result = runner.invoke(app, ["audit", "verify", "--config", str(config)], env=unkeyed)
    assert result.exit_code == 1
    assert f"FAILED at {pg.schema}.audit_lines seq 5: altered" in result.output


def test_a_postgres_trail_needs_the_postgres_ledger(tmp_path):
    file = tmp_path / "clerk.yaml"
    file.write_text("audit:\n  kind: postgres\n")
    result = runner.invoke(app, ["audit", "verify", "--config", str(file)], env=KEYED)
    assert result.exit_code == 2
    assert f"file {file}, key 'audit.kind': kind 'postgres' keeps the trail in the ledger's database" in result.output
