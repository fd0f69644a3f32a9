"""The Ledger port's contract, run against SQLite and PostgreSQL alike: one owner at a time, leases that run
out, fences that refuse a stale owner, replies recorded once, every change kept; and locks that make every
other holder of the same key wait, in this process and in other processes."""

from __future__ import annotations

import threading

import pytest

from connectors.errors import SystemError
from connectors.ledger import LeaseLost, LedgerLockTimeout, LedgerUnavailable


def test_a_new_reference_is_claimed_once_and_a_second_owner_is_refused_while_the_lease_lasts(ledger):
    first = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60, email_id="e1")
    assert (first.fence, first.previous) == (1, None)
    assert ledger.claim("CLK-A", "<m>", "host/2/b", lease_s=60) is None
    item = ledger.get("CLK-A")
    assert (item.owner, item.state, item.attempts, item.email_id, item.process) == ("host/1/a", "received", 1, "e1",
                                                                                   "unrouted")
    assert item.leased() and item.created_at.endswith("+00:00")


def test_the_same_owner_claims_again_with_a_new_fence(ledger):
    first = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60, email_id="e1")
    again = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    assert (again.fence, again.previous.fence, again.previous.owner) == (2, first.fence, "host/1/a")
    assert (ledger.get("CLK-A").attempts, ledger.get("CLK-A").email_id) == (2, "e1"), "email_id kept when not given"


def test_an_expired_lease_is_taken_over_and_the_stale_owners_writes_are_refused(backend, ledger):
    stale = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    ledger.update("CLK-A", "keying", fence=stale.fence)
    backend.expire_leases()  # the owner stopped renewing: its lease is in the past
    taker = ledger.claim("CLK-A", "<m>", "host/2/b", lease_s=60)
    assert (taker.fence, taker.previous.state, taker.previous.owner) == (2, "keying", "host/1/a")
    with pytest.raises(LeaseLost):
        ledger.update("CLK-A", "done", fence=stale.fence, outcome="created")
    with pytest.raises(LeaseLost):
        ledger.record_reply("CLK-A", "created", "sent", fence=stale.fence)
    assert ledger.renew("host/1/a", {"CLK-A": stale.fence}, 60) == {"CLK-A"}
    ledger.release("CLK-A", stale.fence)  # a stale release changes nothing
    assert ledger.get("CLK-A").owner == "host/2/b"
    ledger.update("CLK-A", "done", fence=taker.fence, outcome="created")
    assert (ledger.get("CLK-A").state, ledger.get("CLK-A").attempts) == ("done", 2)
    assert ledger.reply_state("CLK-A", "created") is None, "the refused reply left no record"


def test_a_dead_holder_can_be_robbed_only_by_naming_its_claim(ledger):
    held = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=600)
    assert ledger.claim("CLK-A", "<m>", "host/2/b", 600, steal=("host/1/a", held.fence + 1)) is None
    assert ledger.claim("CLK-A", "<m>", "host/2/b", 600, steal=("host/1/a", held.fence)).fence == 2


def test_renewal_extends_only_the_leases_the_owner_still_holds(backend, ledger):
    a = ledger.claim("CLK-A", "<a>", "host/1/a", lease_s=60)
    b = ledger.claim("CLK-B", "<b>", "host/1/a", lease_s=60)
    backend.expire_leases()
    ledger.claim("CLK-B", "<b>", "host/2/b", lease_s=60)
    assert ledger.renew("host/1/a", {"CLK-A": a.fence, "CLK-B": b.fence}, 60) == {"CLK-B"}
    assert ledger.get("CLK-A").leased(), "renewed after it had run out, since nobody took it"
    assert ledger.renew("host/1/a", {}, 60) == set()


def test_replies_are_recorded_and_every_change_is_kept(ledger):
    claim = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    assert ledger.reply_state("CLK-A", "acknowledgement") is None
    ledger.record_reply("CLK-A", "acknowledgement", "sending", fence=claim.fence)
    assert ledger.reply_state("CLK-A", "acknowledgement") == "sending"
    ledger.record_reply("CLK-A", "acknowledgement", "sent", fence=claim.fence)
    ledger.update("CLK-A", "done", fence=claim.fence, outcome="created", case_reference="BB-1")
    ledger.release("CLK-A", claim.fence)
    history = ledger.history("CLK-A")
    changes = [(h["change"], h["state"], h["owner"], h["fence"], h["detail"]) for h in history]
    assert changes == [("claimed", "received", "host/1/a", 1, None), ("reply sending", None, None, 1, "acknowledgement"),
                       ("reply sent", None, None, 1, "acknowledgement"),
                       ("state", "done", None, 1, "outcome=created, case_reference=BB-1"),
                       ("released", None, None, 1, None)]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert ledger.get("CLK-A").owner is None and ledger.reply_state("CLK-A", "acknowledgement") == "sent"
    assert ledger.history("CLK-NONE") == []


def test_a_takeover_is_recorded_with_the_owner_it_was_taken_from(backend, ledger):
    ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    backend.expire_leases()
    ledger.claim("CLK-A", "<m>", "host/2/b", lease_s=60)
    assert [(h["change"], h["owner"], h["fence"], h["detail"]) for h in ledger.history("CLK-A")] == [
        ("claimed", "host/1/a", 1, None), ("claimed", "host/2/b", 2, "from host/1/a")]


