"""Which process an email is for, and whether its sender may trigger it.

Rules come from ``config/`` (``processes.<name>``): a recipient alias or a subject keyword picks the
process, narrowed by attachment type where a process asks for one. A sender may trigger a process only if
the mail system vouches for them (:mod:`flows.sender_trust`: ``From`` is one plain address, ``Sender``
is the same one, and Exchange marked the email internal, or the council's boundary recorded a DMARC pass
for a partner domain) and the address or its domain is on the process's allow-list.

``Trust``, ``sender_trust``, ``check_trust``, ``may_reply`` and ``is_internal`` live in
:mod:`flows.sender_trust` and are importable from here too.
"""

from __future__ import annotations

from pathlib import PurePath

from connectors.errors import NoRoute, SenderNotAllowed
from connectors.mail import Email
from connectors.settings import Settings
from flows.sender_trust import Trust, check_trust, is_internal, may_reply, sender_trust

__all__ = ["Trust", "check_sender", "check_trust", "is_internal", "may_reply", "route", "sender_trust"]

_ATTACHMENT_TYPES = {"pdf": {".pdf"}, "docx": {".docx"}, "doc": {".doc"}, "eml": {".eml", ".msg"}}


def _has_attachment_type(email: Email, types: list[str]) -> bool:
    suffixes = set().union(*(_ATTACHMENT_TYPES.get(kind, {"." + kind}) for kind in types))
    return any(PurePath(name.lower()).suffix in suffixes for name in email.attachment_names)


def route(email: Email, settings: Settings) -> str:
    """The name of the process this email is for, or :class:`NoRoute`. A process whose mailbox alias the
    email was sent to wins over one whose keyword its subject merely contains ("FW: Invoice for Blue Badge
    printing" sent to the invoices alias is an invoice)."""
    subject = email.subject.lower()
    recipients = set(email.to)
    enabled = [(name, process) for name, process in settings.processes.items() if process.enabled]
    addressed = [name for name, process in enabled if recipients & set(process.recipients)]
    titled = [name for name, process in enabled
              if any(keyword.lower() in subject for keyword in process.subject_keywords)]
    for name in [*addressed, *titled]:
        process = settings.processes[name]
        if not process.attachment_types or _has_attachment_type(email, process.attachment_types):
            return name
    raise NoRoute(
        "Clerk could not tell which service this email is for.",
        reasons=["Please put the name of the form (for example 'Blue Badge application') in the subject, "
                 "and attach the completed form."],
    )


def check_sender(email: Email, process: str, settings: Settings) -> None:
    """Raise a :class:`SenderNotAllowed` (or its spoofed/unverified kinds) unless the sender may trigger ``process``."""
    address = check_trust(email, settings).address
    allowed = settings.processes[process].allowed_senders
    if address in allowed or "@" + address.rpartition("@")[2] in allowed:
        return
    raise SenderNotAllowed(
        f"{address} is not on the list of people who can send forms to this service.",
        reasons=["Your address is not on the list of people who can send these forms. "
                 "Please ask your team leader to request access."],
    )
