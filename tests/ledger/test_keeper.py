"""The worker-side keeper (connectors/leases.py) on each ledger: it renews what it holds, lets go what a pass
left, and sends each reply once."""

from __future__ import annotations

import time

import pytest

from connectors.leases import Leases
from connectors.ledger import LeaseLost


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


def test_the_keeper_notices_a_lease_taken_over_by_another_worker(backend, ledger):
    leases = Leases(ledger, lease_s=60, owner="host/1/a")
    leases.claim("CLK-A", "<m>")
    backend.expire_leases()
    backend.open().claim("CLK-A", "<m>", "host/2/b", lease_s=60)
    leases.renew()
    assert not leases.holds("CLK-A")
    with pytest.raises(LeaseLost):
        leases.update("CLK-A", "done")
    leases.close()
