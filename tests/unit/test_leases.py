"""Who counts as a dead worker. The ledger's claims are tested on SQLite and PostgreSQL alike in
tests/ledger/test_contract.py, and the worker-side keeper (renewal, letting go) in tests/ledger/test_keeper.py."""

from __future__ import annotations

import subprocess
import sys

from connectors.leases import owner_is_dead, worker_identity


def test_only_a_process_of_this_host_whose_pid_is_gone_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = worker_identity().split("/")[0]
    assert owner_is_dead(f"{host}/{child.pid}/abcd")
    assert not owner_is_dead(worker_identity()), "this process is alive"
    assert not owner_is_dead(f"elsewhere.example/{child.pid}/abcd"), "another host's process: wait for its lease"
    assert not owner_is_dead(None) and not owner_is_dead("garbage")