def test_unfenced_updates_and_the_items_and_counts_views(ledger):
    for reference in ("CLK-A", "CLK-B", "CLK-C"):
        ledger.claim(reference, f"<{reference}>", "host/1/a", lease_s=60)
    ledger.update("CLK-B", "done", outcome="created", process="blue_badge")
    ledger.update("CLK-C", "exceptions", reason_code="APP_UNAVAILABLE")
    assert [item.reference for item in ledger.items()] == ["CLK-A", "CLK-B", "CLK-C"]
    assert [(item.reference, item.state, item.process) for item in ledger.items(["CLK-B", "CLK-X"])] == [
        ("CLK-B", "done", "blue_badge")]
    assert ledger.items([]) == []
    assert ledger.counts() == {"received": 1, "done": 1, "exceptions": 1}
    assert ledger.get("CLK-X") is None


def test_bad_updates_are_refused(ledger):
    claim = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    with pytest.raises(ValueError, match="state"):
        ledger.update("CLK-A", "finished", fence=claim.fence)
    with pytest.raises(ValueError, match="fields"):
        ledger.update("CLK-A", "done", fence=claim.fence, colour="red")
    with pytest.raises(ValueError, match="reply state"):
        ledger.record_reply("CLK-A", "acknowledgement", "maybe", fence=claim.fence)
    with pytest.raises(LedgerUnavailable, match="no item CLK-X"):
        ledger.update("CLK-X", "done")
    assert ledger.get("CLK-A").state == "received"
    assert [h["change"] for h in ledger.history("CLK-A")] == ["claimed"]


def test_a_second_ledger_on_the_same_store_sees_the_same_items(backend, ledger):
    ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    other = backend.open()
    assert other.claim("CLK-A", "<m>", "host/2/b", lease_s=60) is None
    assert other.get("CLK-A").owner == "host/1/a"


def test_a_closed_ledger_refuses_with_a_system_error(backend):
    ledger = backend.open()
    ledger.close()
    with pytest.raises(LedgerUnavailable):
        ledger.get("CLK-A")


# --- locks ------------------------------------------------------------------------------------------
def test_a_held_key_makes_every_other_holder_wait_and_a_wait_too_long_is_a_retryable_system_error(backend):
    holder, other = backend.open(lock_timeout_s=30), backend.open(lock_timeout_s=0.2)
    with holder.hold("okafor|1950-03-07"):
        with pytest.raises(LedgerLockTimeout) as caught:
            with other.hold("okafor|1950-03-07"):
                pytest.fail("entered a held lock")
    assert isinstance(caught.value, SystemError) and caught.value.retryable
    assert caught.value.code == "LEDGER_LOCK_TIMEOUT"
    assert "okafor" not in str(caught.value), "a lock key may name a person: never in a message"
    with other.hold("okafor|1950-03-07"):  # free again once the block ended
        pass


def test_a_lock_is_let_go_when_its_block_raises(backend):
    ledger, other = backend.open(), backend.open(lock_timeout_s=0.2)
    with pytest.raises(RuntimeError):
        with ledger.hold("key"):
            raise RuntimeError("keying failed")
    with other.hold("key"):
        pass
    with ledger.hold("key"):  # and the ledger that raised can hold it again
        pass


def test_threads_of_one_process_take_turns_on_a_key(ledger):
    events: list[tuple[int, str]] = []
    start = threading.Barrier(4)

    def turns(who: int) -> None:
        start.wait()
        for _ in range(25):
            with ledger.hold("applicant"):
                events.append((who, "enter"))
                ledger.get("CLK-A")  # a round trip to the store: another thread may run meanwhile
                events.append((who, "leave"))

    threads = [threading.Thread(target=turns, args=(who,)) for who in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(events) == 200
    assert all(events[i][0] == events[i + 1][0] and (events[i][1], events[i + 1][1]) == ("enter", "leave")
               for i in range(0, len(events), 2)), "a holder entered while another held the key"


def test_two_processes_take_turns_on_a_key(backend, ledger):
    workers = [backend.worker("take-turns", {"key": "applicant", "rounds": 40, "who": who}) for who in ("a", "b")]
    for worker in workers:
        assert worker.read() == "ready"
    for worker in workers:
        worker.send("go")
    assert [worker.finish() for worker in workers] == ["done", "done"]
    log = backend.log()
    assert len(log) == 160
    pairs = [(log[i], log[i + 1]) for i in range(0, len(log), 2)]
    assert all(enter[0] == leave[0] and (enter[1], leave[1]) == ("enter", "leave") for enter, leave in pairs), (
        "one process entered while the other held the key")


def test_a_killed_holders_lock_is_released(backend):
    waiter = backend.open(lock_timeout_s=0.2)
    holder = backend.worker("hold-forever", {"key": "applicant"})
    assert holder.read() == "held"
    with pytest.raises(LedgerLockTimeout):
        with waiter.hold("applicant"):
            pytest.fail("entered a lock another process holds")
    holder.kill()  # SIGKILL: no finally block runs in the holder
    patient = backend.open(lock_timeout_s=60)
    with patient.hold("applicant"):
        pass


def test_different_keys_do_not_wait_for_each_other(backend):
    """(SQLite's locks are striped: these two keys fall in different stripes, 41 and 59.)"""
    ledger, other = backend.open(), backend.open(lock_timeout_s=0.2)
    with ledger.hold("first applicant"), other.hold("second applicant"):
        pass
