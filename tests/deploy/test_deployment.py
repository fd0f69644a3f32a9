"""The deployments in prefect.yaml run the way an IT team runs them: a scheduled run, not a manual one.

Everything is real and separate, as on two hosts: a Prefect server (`clerk server start`, its own home),
`prefect deploy` from one checkout of the repository (the repository's own prefect.yaml, only the intake's
schedule shortened on the command line), and a `prefect worker start --type process` whose CLERK_HOME is a
second checkout and whose CLERK_CONFIG points at a local mailbox, ledger and audit trail under tmp. The
deployer's CLERK_HOME names a folder that does not exist, so a pull step frozen at deploy time would fail.

A Blue Badge email whose attachment is not a readable form is in the inbox before anything starts: the
first scheduled intake run must take it, reply, and park it in exceptions (no browser is needed). The runs
that come due meanwhile start one at a time on the worker (`--limit 1`, prefect.yaml's concurrency), and the
next one, finding nothing, is named "mail-intake: no new mail".
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from connectors.mail.local import LocalMailbox
from flows.prefect_server import free_port, prefect_cli
from tests.flow_harness import REPLY_SUBJECT, audit_events, sent_replies
from tests.mail.messages import message

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = ("prefect.yaml", "pyproject.toml", "flows", "connectors", "bots", "sandbox", "config")
INTERVAL_S = 5
# A busy shared host can take minutes to start processes; these bound the waits, they are not timings.
SCHEDULED_WITHIN_S = 180
FINISHED_WITHIN_S = 600
# The server schedules one or two runs ahead, at once, so the test needs no long queue of runs.
SCHEDULER = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "1",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "2",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "PT0S",
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def checkout(dest: Path) -> Path:
    """A copy of the repository's code and prefect.yaml, as a host would have it."""
    dest.mkdir(parents=True)
    for name in CHECKOUT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".clerk"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def host_env(**extra: str) -> dict[str, str]:
    """This machine's environment without any Prefect, Clerk or PYTHONPATH setting of the test run."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_", "CLERK_")) and key != "PYTHONPATH"}
    return {**env, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


class Api:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def deployment(self, flow: str, name: str) -> dict:
        response = self.http.get(f"/deployments/name/{flow}/{name}")
        response.raise_for_status()
        return response.json()

    def flow_runs(self, deployment_id: str) -> list[dict]:
        response = self.http.post("/flow_runs/filter", json={"deployments": {"id": {"any_": [deployment_id]}}})
        response.raise_for_status()
        return response.json()


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def wait_for(what: str, probe, within_s: float, diagnostics) -> list[dict]:
    """Poll ``probe`` until it returns something, for at most ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while not (found := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {within_s} s.\n{diagnostics()}", pytrace=False)
        time.sleep(1)  # polling Prefect's API for a state: there is nothing to auto-wait on
    return found


def test_the_scheduled_mail_intake_run_answers_an_email_from_the_worker(tmp_path):
    deployer = checkout(tmp_path / "deployer" / "clerk")
    worker_home = checkout(tmp_path / "worker" / "clerk")
    data = tmp_path / "worker" / "data"
    config = tmp_path / "worker" / "clerk.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "mailbox": {"root": str(data / "mailbox")},
        "ledger": {"path": str(data / "ledger.db")},
        "audit": {"path": str(data / "audit" / "audit.jsonl")},
        "browser": {"screenshots_dir": str(data / "screenshots")},
        "casebook": {"url": "http://127.0.0.1:9"},
    }))
    mailbox = LocalMailbox(data / "mailbox", "clerk@council.example.gov.uk")
    email = message("Blue Badge application for Mrs Ellis")  # its PDF is damaged: rejected, with a reply
    mailbox.deliver(email)

    prefect = prefect_cli()
    server_home = tmp_path / "server" / "prefect"
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    server_env = host_env(**SCHEDULER)
    run([sys.executable, "-m", "flows.cli", "server", "start", "--home", str(server_home), "--port", str(port)],
        deployer, server_env)
    worker_log = tmp_path / "worker" / "worker.log"
    worker = None
    try:
        deploy_env = host_env(PREFECT_API_URL=api_url, PREFECT_HOME=str(tmp_path / "deployer" / "prefect"),
                              CLERK_HOME=str(tmp_path / "no-such-folder-on-the-worker"))
        run([*prefect, "--no-prompt", "work-pool", "create", "clerk", "--type", "process"], deployer, deploy_env)
        run([*prefect, "--no-prompt", "deploy", "--name", "mail-intake", "--interval", str(INTERVAL_S)],
            deployer, deploy_env)

        api = Api(api_url)
        intake = api.deployment("mail-intake", "mail-intake")
        assert intake["entrypoint"] == "flows/intake.py:intake"
        pull_steps = yaml.safe_load((ROOT / "prefect.yaml").read_text())["pull"]
        assert intake["pull_steps"] == pull_steps, "stored as written, to run on the worker"
        assert deploy_env["CLERK_HOME"] not in json.dumps(intake["pull_steps"]), "the deployer's CLERK_HOME is not frozen in"
        assert intake["work_pool_name"] == "clerk"

        def diagnostics() -> str:
            runs = [(r["name"], r["state_type"], r["auto_scheduled"]) for r in api.flow_runs(intake["id"])]
            return (f"mail-intake runs: {runs}\n--- server log ---\n{tail(server_home / 'server.log')}\n"
                    f"--- worker log ---\n{tail(worker_log)}")

        wait_for("the scheduler created no run for mail-intake",
                 lambda: [r for r in api.flow_runs(intake["id"]) if r["auto_scheduled"]], SCHEDULED_WITHIN_S,
                 diagnostics)

        worker_env = host_env(PREFECT_API_URL=api_url, PREFECT_HOME=str(tmp_path / "worker" / "prefect"),
                              PREFECT_WORKER_QUERY_SECONDS="1", CLERK_HOME=str(worker_home),
                              CLERK_CONFIG=str(config))
        (tmp_path / "worker" / "run").mkdir()
        with open(worker_log, "wb") as log:
            worker = subprocess.Popen([*prefect, "worker", "start", "--pool", "clerk", "--type", "process",
                                       "--limit", "1"], cwd=tmp_path / "worker" / "run", env=worker_env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        finished = wait_for(
            "no scheduled mail-intake run finished",
            lambda: [r for r in api.flow_runs(intake["id"]) if r["auto_scheduled"] and r["state_type"] in FINAL],
            FINISHED_WITHIN_S, diagnostics)
        first = min(finished, key=lambda r: r["start_time"] or "")
        assert first["state_type"] == "COMPLETED", diagnostics()

        assert mailbox.folder("inbox") == [] and mailbox.folder("processing") == []
        assert (len(mailbox.folder("done")), len(mailbox.folder("exceptions"))) == (0, 1)
        subjects = [r.subject for r in sent_replies(mailbox) if r.in_reply_to == str(email["Message-ID"])]
        assert any(subject.startswith(REPLY_SUBJECT["rejected"]) for subject in subjects), subjects
        claimed_by = {event["run"] for event in audit_events(data / "audit" / "audit.jsonl") if event["step"] == "claim"}
        assert claimed_by == {first["id"]}, "the scheduled run, on the worker, took the email"

        # Runs come due every INTERVAL_S, sooner than a run's process starts and ends: the worker (--limit 1,
        # as prefect.yaml asks) starts each only after the one before ended, and one with nothing to do says so.
        later = wait_for(
            "no second scheduled mail-intake run finished",
            lambda: [r for r in api.flow_runs(intake["id"]) if r["auto_scheduled"] and r["state_type"] in FINAL
                     and r["id"] != first["id"]], FINISHED_WITHIN_S, diagnostics)
        second = min(later, key=lambda r: r["start_time"] or "")
        assert (second["state_type"], second["name"]) == ("COMPLETED", "mail-intake: no new mail"), diagnostics()
        started = sorted((at(r["start_time"]), at(r["end_time"]) if r["end_time"] else None)
                         for r in api.flow_runs(intake["id"]) if r["start_time"])
        for (_, ended), (next_started, _) in itertools.pairwise(started):
            assert ended is not None and ended <= next_started, f"two runs at once on one worker: {started}"
    finally:
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        run([sys.executable, "-m", "flows.cli", "server", "stop", "--home", str(server_home)], deployer, host_env())
