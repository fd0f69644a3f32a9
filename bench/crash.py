"""Crash benchmark: SIGKILL ``clerk watch`` at random moments while mail arrives, restart it, and count what
was lost, left behind or done twice.

Two runs of the same generated mail (valid applications, a few wrong forms, resends of an applicant in a new
email, and redeliveries of the very same email) into the real Casebook sandbox, keyed by real Chromium,
one local Prefect server for both:

* **baseline**: one ``clerk watch`` process, never killed, until every email is finished;
* **crash**: mail is delivered at random intervals while ``clerk watch`` is started, SIGKILLed (with
  everything it started: browsers, parser processes) and started again, ``--kills`` times: a fifth of the
  kills while it is still starting up, the rest a random 0-``--max-life`` seconds after it is watching
  (recovering, claiming, reading, keying or replying); then one last ``clerk watch`` runs until every
  email is finished.

Then, from the mailbox folders, the Casebook sandbox, the ledger and the audit trail:
``lost`` (an email whose every copy vanished, or that never reached Done or Exceptions), ``stranded`` (left in
the inbox or Processing), ``duplicate_cases`` (Casebook cases beyond one per applicant), ``double_replies``
(a second reply of the same kind to one email: acknowledgement, result, rejection, delay),
``missing_replies`` (an email from staff without its acknowledgement or its answer), ``unfinished_items``
(ledger items not Done or Exceptions) and whether ``clerk audit verify`` passes. Every one must be 0 (True).

Prints a table, then one JSON object on the last line:
``{"emails", "kills", "lost", "stranded", "duplicate_cases", "double_replies", "missing_replies", ...}``.

    python bench/crash.py [--emails 50] [--kills 50] [--max-life 30] [--seed 7] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.ledger import SqliteLedger, clerk_reference  # noqa: E402
from connectors.mail.local import LocalMailbox  # noqa: E402
from sandbox.forms import INVALID_VARIANTS, applicant, blue_badge_pdf  # noqa: E402
from sandbox.mailgen import application_email, staff_address  # noqa: E402

MARKER = "CLERK_CRASH_BENCH"
"""Set in each ``clerk watch``'s environment; its browsers and parser processes inherit it, so a kill takes
them too, as a host's crash would."""
SETTLE_TIMEOUT_S = 900.0
STARTUP_S = 10.0
"""Roughly how long ``clerk watch`` takes to start on this kind of host (only to spread the deliveries)."""
REPLY_KINDS = {"Received": "acknowledgement", "Blue Badge application keyed": "result", "Already keyed": "result",
               "Application already held": "result", "Action needed": "rejection", "Delayed": "delay"}


@dataclass
class Mail:
    message: EmailMessage
    kind: str  # new, resend, redelivery, invalid


@dataclass
class Run:
    name: str
    kills: int = 0
    wall_s: float = 0.0
    delivered: int = 0
    counts: dict = field(default_factory=dict)


def generate(count: int, seed: int) -> list[Mail]:
    """``count`` emails: about 70 % new applications, 10 % wrong forms, 10 % resends, 10 % redeliveries."""
    rng = random.Random(seed)
    mails: list[Mail] = []
    people = []
    while len(mails) < count:
        roll = rng.random()
        if roll < 0.1 and people:
            person = rng.choice(people)
            mails.append(Mail(application_email(staff_address(rng), blue_badge_pdf(person),
                                                subject="FW: Blue Badge application"), "resend"))
        elif roll < 0.2 and mails:
            original = rng.choice([m for m in mails if m.kind != "redelivery"])
            mails.append(Mail(original.message, "redelivery"))
        elif roll < 0.3:
            wrong = INVALID_VARIANTS[rng.choice(sorted(INVALID_VARIANTS))](applicant(rng))
            mails.append(Mail(application_email(staff_address(rng), blue_badge_pdf(wrong)), "invalid"))
        else:
            person = applicant(rng)
            people.append(person)
            mails.append(Mail(application_email(staff_address(rng), blue_badge_pdf(person)), "new"))
    return mails


def write_config(workdir: Path, casebook_url: str) -> Path:
    config = workdir / "clerk.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "mailbox": {"root": str(workdir / "mailbox"), "poll_interval_s": 0.2, "sweep_interval_s": 3,
                    "passes_at_once": 2},
        "ledger": {"path": str(workdir / "ledger.db"), "lease_s": 15},
        "audit": {"path": str(workdir / "audit" / "audit.jsonl")},
        "browser": {"screenshots_dir": str(workdir / "screenshots")},
        "casebook": {"url": casebook_url, "retry_delay_s": 0.5, "lanes": 1},
    }, indent=2))
    return config


