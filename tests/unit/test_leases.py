"""The ledger's claims: one owner at a time, leases that run out, fences that refuse a stale owner, replies
recorded once, every change kept; and the worker-side keeper that renews and lets go."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from connectors.leases import Leases, owner_is_dead, worker_identity
from connectors.ledger import LeaseLost, SqliteLedger


@pytest.fixture
def ledger(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.db")
    yield ledger
    ledger.close()


def test_a_new_reference_is_claimed_once_and_a_second_owner_is_refused_while_the_lease_lasts(ledger):
    first = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60, email_id="e1")
    assert (first.fence, first.previous) == (1, None)
    assert ledger.claim("CLK-A", "<m>", "host/2/b", lease_s=60) is None
    item = ledger.get("CLK-A")
    assert (item.owner, item.state, item.attempts, item.email_id, item.process) == ("host/1/a", "received", 1, "e1",
                                                                                   "unrouted")


def test_an_expired_lease_is_taken_over_and_the_stale_owners_writes_are_refused(ledger):
    stale = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    ledger.update("CLK-A", "keying", fence=stale.fence)
    with sqlite3.connect(ledger.path) as db:  # the owner stopped renewing: its lease is in the past
        db.execute("UPDATE work_items SET lease_until = 0")
    taker = ledger.claim("CLK-A", "<m>", "host/2/b", lease_s=60)
    assert (taker.fence, taker.previous.state, taker.previous.owner) == (2, "keying", "host/1/a")
    with pytest.raises(LeaseLost):
        ledger.update("CLK-A", "done", fence=stale.fence, outcome="created")
    with pytest.raises(LeaseLost):
        ledger.record_reply("CLK-A", "created", "sent", fence=stale.fence)
    assert ledger.renew("host/1/a", {"CLK-A": stale.fence}, 60) == {"CLK-A"}
    ledger.update("CLK-A", "done", fence=taker.fence, outcome="created")
    assert (ledger.get("CLK-A").state, ledger.get("CLK-A").attempts) == ("done", 2)


def test_a_dead_holder_can_be_robbed_only_by_naming_its_claim(ledger):
    held = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=600)
    assert ledger.claim("CLK-A", "<m>", "host/2/b", 600, steal=("host/1/a", held.fence + 1)) is None
    assert ledger.claim("CLK-A", "<m>", "host/2/b", 600, steal=("host/1/a", held.fence)).fence == 2


def test_replies_are_recorded_and_every_change_is_kept(ledger):
    claim = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    assert ledger.reply_state("CLK-A", "acknowledgement") is None
    ledger.record_reply("CLK-A", "acknowledgement", "sending", fence=claim.fence)
    assert ledger.reply_state("CLK-A", "acknowledgement") == "sending"
    ledger.record_reply("CLK-A", "acknowledgement", "sent", fence=claim.fence)
    ledger.update("CLK-A", "done", fence=claim.fence, outcome="created", case_reference="BB-1")
    ledger.release("CLK-A", claim.fence)
    changes = [(h["change"], h["state"], h["detail"]) for h in ledger.history("CLK-A")]
    assert changes == [("claimed", "received", None), ("reply sending", None, "acknowledgement"),
                       ("reply sent", None, "acknowledgement"),
                       ("state", "done", "outcome=created, case_reference=BB-1"), ("released", None, None)]
    assert ledger.get("CLK-A").owner is None and ledger.reply_state("CLK-A", "acknowledgement") == "sent"


def test_a_ledger_from_the_previous_version_gains_the_lease_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE work_items (reference TEXT PRIMARY KEY, message_id TEXT NOT NULL, process TEXT NOT
            NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, outcome TEXT, reason_code TEXT,
            case_reference TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
        db.execute("INSERT INTO work_items VALUES ('CLK-A', '<m>', 'blue_badge', 'done', 1, 'created', NULL, 'BB-1',"
                   " 't', 't')")
    ledger = SqliteLedger(path)
    again = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    assert (again.previous.state, again.previous.case_reference, again.fence) == ("done", "BB-1", 1)
    ledger.close()


def test_only_a_process_of_this_host_whose_pid_is_gone_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = worker_identity().split("/")[0]
    assert owner_is_dead(f"{host}/{child.pid}/abcd")
    assert not owner_is_dead(worker_identity()), "this process is alive"
    assert not owner_is_dead(f"elsewhere.example/{child.pid}/abcd"), "another host's process: wait for its lease"
    assert not owner_is_dead(None) and not owner_is_dead("garbage")


def test_the_keeper_renews_what_it_holds_and_lets_go_what_a_pass_left(ledger):
    leases = Leases(ledger, lease_s=3)
    with leases.scope() as pass_id:
        claim = leases.claim("CLK-A", "<m>", pass_id=pass_id)
        assert leases.claim("CLK-A", "<m>", pass_id=pass_id) is None, "held by this worker already"
        first_until = ledger.get("CLK-A").lease_until
        deadline = time.monotonic() + 30
        while ledger.get("CLK-A").lease_until == first_until:  # the heartbeat beats every lease_s / 3
            assert time.monotonic() < deadline, "the lease was renewed"
            time.sleep(0.1)
        leases.update("CLK-A", "keying")
        assert ledger.get("CLK-A").fence == claim.fence
    item = ledger.get("CLK-A")
    assert (item.owner, item.state) == (None, "keying"), "a pass that ended without finishing let the item go"
    assert not leases.holds("CLK-A")
    with pytest.raises(LeaseLost):
        leases.update("CLK-A", "done")
    leases.close()


def test_a_reply_is_sent_once_even_when_asked_twice(ledger):
    leases = Leases(ledger, lease_s=60)
    leases.claim("CLK-A", "<m>")
    sent = []
    assert leases.reply_once("CLK-A", "acknowledgement", lambda: sent.append(1))
    assert not leases.reply_once("CLK-A", "acknowledgement", lambda: sent.append(2))
    assert sent == [1]
    leases.close()
