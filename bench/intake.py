"""Intake latency benchmark: seconds from an email's arrival to ``clerk watch`` taking it, against polling.

For each configuration, the same N generated Blue Badge emails are delivered one at a time, at seeded
random intervals (uniform 0.3-1.5 s, ``--gaps``), to a loopback mail server while ``watch_mailbox`` runs in a thread
with a real ``mail-intake`` Prefect flow run per pass (one local Prefect server for the whole run;
Casebook faked behind its port, so no browser):

* **ews-streaming**: loopback EWS, ``mailbox.watch: auto`` (a streaming subscription);
* **graph-delta**: loopback Graph, ``mailbox.watch: auto`` (a delta query every ``poll_interval_s: 1``);
* **ews-polling**: loopback EWS, ``mailbox.watch: polling`` every ``--polling-interval`` seconds: the baseline.

An email's latency is the time of its ``claim`` audit event minus the wall time just before ``deliver()``.
One warm-up email per configuration (the first flow run's imports and registrations) is not timed.
Every email must end in Done or Exceptions exactly once (counted on the server; one claim event each).

Prints a table, then one JSON object on the last line:
``{"emails", "ews_streaming_median_s", "ews_streaming_p95_s", "graph_median_s", "graph_p95_s",
"polling_median_s", "polling_p95_s", "polling_interval_s", "prefect_server_start_s", ...}``.
Aim: streaming median under 2 s.

    python bench/intake.py [--emails 50] [--quick] [--polling-interval 5] [--gaps 0.3 1.5] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.ledger import clerk_reference  # noqa: E402
from connectors.settings import EwsSettings, GraphSettings, MailboxSettings, Secrets  # noqa: E402
from sandbox.forms import applicant, blue_badge_pdf  # noqa: E402
from sandbox.mailgen import application_email, staff_address  # noqa: E402

CONFIGURATIONS = ("ews-streaming", "graph-delta", "ews-polling")
JSON_PREFIX = {"ews-streaming": "ews_streaming", "graph-delta": "graph", "ews-polling": "polling"}
GAP_S = (0.3, 1.5)
SETTLE_TIMEOUT_S = 120.0
"""After the last delivery, how long to wait for every email to be taken before calling the run short."""


@dataclass
class Outcome:
    """What one configuration measured."""

    name: str
    watcher: str = "?"
    latencies: list[float] = field(default_factory=list)
    idle_latencies: list[float] = field(default_factory=list)
    """Latencies of the emails that arrived while no pass was running (no queueing behind a pass)."""
    pass_seconds: list[float] = field(default_factory=list)
    passes: int = 0
    done: int = 0
    exceptions: int = 0
    left_over: int = 0
    duplicates: int = 0
    claims_missing: int = 0
    error: str | None = None

    def exactly_once(self, emails: int) -> bool:
        return (self.error is None and self.done + self.exceptions == emails and self.left_over == 0
                and self.duplicates == 0 and self.claims_missing == 0)

    @property
    def median(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies, 95)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``pct`` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# --- the loopback mail servers, set up as a council's config file would ------------------------------------
@dataclass
class Backend:
    deliver: Callable[[EmailMessage], object]
    folder_subjects: Callable[[str], list[str]]
    mailbox: MailboxSettings
    secrets: Secrets


@contextlib.contextmanager
def ews_backend(workdir: Path, watch: str, poll_interval_s: float) -> Iterator[Backend]:
    from tests.mail.backends.ews import PASSWORD, USER, ews_server

    with ews_server(workdir) as server:
        mailbox = MailboxSettings(kind="ews", address=server.mailbox, ca_file=server.ca_file, busy_max_wait_s=2,
                                  watch=watch, poll_interval_s=poll_interval_s,
                                  ews=EwsSettings(url=server.url, username=USER, auth_type="NTLM",
                                                  version="Exchange2016"))
        # Exchange marks mail its own users sent; the sender check relies on it.
        yield Backend(lambda message: server.deliver(message, internal="X-MS-Exchange-Organization-AuthAs" in message),
                      server.folder_subjects, mailbox, Secrets(mail_password=PASSWORD))


@contextlib.contextmanager
def graph_backend(workdir: Path, watch: str, poll_interval_s: float) -> Iterator[Backend]:
    from tests.graph_server import GraphServer

    with GraphServer(workdir / "graph") as server:
        mailbox = MailboxSettings(kind="graph", address=server.mailbox, ca_file=server.ca_file, busy_max_wait_s=2,
                                  watch=watch, poll_interval_s=poll_interval_s,
                                  graph=GraphSettings(tenant_id=server.tenant_id, client_id=server.client_id,
                                                      authority_host=server.authority_host,
                                                      graph_url=server.graph_url))
        yield Backend(server.deliver, server.folder_subjects, mailbox, Secrets(mail_client_secret=server.client_secret))


def backend_for(name: str, workdir: Path, polling_interval_s: float):
    if name == "ews-streaming":
        return ews_backend(workdir, "auto", 1.0)
    if name == "graph-delta":
        return graph_backend(workdir, "auto", 1.0)
    return ews_backend(workdir, "polling", polling_interval_s)


class _WatchedMailbox:
    """The configured mailbox adapter, remembering the watcher ``watch_mailbox`` got (to report its mode:
    a server that refused streaming would silently turn the measurement into polling)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.watcher = None

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def watch(self):
        self.watcher = self._inner.watch()
        return self.watcher


