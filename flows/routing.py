"""Which process an email is for, and whether its sender may trigger it.

Rules come from ``config/`` (``processes.<name>``): a recipient alias or a subject keyword picks the
process; the process's allow-list (addresses, or ``@domain`` for a whole domain) says who may use it.
"""

from __future__ import annotations

from connectors.errors import NoRoute, SenderNotAllowed
from connectors.mail import Email
from connectors.settings import Settings


def route(email: Email, settings: Settings) -> str:
    """The name of the process this email is for, or :class:`NoRoute`."""
    subject = email.subject.lower()
    recipients = set(email.to)
    for name, process in settings.processes.items():
        if not process.enabled:
            continue
        if recipients & set(process.recipients):
            return name
        if any(keyword.lower() in subject for keyword in process.subject_keywords):
            return name
    raise NoRoute(
        "Clerk could not tell which service this email is for.",
        reasons=["Please put the name of the form (for example 'Blue Badge application') in the subject."],
    )


def is_internal(address: str, settings: Settings) -> bool:
    domain = address.rpartition("@")[2].lower()
    return domain in {d.lower() for d in settings.council_domains}


def check_sender(email: Email, process: str, settings: Settings) -> None:
    """Raise :class:`SenderNotAllowed` unless the sender is on the process's allow-list."""
    allowed = settings.processes[process].allowed_senders
    sender = email.sender
    domain = "@" + sender.rpartition("@")[2]
    sender_header = email.headers.get("Sender")
    if sender_header and sender.lower() not in sender_header.lower():
        raise SenderNotAllowed(
            "The email was sent on behalf of another address.",
            reasons=["Please send the form from your own council mailbox."],
        )
    if sender in allowed or domain in allowed:
        return
    raise SenderNotAllowed(
        f"{sender or 'This sender'} is not on the list of people who can send forms to this service.",
        reasons=["Your address is not on the list of people who can send these forms. "
                 "Please ask your team leader to request access."],
    )
