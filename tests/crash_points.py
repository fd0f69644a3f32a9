"""Kill a worker for real between two steps: fakes behind Clerk's own ports (the ledger, the mailbox,
Casebook) that SIGKILL their own process right after the step named by ``point``.

Run as ``python -m tests.crash_points ROOT POINT``: one intake pass over the local mailbox under ROOT (the
settings of ``tests.flow_harness.settings_in``; Casebook is a JSON file there), against the Prefect server
named by ``$PREFECT_API_URL``. It exits 3 if the pass ended without reaching the point.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from connectors.ledger import SqliteLedger
from connectors.mail.local import LocalMailbox
from tests.fakes.casebook import FileCasebook

POINTS = (
    "after-lease",  # the ledger claim is made; the email is still in the inbox
    "after-move",  # the email is in Processing; nothing acknowledged
    "after-ack-sent",  # the acknowledgement went out; the ledger has not recorded it
    "after-ack-recorded",  # acknowledged and recorded; not keyed
    "after-keying",  # the case exists in Casebook; Clerk has not heard back
    "after-result-sent",  # the result reply went out; the ledger has not recorded it
    "after-finish-recorded",  # the ledger says done; the email is still in Processing
    "after-move-to-done",  # the email is in Done; its lease not yet given back
)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingLedger(SqliteLedger):
    def __init__(self, path, point: str) -> None:
        super().__init__(path)
        self.point = point

    def claim(self, *args, **kwargs):
        claim = super().claim(*args, **kwargs)
        if claim is not None and self.point == "after-lease":
            die()
        return claim

    def record_reply(self, reference, kind, state, *, fence=None):
        super().record_reply(reference, kind, state, fence=fence)
        if self.point == "after-ack-recorded" and (kind, state) == ("acknowledgement", "sent"):
            die()

    def update(self, reference, state, *, fence=None, **fields):
        super().update(reference, state, fence=fence, **fields)
        if self.point == "after-finish-recorded" and state == "done":
            die()


class CrashingMailbox(LocalMailbox):
    def __init__(self, root, address, point: str) -> None:
        super().__init__(root, address)
        self.point = point

    def claim(self, email):
        claimed = super().claim(email)
        if self.point == "after-move":
            die()
        return claimed

    def reply(self, email, subject, body, attachments=None, key=None):
        super().reply(email, subject, body, attachments, key=key)
        kind = (key or "").rpartition("/")[2]
        if (self.point, kind) in (("after-ack-sent", "acknowledgement"), ("after-result-sent", "result")):
            die()

    def move(self, email, folder):
        moved = super().move(email, folder)
        if self.point == "after-move-to-done" and folder == "done":
            die()
        return moved


class CrashingCasebook(FileCasebook):
    def __init__(self, path, point: str) -> None:
        super().__init__(path)
        self.point = point

    def _key(self, application, clerk_ref):
        result = super()._key(application, clerk_ref)
        if self.point == "after-keying":
            die()
        return result


def main(root: str, point: str) -> int:
    from flows.bootstrap import bootstrap, use_services
    from flows.intake import intake
    from tests.flow_harness import settings_in

    if point not in POINTS:
        raise SystemExit(f"unknown crash point {point!r}; one of {', '.join(POINTS)}")
    settings = settings_in(Path(root))
    mailbox = CrashingMailbox(settings.mailbox.root, settings.mailbox.address, point)
    ledger = CrashingLedger(settings.ledger.path, point)
    casebook = CrashingCasebook(Path(root) / "casebook.json", point)
    with use_services(bootstrap(settings, mailbox=mailbox, ledger=ledger, casebook_factory=lambda _: casebook)):
        intake()
    return 3


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