# --- one configuration ----------------------------------------------------------------------------------
def make_emails(count: int, seed: int) -> list[EmailMessage]:
    """``count`` valid applications from staff, each a different applicant, each with its own subject."""
    rng = random.Random(seed)
    return [application_email(staff_address(rng), blue_badge_pdf(applicant(rng)),
                              subject=f"Blue Badge application {number:03d}")
            for number in range(1, count + 1)]


def measure(name: str, workdir: Path, emails: list[EmailMessage], warm_up: EmailMessage, gaps: list[float],
            polling_interval_s: float) -> Outcome:
    """Deliver ``emails`` at ``gaps`` while ``clerk watch`` runs; return the latencies and the final counts."""
    from flows.bootstrap import bootstrap, build_mailbox, use_services
    from flows.intake import intake
    from flows.watch import watch_mailbox
    from tests.fakes.casebook import FakeCasebook
    from tests.flow_harness import settings_in

    outcome = Outcome(name)
    casebook = FakeCasebook()
    taken = threading.Condition()
    counts = {"taken": 0, "wakes": 0, "running": True}
    passes: list[tuple[float, float]] = []  # wall-clock start and end of each intake pass

    def run_pass() -> None:
        started = time.time()
        results = intake()
        with taken:
            passes.append((started, time.time()))
            counts["taken"] += len(results)
            taken.notify_all()

    def on_wake() -> None:
        with taken:
            counts["wakes"] += 1
            taken.notify_all()

    def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
        with taken:
            return taken.wait_for(lambda: predicate() or not counts["running"], timeout) and predicate()

    with backend_for(name, workdir, polling_interval_s) as backend:
        settings = settings_in(workdir)
        settings.mailbox = backend.mailbox
        mailbox = _WatchedMailbox(build_mailbox(settings, backend.secrets))
        services = bootstrap(settings, mailbox=mailbox, secrets=backend.secrets, casebook_factory=lambda _: casebook)
        stop = threading.Event()

        def watch() -> None:
            try:
                outcome.passes = watch_mailbox(services, stop, run_pass, on_wake)
            except Exception as exc:  # noqa: BLE001 - reported in the table, never hidden
                outcome.error = f"{type(exc).__name__}: {exc}"
            finally:
                with taken:
                    counts["running"] = False
                    taken.notify_all()

        with use_services(services):
            runner = threading.Thread(target=contextvars.copy_context().run, args=(watch,), name=f"watch-{name}")
            runner.start()
            delivered: dict[str, float] = {}
            try:
                if not wait_until(lambda: counts["wakes"] >= 1, SETTLE_TIMEOUT_S):  # subscribed and looking
                    outcome.error = outcome.error or "the watcher never looked at the inbox"
                    return outcome
                backend.deliver(warm_up)
                if not wait_until(lambda: counts["taken"] >= 1, SETTLE_TIMEOUT_S + polling_interval_s):
                    outcome.error = outcome.error or "the warm-up email was not taken"
                    return outcome
                for message, gap in zip(emails, gaps, strict=True):
                    stop.wait(gap)  # the next email arrives a random while later
                    delivered[str(message["Message-ID"])] = time.time()
                    backend.deliver(message)
                if not wait_until(lambda: counts["taken"] >= len(emails) + 1, SETTLE_TIMEOUT_S + polling_interval_s):
                    outcome.error = outcome.error or f"only {counts['taken']} of {len(emails) + 1} emails were taken"
            finally:
                stop.set()
                runner.join(timeout=60)
            if runner.is_alive() and outcome.error is None:
                outcome.error = "the watch thread did not stop"
            outcome.watcher = getattr(mailbox.watcher, "mode", "?")
            claims = claim_times(settings)
        total = len(emails) + 1  # and the warm-up
        done, parked = backend.folder_subjects("Done"), backend.folder_subjects("Exceptions")
        outcome.done, outcome.exceptions = len(done), len(parked)
        outcome.left_over = len(backend.folder_subjects("inbox")) + len(backend.folder_subjects("Processing"))
        outcome.duplicates = sum(n - 1 for n in Counter(done + parked).values() if n > 1)
        outcome.duplicates += sum(len(times) - 1 for times in claims.values() if len(times) > 1)
    for message_id, sent_at in delivered.items():
        times = claims.get(clerk_reference(message_id))
        if times:
            outcome.latencies.append(times[0] - sent_at)
            if not any(start <= sent_at <= end for start, end in passes):
                outcome.idle_latencies.append(times[0] - sent_at)
    outcome.pass_seconds = [end - start for start, end in passes[1:]]  # not the warm-up's
    outcome.claims_missing = total - len(claims)
    return outcome