class Watch:
    """One ``clerk watch`` process (and everything it starts)."""

    def __init__(self, config: Path, env: dict, log: Path) -> None:
        self.token = secrets.token_hex(6)
        self.log_path = log
        self.log = log.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "flows.cli", "watch", "--config", str(config)],
                                        cwd=ROOT, env={**env, MARKER: self.token}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 180.0) -> bool:
        """Until it prints that it is watching (its imports, bootstrap and Prefect client are up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if b"Watching" in self.log_path.read_bytes():
                return True
            time.sleep(0.1)  # reading another process's log: nothing to wait on
        return False

    def kill(self) -> None:
        """SIGKILL, at once, the watch and every process it started."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for _ in range(3):  # children may still be forking while we look
            if not _kill_marked(self.token):
                break
        self.log.close()

    def stop(self) -> None:
        """Ctrl-C: let passes under way finish."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _kill_marked(self.token)
        self.log.close()


def _kill_marked(token: str) -> int:
    needle = f"{MARKER}={token}".encode()
    killed = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


def settled(mailbox: LocalMailbox, delivered: int) -> bool:
    finished = len(mailbox.folder("done")) + len(mailbox.folder("exceptions"))
    return finished >= delivered and not mailbox.folder("inbox") and not mailbox.folder("processing")


def wait_settled(mailbox: LocalMailbox, delivered: int, watch: Watch) -> bool:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if settled(mailbox, delivered):
            return True
        if watch.process.poll() is not None:
            return False
        time.sleep(0.5)  # polling folders from outside the worker: nothing to wait on
    return False


def run(name: str, mails: list[Mail], workdir: Path, env: dict, *, kills: int, max_life: float, seed: int) -> Run:
    from sandbox.casebook import CasebookConfig, CasebookServer

    rng = random.Random(seed)
    workdir.mkdir(parents=True)
    result = Run(name)
    password = secrets.token_urlsafe(12)
    with CasebookServer(workdir / "casebook.db", CasebookConfig(popup=True, postcode_delay_ms=300, seed=seed),
                        users={"clerk-bot": password}) as casebook:
        config = write_config(workdir, casebook.url)
        mailbox = LocalMailbox(workdir / "mailbox", "clerk@council.example.gov.uk")
        env = {**env, "CLERK_CASEBOOK_PASSWORD": password}
        started = time.perf_counter()
        if kills == 0:
            for mail in mails:
                mailbox.deliver(mail.message)
            result.delivered = len(mails)
            watch = Watch(config, env, workdir / "watch-baseline.log")
        else:
            feeding = threading.Event()

            def feed() -> None:  # mail keeps arriving through the first half of the kills
                for mail in mails:
                    mailbox.deliver(mail.message)
                    result.delivered += 1
                    time.sleep(rng.uniform(0.2, kills * (STARTUP_S + max_life / 2) / len(mails)))
                feeding.set()

            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            while result.kills < kills or not feeding.is_set():
                watch = Watch(config, env, workdir / f"watch-{result.kills:03d}.log")
                if rng.random() < 0.2:  # a fifth of the kills land while it is still starting up
                    time.sleep(rng.uniform(0.5, 5.0))
                else:  # the rest at a random moment of its work: recovering, claiming, reading, keying, replying
                    watch.wait_ready()
                    time.sleep(rng.uniform(0.0, max_life))
                watch.kill()
                result.kills += 1
                print(f"  {name}: kill {result.kills}/{kills}, {result.delivered} delivered, "
                      f"{len(mailbox.folder('done')) + len(mailbox.folder('exceptions'))} finished", flush=True)
            feeder.join()
            watch = Watch(config, env, workdir / "watch-final.log")
        finished = wait_settled(mailbox, result.delivered, watch)
        result.wall_s = time.perf_counter() - started
        watch.stop()
        result.counts = count(mails, workdir, mailbox, casebook.cases())
        result.counts["settled"] = finished
    return result


def count(mails: list[Mail], workdir: Path, mailbox: LocalMailbox, cases: list[dict]) -> dict:
    def message_ids(folder: str) -> Counter:
        return Counter(str(BytesParser(policy=policy.default).parsebytes(path.read_bytes(),
                                                                         headersonly=True)["Message-ID"])
                       for path in mailbox.folder(folder))

    copies = Counter(str(mail.message["Message-ID"]) for mail in mails)
    finished = message_ids("done") + message_ids("exceptions")
    left = message_ids("inbox") + message_ids("processing")
    lost = sum(max(0, wanted - finished[mid] - left[mid]) for mid, wanted in copies.items())

    applicants = Counter((case["surname"].lower(), case["date_of_birth"]) for case in cases)
    duplicate_cases = sum(n - 1 for n in applicants.values())

    replies: Counter = Counter()
    for path in mailbox.folder("sent"):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)
        subject = str(message["Subject"]).strip()
        kind = next((k for prefix, k in REPLY_KINDS.items() if subject.startswith(prefix)), "other")
        replies[(str(message["In-Reply-To"]), kind)] += 1
    double_replies = sum(n - 1 for n in replies.values())
    missing = 0
    for mid in copies:  # every email from staff: an acknowledgement, and an answer
        answered = any(replies[(mid, kind)] for kind in ("result", "rejection", "delay"))
        missing += (not replies[(mid, "acknowledgement")]) + (not answered)

    ledger = SqliteLedger(workdir / "ledger.db")
    unfinished = sum(1 for item in ledger.items() if not item.final)
    references = {clerk_reference(mid) for mid in copies}
    unknown = len(references - {item.reference for item in ledger.items()})
    ledger.close()

    from connectors.audit_verify import verify

    audit = verify(workdir / "audit" / "audit.jsonl")
    return {"lost": lost, "stranded": sum(left.values()), "duplicate_cases": duplicate_cases,
            "double_replies": double_replies, "missing_replies": missing, "unfinished_items": unfinished,
            "not_in_ledger": unknown, "cases": len(cases), "applicants": len(applicants),
            "done": len(mailbox.folder("done")), "exceptions": len(mailbox.folder("exceptions")),
            "audit_verified": audit.ok, "audit_events": audit.events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=50)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--max-life", type=float, default=30.0,
                        help="most kills come a random 0 to this many seconds after clerk watch is watching")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="keep the mailboxes, ledgers, trails and logs here")
    args = parser.parse_args()

    from flows.prefect_server import local_prefect_server

    mails = generate(args.emails, args.seed)
    kinds = Counter(mail.kind for mail in mails)
    print(f"{len(mails)} emails: {dict(kinds)}; {args.kills} kills, most 0-{args.max_life:g} s into the work",
          flush=True)
    with contextlib.ExitStack() as stack:
        tmp = args.workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="clerk-crash-"))
        api_url = stack.enter_context(local_prefect_server(Path(tmp) / "prefect"))
        env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_LOGGING_LEVEL": "WARNING"}
        env.pop("CLERK_CONFIG", None)
        runs = [run("baseline", mails, Path(tmp) / "baseline", env, kills=0, max_life=args.max_life, seed=args.seed),
                run("crash", mails, Path(tmp) / "crash", env, kills=args.kills, max_life=args.max_life,
                    seed=args.seed)]

    columns = ("run", "kills", "emails", "done", "exceptions", "lost", "stranded", "dup cases", "double replies",
               "missing replies", "unfinished", "audit ok", "wall s")
    print("\n" + "  ".join(f"{c:>15}" if i else f"{c:<9}" for i, c in enumerate(columns)))
    for r in runs:
        c = r.counts
        row = (r.name, r.kills, r.delivered, c["done"], c["exceptions"], c["lost"], c["stranded"],
               c["duplicate_cases"], c["double_replies"], c["missing_replies"], c["unfinished_items"],
               "yes" if c["audit_verified"] else "NO", f"{r.wall_s:.1f}")
        print("  ".join(f"{v!s:>15}" if i else f"{v!s:<9}" for i, v in enumerate(row)))
    crash, baseline = runs[1], runs[0]
    figures = {"emails": len(mails), "kinds": dict(kinds), "kills": crash.kills,
               **{key: crash.counts[key] for key in ("lost", "stranded", "duplicate_cases", "double_replies",
                                                     "missing_replies", "unfinished_items", "not_in_ledger",
                                                     "audit_verified", "settled", "cases", "applicants")},
               "baseline": {key: baseline.counts[key] for key in ("lost", "stranded", "duplicate_cases",
                                                                  "double_replies", "missing_replies", "cases")},
               "baseline_wall_s": round(baseline.wall_s, 1), "crash_wall_s": round(crash.wall_s, 1)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
