"""Scale benchmark: the scheduled ``mail-intake`` deployment on one process worker, then on two, as an IT team
runs it, with the legacy application (not the CPU) the bottleneck.

One Prefect server whose database is PostgreSQL (``PREFECT_API_DATABASE_CONNECTION_URL``, a fresh database of
its own), the repository's prefect.yaml deployed with ``prefect deploy`` (only the schedule's interval shortened
on the command line), and ``prefect worker start --pool clerk --type process --limit 1`` workers, each with its
own copy of the code (its CLERK_HOME, its own working directory, as on its own host). For each run the same
generated mail (valid applications, a few wrong forms, resends of an applicant in a new email, and redeliveries
of the very same email) is in one shared mailbox folder before the workers start; every worker of the run shares
one PostgreSQL ledger and audit trail (a fresh schema) and keys into one Casebook sandbox whose every response
is slowed by ``--latency-ms``:

* **1 worker**: one worker until every email is in Done or Exceptions;
* **2 workers**: two workers, started together, until the same.

The wall time of a run is from starting its workers until the last email is finished (worker start-up, each
scheduled run's process start and its browser included). Then, from the mailbox folders, Casebook, the ledger,
the audit trail and the workers' logs: ``lost`` (an email that never reached Done or Exceptions), ``duplicates``
(Casebook cases beyond one per applicant), ``double_replies`` (a second reply of one kind to one email),
``unfinished`` ledger items, whether the shared trail verifies, the scheduled runs each worker took and the most
any worker ran at once (``--limit 1``: 1), and the runs that found no mail.

Prints a table, then one JSON object on the last line: ``{"items_per_min_1", "items_per_min_2", "speedup",
"duplicates", "lost", "double_replies", "wall_s_1", "wall_s_2", ..., "settings": {...}}``.

    python bench/scale.py [--emails 120] [--latency-ms 300] [--max-batch 5] [--interval 5] [--seed 11]
                          [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from bench.crash import REPLY_KINDS, Mail, generate  # noqa: E402
from connectors.mail.local import LocalMailbox  # noqa: E402
from flows.prefect_server import free_port, prefect_cli, start_server, stop_server  # noqa: E402

CHECKOUT = ("prefect.yaml", "pyproject.toml", "flows", "connectors", "bots", "sandbox", "config")
"""What a worker host's checkout holds (its CLERK_HOME)."""
SETTLE_TIMEOUT_S = 3600.0
IDLE_TIMEOUT_S = 300.0
"""After the last email, how long the runs under way may take to end their passes (sealing the trail)."""
SCHEDULER = {  # the server schedules a few runs ahead, at once
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "2",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "4",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "PT0S",
}
ACTIVE = {"PENDING", "RUNNING"}
SUBMITTING = re.compile(r"Worker '([^']+)' submitting flow run '([0-9a-f-]{36})'")
ABORTED = re.compile(r"Aborted submission of flow run '([0-9a-f-]{36})'")


@dataclass
class Phase:
    workers: int
    wall_s: float = 0.0
    counts: dict = field(default_factory=dict)

    @property
    def items_per_min(self) -> float:
        return self.counts["finished"] * 60 / self.wall_s if self.wall_s else 0.0


# --- the places: databases, checkouts, settings ---------------------------------------------------------------