def claim_times(settings) -> dict[str, list[float]]:
    """Clerk reference -> wall times (epoch seconds) of its ``claim`` audit events, oldest first."""
    from connectors.audit_store import events

    claims: dict[str, list[float]] = {}
    for event in events(settings, missing_ok=True):
        if event.get("step") == "claim":
            claims.setdefault(event["reference"], []).append(datetime.fromisoformat(event["time"]).timestamp())
    return claims


# --- the run --------------------------------------------------------------------------------------------
def _seconds(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _fmt(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def report(outcomes: dict[str, Outcome], emails: int, polling_interval_s: float, gaps: tuple[float, float],
           server_s: float) -> dict:
    """Print the table, then the figures as one JSON object on the last line; return the figures."""
    baseline = outcomes.get("ews-polling")
    base = baseline.median if baseline else None

    def vs_polling(outcome: Outcome | None) -> float | None:
        return outcome.median / base if outcome and base and outcome.median is not None else None

    print(f"{'configuration':<15}{'watcher':<11}{'emails':>7}{'median s':>10}{'p95 s':>8}{'max s':>8}"
          f"{'idle':>6}{'idle median s':>15}{'passes':>8}{'pass s':>8}{'once':>6}{'vs polling':>12}")
    for name, outcome in outcomes.items():
        print(f"{name:<15}{outcome.watcher:<11}{len(outcome.latencies):>7}{_fmt(outcome.median):>10}"
              f"{_fmt(outcome.p95):>8}{_fmt(max(outcome.latencies, default=None)):>8}{len(outcome.idle_latencies):>6}"
              f"{_fmt(_median(outcome.idle_latencies)):>15}{outcome.passes:>8}{_fmt(_median(outcome.pass_seconds)):>8}"
              f"{'yes' if outcome.exactly_once(emails + 1) else 'NO':>6}{_fmt(vs_polling(outcome)):>12}")
        if outcome.error:
            print(f"  {name}: {outcome.error}", file=sys.stderr)
    print(f"{emails} emails each, {gaps[0]:g}-{gaps[1]:g} s apart (seeded), after one untimed warm-up; latency = claim "
          f"audit event - deliver(); 'idle': emails that arrived while no pass was running; 'pass s': median "
          f"intake pass; 'once': Done + Exceptions = emails + warm-up, none left, no duplicate; polling every "
          f"{polling_interval_s:g} s; aim: streaming median < 2 s; Prefect server start (once): {server_s:.1f} s")
    figures: dict[str, object] = {"emails": emails}
    for name in CONFIGURATIONS:
        outcome, prefix = outcomes.get(name), JSON_PREFIX[name]
        figures[f"{prefix}_median_s"] = _seconds(outcome.median) if outcome else None
        figures[f"{prefix}_p95_s"] = _seconds(outcome.p95) if outcome else None
    for name in CONFIGURATIONS:
        outcome, prefix = outcomes.get(name), JSON_PREFIX[name]
        figures.update({
            f"{prefix}_watcher": outcome.watcher if outcome else None,
            f"{prefix}_idle_emails": len(outcome.idle_latencies) if outcome else None,
            f"{prefix}_idle_median_s": _seconds(_median(outcome.idle_latencies)) if outcome else None,
            f"{prefix}_pass_median_s": _seconds(_median(outcome.pass_seconds)) if outcome else None,
            f"{prefix}_done_plus_exceptions": outcome.done + outcome.exceptions if outcome else None,
            f"{prefix}_processed_once": outcome.exactly_once(emails + 1) if outcome else None,
        })
    figures["ews_streaming_vs_polling"] = _seconds(vs_polling(outcomes.get("ews-streaming")))
    figures["graph_vs_polling"] = _seconds(vs_polling(outcomes.get("graph-delta")))
    figures.update(polling_interval_s=polling_interval_s, gap_s=list(gaps), warmup_emails=1, latency_from="claim audit event",
                   prefect_server_start_s=round(server_s, 2))
    print(json.dumps(figures))
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=None, help="timed emails per configuration (default 50)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 emails per configuration")
    parser.add_argument("--polling-interval", type=float, default=5.0, help="the baseline's polling interval, s")
    parser.add_argument("--only", action="append", choices=CONFIGURATIONS,
                        help="measure only this configuration (repeatable); default: all three")
    parser.add_argument("--gaps", type=float, nargs=2, default=GAP_S, metavar=("MIN", "MAX"),
                        help="seconds between deliveries, drawn uniformly (default 0.3 1.5)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    emails = args.emails or (10 if args.quick else 50)
    names = [name for name in CONFIGURATIONS if name in (args.only or CONFIGURATIONS)]
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

    import flows.intake  # noqa: F401 - sets up Prefect's console logging, which the run then quietens
    from flows.demo import quiet_prefect_console
    from flows.prefect_server import local_prefect_server

    rng = random.Random(args.seed)
    gaps = [rng.uniform(*args.gaps) for _ in range(emails)]  # the same arrival pattern for every configuration
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="clerk-bench-intake-") as tmp:
        tmp = Path(tmp)
        server_started = time.perf_counter()
        with local_prefect_server(tmp / "prefect"), quiet_prefect_console():
            server_s = time.perf_counter() - server_started
            for number, name in enumerate(names):
                batch = make_emails(emails + 1, seed=args.seed + number)  # new Message-IDs for every server
                outcomes[name] = measure(name, tmp / name, batch[1:], batch[0], gaps, args.polling_interval)
    return report(outcomes, emails, args.polling_interval, tuple(args.gaps), server_s)


if __name__ == "__main__":
    main()
