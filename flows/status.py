"""Staff ask where their item is by emailing ``status CLK-XXXXXXXXXX`` to the shared mailbox.

Only a sender Exchange vouches for, and who may use the item's process, gets an answer; the question
itself is audited and filed in Done like any other email.
"""

from __future__ import annotations

import re
import time

from connectors.audit import AuditEvents
from connectors.errors import SenderNotAllowed
from connectors.mail import Email
from flows import replies
from flows.bootstrap import Services
from flows.routing import check_sender, check_trust
from flows.steps import ItemResult, finish, park, send_reply

_STATUS = re.compile(r"^\s*(?:(?:re|fw|fwd)\s*:\s*)*status\s*:?\s*(CLK-[A-Z2-7]{10})\b", re.I)


def status_request(email: Email) -> str | None:
    """The Clerk reference asked about, if this email is a status request."""
    match = _STATUS.match(email.subject)
    return match.group(1).upper() if match else None


def answer_status(services: Services, email: Email, asked: str, audit: AuditEvents) -> ItemResult:
    started = time.perf_counter()
    audit = audit.bind(process="status")
    item = services.ledger.get(asked)
    try:
        check_trust(email, services.settings)
        if item is not None and item.process in services.settings.processes:
            check_sender(email, item.process, services.settings)
    except SenderNotAllowed as exc:
        return park(services, email, exc, audit, None, started, "status")
    send_reply(services, email, replies.status(asked, item), audit, kind="status")
    finish(services, email, "done", audit, outcome="status_sent")
    return ItemResult(email.id, audit.context["reference"], "status", "status_sent", "done",
                      seconds=time.perf_counter() - started)
