"""Which process an email is for, and whether its sender may trigger it.

Rules come from ``config/`` (``processes.<name>``): a recipient alias or a subject keyword picks the
process, narrowed by attachment type where a process asks for one. A sender may trigger a process only if
all of these hold (``trust`` in config):

* ``From`` matches ``Sender`` (nobody sent it on another's behalf);
* Exchange vouches for the sender: the message is marked internal
  (``X-MS-Exchange-Organization-AuthAs: Internal``) and comes from a council domain, or it comes from a
  listed partner domain and ``Authentication-Results`` shows ``dmarc=pass`` for that domain;
* the address or its domain is on the process's allow-list.

Only a vouched-for sender ever gets a reply, so a forged ``From`` cannot make Clerk mail a third party.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import PurePath

from connectors.errors import NoRoute, SenderNotAllowed, SenderSpoofed, SenderUnverified
from connectors.mail import Email
from connectors.settings import Settings

_ATTACHMENT_TYPES = {"pdf": {".pdf"}, "docx": {".docx"}, "doc": {".doc"}, "eml": {".eml", ".msg"}}
_DMARC_PASS = re.compile(r"\bdmarc\s*=\s*pass\b[^;]*?\bheader\.from\s*=\s*([\w.-]+)", re.I)


class Trust(str, Enum):
    INTERNAL = "internal"  # marked internal by Exchange, from a council domain
    PARTNER = "partner"  # a partner domain with a DMARC pass
    UNVERIFIED = "unverified"  # nobody vouches for the From address
    SPOOFED = "spoofed"  # From and Sender differ


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _has_attachment_type(email: Email, types: list[str]) -> bool:
    suffixes = set().union(*(_ATTACHMENT_TYPES.get(kind, {"." + kind}) for kind in types))
    return any(PurePath(name.lower()).suffix in suffixes for name in email.attachment_names)


def route(email: Email, settings: Settings) -> str:
    """The name of the process this email is for, or :class:`NoRoute`."""
    subject = email.subject.lower()
    recipients = set(email.to)
    for name, process in settings.processes.items():
        if not process.enabled:
            continue
        addressed = bool(recipients & set(process.recipients))
        titled = any(keyword.lower() in subject for keyword in process.subject_keywords)
        if (addressed or titled) and (not process.attachment_types or _has_attachment_type(email,
                                                                                          process.attachment_types)):
            return name
    raise NoRoute(
        "Clerk could not tell which service this email is for.",
        reasons=["Please put the name of the form (for example 'Blue Badge application') in the subject, "
                 "and attach the completed form."],
    )


def is_internal(address: str, settings: Settings) -> bool:
    """The address is in one of the council's own domains (says nothing about who really sent it)."""
    return _domain(address) in {d.lower() for d in settings.council_domains}


def sender_trust(email: Email, settings: Settings) -> Trust:
    """How far Exchange's own headers vouch for the ``From`` address."""
    sender_header = email.headers.get("Sender", "")
    if sender_header and email.sender not in sender_header.lower():
        return Trust.SPOOFED
    domain = _domain(email.sender)
    if is_internal(email.sender, settings):
        marked = email.headers.get("X-MS-Exchange-Organization-AuthAs", "").strip().lower() == "internal"
        if marked or not settings.trust.require_internal_header:
            return Trust.INTERNAL
        return Trust.UNVERIFIED
    if domain in settings.trust.partner_domains:
        results = email.headers.get("Authentication-Results", "")
        if any(match.group(1).lower() == domain for match in _DMARC_PASS.finditer(results)):
            return Trust.PARTNER
    return Trust.UNVERIFIED


def may_reply(email: Email, settings: Settings) -> bool:
    """Only senders Exchange vouches for are ever written to: no backscatter to forged or outside addresses."""
    return sender_trust(email, settings) in (Trust.INTERNAL, Trust.PARTNER)


def check_trust(email: Email, settings: Settings) -> None:
    """Raise :class:`SenderSpoofed` or :class:`SenderUnverified` unless Exchange vouches for the sender."""
    trust = sender_trust(email, settings)
    if trust is Trust.SPOOFED:
        raise SenderSpoofed(
            "The email was sent on behalf of another address.",
            reasons=["Please send the form from your own council mailbox."],
        )
    if trust is Trust.UNVERIFIED:
        raise SenderUnverified(
            "The mail server did not confirm who sent this email, so Clerk cannot act on it.",
            reasons=["Please send the form from your council mailbox, not from an outside address."],
        )


def check_sender(email: Email, process: str, settings: Settings) -> None:
    """Raise a :class:`SenderNotAllowed` (or its spoofed/unverified kinds) unless the sender may trigger ``process``."""
    check_trust(email, settings)
    allowed = settings.processes[process].allowed_senders
    if email.sender in allowed or "@" + _domain(email.sender) in allowed:
        return
    raise SenderNotAllowed(
        f"{email.sender or 'This sender'} is not on the list of people who can send forms to this service.",
        reasons=["Your address is not on the list of people who can send these forms. "
                 "Please ask your team leader to request access."],
    )