def with_database(url: str, database: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme or parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def admin(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(statement)


def checkout(dest: Path) -> Path:
    """A copy of the repository's code and prefect.yaml, as a worker host would have it."""
    dest.mkdir(parents=True)
    for name in CHECKOUT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".clerk"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def host_config(host: Path, mailbox: Path, casebook_url: str, ledger_url: str, schema: str, max_batch: int) -> Path:
    config = host / "clerk.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "mailbox": {"root": str(mailbox), "max_batch": max_batch},
        "ledger": {"kind": "postgres", "url": ledger_url, "schema": schema},
        "audit": {"kind": "postgres"},
        "browser": {"screenshots_dir": str(host / "screenshots")},
        "casebook": {"url": casebook_url, "retry_delay_s": 0.5, "lanes": 1},
    }, indent=2))
    return config


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without any Prefect, Clerk or PYTHONPATH setting of the caller."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_", "CLERK_")) and key != "PYTHONPATH"}
    return {**env, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# --- Prefect's API ----------------------------------------------------------------------------------------------

class Api:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def deployment_id(self) -> str:
        response = self.http.get("/deployments/name/mail-intake/mail-intake")
        response.raise_for_status()
        return response.json()["id"]

    def runs(self, deployment_id: str, states: set[str] | None = None) -> list[dict]:
        body: dict = {"deployments": {"id": {"any_": [deployment_id]}}, "limit": 200}
        if states:
            body["flow_runs"] = {"state": {"type": {"any_": sorted(states)}}}
        found, offset = [], 0
        while True:
            response = self.http.post("/flow_runs/filter", json={**body, "offset": offset})
            response.raise_for_status()
            page = response.json()
            found.extend(page)
            if len(page) < 200:
                return found
            offset += 200

    def pause(self, deployment_id: str, paused: bool) -> None:
        self.http.patch(f"/deployments/{deployment_id}", json={"paused": paused}).raise_for_status()

    def drop_scheduled(self, deployment_id: str) -> int:
        """Delete the runs still waiting for a worker (a previous phase's late runs); the scheduler makes new ones."""
        waiting = self.runs(deployment_id, {"SCHEDULED"})
        for flow_run in waiting:
            self.http.delete(f"/flow_runs/{flow_run['id']}").raise_for_status()
        return len(waiting)


# --- one phase ------------------------------------------------------------------------------------------------

class Worker:
    """``prefect worker start --pool clerk --type process --limit 1`` on its own "host"."""

    def __init__(self, name: str, host: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = host / "worker.log"
        (host / "run").mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*prefect_cli(), "worker", "start", "--pool", "clerk", "--type", "process",
                 "--limit", "1", "--name", name], cwd=host / "run", env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def submitted(self) -> list[str]:
        """The flow runs this worker took, from its log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        aborted = set(ABORTED.findall(text))  # another worker got it first
        return [run_id for name, run_id in SUBMITTING.findall(text) if name == self.name and run_id not in aborted]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def settled(mailbox: LocalMailbox, emails: int) -> bool:
    finished = len(mailbox.folder("done")) + len(mailbox.folder("exceptions"))
    return finished >= emails and not mailbox.folder("inbox") and not mailbox.folder("processing")


def run_phase(workers: int, mails: list[Mail], base: Path, api: Api, api_url: str, ledger_url: str, args) -> Phase:
    from sandbox.casebook import CasebookConfig, CasebookServer

    phase = Phase(workers)
    folder = base / f"{workers}-worker{'s' if workers > 1 else ''}"
    schema = f"clerk_scale_{secrets.token_hex(4)}_{workers}"
    password, hmac_key = secrets.token_urlsafe(12), secrets.token_hex(16)
    deployment_id = api.deployment_id()
    with CasebookServer(folder / "casebook.db",
                        CasebookConfig(popup=True, postcode_delay_ms=300, latency_ms=args.latency_ms, seed=args.seed),
                        users={"clerk-bot": password}) as casebook:
        mailbox_root = folder / "mailbox"
        mailbox = LocalMailbox(mailbox_root, "clerk@council.example.gov.uk")
        for mail in mails:
            mailbox.deliver(mail.message)
        hosts = []
        for n in range(1, workers + 1):
            host = folder / f"host-{n}"
            home = checkout(host / "clerk")
            config = host_config(host, mailbox_root, casebook.url, ledger_url, schema, args.max_batch)
            env = clean_env(PREFECT_API_URL=api_url, PREFECT_HOME=str(host / "prefect"),
                            PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_LOGGING_LEVEL="INFO",
                            CLERK_HOME=str(home), CLERK_CONFIG=str(config), CLERK_CASEBOOK_PASSWORD=password,
                            CLERK_AUDIT_HMAC_KEY=hmac_key)
            hosts.append((f"host-{n}", host, env))
        dropped = api.drop_scheduled(deployment_id)
        api.pause(deployment_id, False)
        started = time.perf_counter()
        running = [Worker(name, host, env) for name, host, env in hosts]
        try:
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            last_report = 0.0
            while not settled(mailbox, len(mails)):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{workers} worker(s): the mailbox did not settle in {SETTLE_TIMEOUT_S:g} s; "
                                     f"see {folder}")
                if time.monotonic() - last_report > 30:
                    finished = len(mailbox.folder("done")) + len(mailbox.folder("exceptions"))
                    print(f"  {workers} worker(s): {finished}/{len(mails)} finished after "
                          f"{time.perf_counter() - started:.0f} s", flush=True)
                    last_report = time.monotonic()
                time.sleep(0.5)  # polling folders from outside the workers: nothing to wait on
            phase.wall_s = time.perf_counter() - started
            # No more runs; let the passes under way notice the empty inbox and seal the trail, then stop.
            api.pause(deployment_id, True)
            idle_by = time.monotonic() + IDLE_TIMEOUT_S
            while api.runs(deployment_id, ACTIVE) and time.monotonic() < idle_by:
                time.sleep(1)  # polling Prefect's API for states: nothing to auto-wait on
        finally:
            for worker in running:
                worker.stop()
        taken = {worker.name: worker.submitted() for worker in running}
        took = {run_id for ids in taken.values() for run_id in ids}
        runs = [r for r in api.runs(deployment_id) if r["id"] in took]
        phase.counts = count(mails, mailbox, casebook.cases(), ledger_url, schema, hmac_key,
                             folder, taken, runs)
        phase.counts["late_runs_dropped_before"] = dropped
        with psycopg.connect(ledger_url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return phase


def most_at_once(runs: list[dict]) -> int:
    """The most of these runs that were running at the same moment."""
    edges = []
    for r in runs:
        if r["start_time"]:
            edges.append((r["start_time"], 1))
            edges.append((r["end_time"] or "9999", -1))
    peak = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        current += step
        peak = max(peak, current)
    return peak


def count(mails: list[Mail], mailbox: LocalMailbox, cases: list[dict], ledger_url: str, schema: str,
          hmac_key: str, folder: Path, taken: dict[str, list[str]], runs: list[dict]) -> dict:
    def message_ids(name: str) -> Counter:
        return Counter(str(BytesParser(policy=policy.default).parsebytes(path.read_bytes(),
                                                                         headersonly=True)["Message-ID"])
                       for path in mailbox.folder(name))

    copies = Counter(str(mail.message["Message-ID"]) for mail in mails)
    finished = message_ids("done") + message_ids("exceptions")
    lost = sum(max(0, wanted - finished[mid]) for mid, wanted in copies.items())

    applicants = Counter((case["surname"].lower(), case["date_of_birth"]) for case in cases)
    duplicates = sum(n - 1 for n in applicants.values())

    replies: Counter = Counter()
    for path in mailbox.folder("sent"):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)
        subject = str(message["Subject"]).strip()
        kind = next((k for prefix, k in REPLY_KINDS.items() if subject.startswith(prefix)), "other")
        replies[(str(message["In-Reply-To"]), kind)] += 1
    double_replies = sum(n - 1 for n in replies.values())
    missing = sum((not replies[(mid, "acknowledgement")])
                  + (not any(replies[(mid, kind)] for kind in ("result", "rejection", "delay"))) for mid in copies)

    with psycopg.connect(ledger_url) as db:
        states = Counter(state for (state,) in db.execute(f'SELECT state FROM "{schema}".work_items').fetchall())
    unfinished = sum(n for state, n in states.items() if state not in ("done", "exceptions"))

    config = next(folder.glob("host-1/clerk.yaml"))
    verified = subprocess.run([sys.executable, "-m", "flows.cli", "audit", "verify", "--config", str(config)],
                              cwd=ROOT, env=clean_env(CLERK_AUDIT_HMAC_KEY=hmac_key), capture_output=True, text=True)

    by_id = {r["id"]: r for r in runs}
    per_worker = {name: most_at_once([by_id[i] for i in ids if i in by_id]) for name, ids in taken.items()}
    empty = sum(1 for r in runs if r["name"] == "mail-intake: no new mail")
    return {"finished": sum(finished.values()), "done": len(mailbox.folder("done")),
            "exceptions": len(mailbox.folder("exceptions")), "lost": lost, "duplicates": duplicates,
            "cases": len(cases), "applicants": len(applicants), "double_replies": double_replies,
            "missing_replies": missing, "unfinished_items": unfinished,
            "audit_verified": verified.returncode == 0, "audit_verify_output": verified.stdout.strip()[-300:],
            "runs_per_worker": {name: len(ids) for name, ids in taken.items()},
            "most_runs_at_once_per_worker": max(per_worker.values(), default=0),
            "most_runs_at_once": most_at_once(runs), "empty_runs": empty,
            "states": {r["name"]: r["state_type"] for r in runs if r["state_type"] not in ("COMPLETED",)}}


# --- the whole benchmark --------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=120)
    parser.add_argument("--latency-ms", type=int, default=300,
                        help="Casebook's added latency on every response: the legacy app is the bottleneck")
    parser.add_argument("--max-batch", type=int, default=5, help="mailbox.max_batch on every worker")
    parser.add_argument("--interval", type=int, default=5, help="mail-intake's schedule, seconds")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", default=os.environ.get("CLERK_TEST_POSTGRES_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"),
                        help="a database where this user may create databases (trust or a .pgpass)")
    parser.add_argument("--workdir", type=Path, help="keep the mailboxes, checkouts and logs here")
    args = parser.parse_args()

    mails = generate(args.emails, args.seed)
    kinds = Counter(mail.kind for mail in mails)
    print(f"{len(mails)} emails: {dict(kinds)}; Casebook latency {args.latency_ms} ms, max_batch {args.max_batch}, "
          f"schedule every {args.interval} s", flush=True)
    token = secrets.token_hex(4)
    prefect_db, clerk_db = f"clerk_scale_{token}_prefect", f"clerk_scale_{token}"
    for name in (prefect_db, clerk_db):
        admin(args.postgres_url, f'CREATE DATABASE "{name}"')
    phases: list[Phase] = []
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                                for name in (prefect_db, clerk_db)])
        tmp = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="clerk-scale-")))
        server_home = tmp / "server"
        saved = dict(os.environ)
        os.environ.update({"PREFECT_API_DATABASE_CONNECTION_URL":
                           with_database(args.postgres_url, prefect_db, "postgresql+asyncpg"), **SCHEDULER})
        try:
            record, _ = start_server(server_home, free_port())
        finally:
            os.environ.clear()
            os.environ.update(saved)
        stack.callback(stop_server, server_home)
        deploy_env = clean_env(PREFECT_API_URL=record.api_url, PREFECT_HOME=str(tmp / "deployer"))
        prefect = prefect_cli()
        run([*prefect, "--no-prompt", "work-pool", "create", "clerk", "--type", "process"], ROOT, deploy_env)
        run([*prefect, "--no-prompt", "deploy", "--name", "mail-intake", "--interval", str(args.interval)],
            ROOT, deploy_env)
        api = Api(record.api_url)
        ledger_url = with_database(args.postgres_url, clerk_db)
        for workers in (1, 2):
            print(f"{workers} worker(s)...", flush=True)
            phases.append(run_phase(workers, mails, tmp, api, record.api_url, ledger_url, args))

    columns = ("workers", "emails", "done", "exceptions", "lost", "dup cases", "double replies", "missing replies",
               "unfinished", "audit ok", "runs/worker", "max at once/worker", "empty runs", "wall s", "items/min")
    print("\n" + "  ".join(f"{c:>12}" for c in columns))
    for p in phases:
        c = p.counts
        row = (p.workers, c["finished"], c["done"], c["exceptions"], c["lost"], c["duplicates"], c["double_replies"],
               c["missing_replies"], c["unfinished_items"], "yes" if c["audit_verified"] else "NO",
               "/".join(str(n) for n in c["runs_per_worker"].values()), c["most_runs_at_once_per_worker"],
               c["empty_runs"], f"{p.wall_s:.1f}", f"{p.items_per_min:.1f}")
        print("  ".join(f"{v!s:>12}" for v in row))
    one, two = phases
    for p in phases:
        if not p.counts["audit_verified"]:
            print(f"audit verify ({p.workers} worker(s)): {p.counts['audit_verify_output']}")
    figures = {
        "items_per_min_1": round(one.items_per_min, 2), "items_per_min_2": round(two.items_per_min, 2),
        "speedup": round(two.items_per_min / one.items_per_min, 2) if one.items_per_min else None,
        "duplicates": one.counts["duplicates"] + two.counts["duplicates"],
        "lost": one.counts["lost"] + two.counts["lost"],
        "double_replies": one.counts["double_replies"] + two.counts["double_replies"],
        "missing_replies": one.counts["missing_replies"] + two.counts["missing_replies"],
        "unfinished_items": one.counts["unfinished_items"] + two.counts["unfinished_items"],
        "audit_verified": one.counts["audit_verified"] and two.counts["audit_verified"],
        "wall_s_1": round(one.wall_s, 1), "wall_s_2": round(two.wall_s, 1),
        "runs_per_worker_2": two.counts["runs_per_worker"],
        "most_runs_at_once_per_worker": max(p.counts["most_runs_at_once_per_worker"] for p in phases),
        "empty_runs": {"1": one.counts["empty_runs"], "2": two.counts["empty_runs"]},
        "cases": two.counts["cases"], "emails": len(mails), "kinds": dict(kinds),
        "settings": {"emails": args.emails, "latency_ms": args.latency_ms, "max_batch": args.max_batch,
                     "interval_s": args.interval, "seed": args.seed, "worker_limit": 1, "casebook_lanes": 1,
                     "prefect_database": "postgresql", "cpus": os.cpu_count()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
