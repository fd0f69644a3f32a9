"""Whether the mail system vouches for an email's sender: the checks a crafted spoof must not get past.

Only a vouched-for sender may trigger a process or is ever written to, so a forged ``From`` can neither
get work keyed nor make Clerk mail a third party (no backscatter). In order:

1. **From** is exactly one header holding exactly one plain address (see :mod:`connectors.mail.headers`:
   ASCII only, no comments, groups, lists, encoded words or names that are other addresses), and it is
   the address the mailbox adapter reads as the sender (the one replies go to). Else *unverified*.
2. **Sender**, when present, is one header holding that same address (compared exactly, after
   lower-casing ASCII letters). Else *spoofed*: sent on someone else's behalf.
3. A **council domain** (``council_domains``, exact match) needs Exchange's internal mark:
   exactly one ``X-MS-Exchange-Organization-AuthAs`` header whose value is ``Internal``. Two such
   headers, or any other value (``Anonymous``, ``internal``), is *unverified*; with none at all the
   sender counts only where ``trust.require_internal_header`` is off (a mailbox no outsider can write to).
4. A **partner domain** (``trust.partner_domains``, exact match) needs a DMARC pass recorded by the
   council's own mail boundary: the topmost ``Authentication-Results`` header must carry one of
   ``trust.authserv_ids``, and hold exactly one ``dmarc`` result, ``pass``, for ``header.from`` equal to
   the From domain. Headers further down were written before the mail reached the council (by whoever
   sent it) and are never read.
5. Any other domain is *unverified*.

Every check reads the headers as the adapter found them, every occurrence, topmost first
(:meth:`connectors.mail.Email.header_values`). Each verdict carries a sentence saying why, for the
audit trail; a refused sender is never told it (they may not be who the email says).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from connectors.errors import SenderSpoofed, SenderUnverified
from connectors.mail import Email
from connectors.mail.headers import Unreadable, authentication_results, mailbox
from connectors.settings import Settings

AUTH_AS = "X-MS-Exchange-Organization-AuthAs"


class Trust(str, Enum):
    INTERNAL = "internal"  # marked internal by Exchange, from a council domain
    PARTNER = "partner"  # a partner domain with a DMARC pass recorded by the council's boundary
    UNVERIFIED = "unverified"  # nobody vouches for the From address, or it cannot be read one way only
    SPOOFED = "spoofed"  # sent on behalf of the From address by another


@dataclass(frozen=True)
class Verdict:
    trust: Trust
    address: str
    """The From address (plain ASCII, lower-case); ``''`` when it could not be read."""
    why: str
    """One sentence for the audit trail and a supervisor."""


def assess(email: Email, settings: Settings) -> Verdict:
    """How far the mail system vouches for the email's ``From`` address, and why."""
    try:
        address = _from_address(email)
    except Unreadable as exc:
        return Verdict(Trust.UNVERIFIED, "", f"The From line {exc}.")
    spoofed = _on_behalf(email, address)
    if spoofed:
        return Verdict(Trust.SPOOFED, address, spoofed)
    domain = address.rpartition("@")[2]
    if domain in _domains(settings.council_domains):
        return _internal(email, address, settings)
    if domain in _domains(settings.trust.partner_domains):
        return _partner(email, address, domain, settings)
    return Verdict(Trust.UNVERIFIED, address, "The address is not in a council or partner domain.")


def sender_trust(email: Email, settings: Settings) -> Trust:
    """How far the mail system's own headers vouch for the ``From`` address."""
    return assess(email, settings).trust


def may_reply(email: Email, settings: Settings) -> bool:
    """Only senders the mail system vouches for are ever written to: no backscatter to forged or outside addresses."""
    return sender_trust(email, settings) in (Trust.INTERNAL, Trust.PARTNER)


def check_trust(email: Email, settings: Settings) -> Verdict:
    """The verdict, if the mail system vouches for the sender; else :class:`SenderSpoofed` or
    :class:`SenderUnverified`, whose first reason says why (they are audited, never sent)."""
    verdict = assess(email, settings)
    if verdict.trust is Trust.SPOOFED:
        raise SenderSpoofed(
            "The email was sent on behalf of another address.",
            reasons=[verdict.why, "Please send the form from your own council mailbox."],
        )
    if verdict.trust is Trust.UNVERIFIED:
        raise SenderUnverified(
            "The mail server did not confirm who sent this email, so Clerk cannot act on it.",
            reasons=[verdict.why, "Please send the form from your council mailbox, not from an outside address."],
        )
    return verdict


def is_internal(address: str, settings: Settings) -> bool:
    """The address is in one of the council's own domains (says nothing about who really sent it)."""
    domain = address.rpartition("@")[2]
    return domain.isascii() and domain.lower() in _domains(settings.council_domains)


# --- the checks ---------------------------------------------------------------------------------------------
def _from_address(email: Email) -> str:
    values = email.header_values("From")
    if not values and not email.all_headers and email.sender:  # an Email built by hand holds only the address
        values = [email.sender]
    if not values:
        raise Unreadable("is missing")
    if len(values) > 1:
        raise Unreadable("appears more than once")
    address = mailbox(values[0]).address
    if address != email.sender:
        raise Unreadable("does not hold the address the mail server gives as the sender")
    return address


def _on_behalf(email: Email, address: str) -> str | None:
    """Why the ``Sender`` header shows someone other than ``From`` sent the email; None when it does not."""
    values = email.header_values("Sender")
    if not values:
        return None
    if len(values) > 1:
        return "The email has more than one Sender line."
    try:
        sent_by = mailbox(values[0]).address
    except Unreadable as exc:
        return f"The Sender line {exc}."
    if sent_by != address:
        return "The Sender line names a different address from the From line: sent on someone else's behalf."
    return None


def _internal(email: Email, address: str, settings: Settings) -> Verdict:
    marks = [value.strip(" \t") for value in email.header_values(AUTH_AS)]
    if not marks:
        if settings.trust.require_internal_header:
            return Verdict(Trust.UNVERIFIED, address, f"Exchange did not mark the email as sent inside the council "
                                                      f"(no {AUTH_AS} line).")
        return Verdict(Trust.INTERNAL, address, "From a council domain, on a mailbox that does not need Exchange's "
                                                "internal mark (trust.require_internal_header is off).")
    if len(marks) > 1:
        return Verdict(Trust.UNVERIFIED, address, f"The email has more than one {AUTH_AS} line.")
    if marks[0] != "Internal":
        return Verdict(Trust.UNVERIFIED, address, f"Exchange did not mark the email as sent inside the council "
                                                  f"({AUTH_AS} is not Internal).")
    return Verdict(Trust.INTERNAL, address, "Exchange marked the email as sent inside the council.")


def _partner(email: Email, address: str, domain: str, settings: Settings) -> Verdict:
    def unverified(why: str) -> Verdict:
        return Verdict(Trust.UNVERIFIED, address, why)

    ours = set(settings.trust.authserv_ids)
    values = email.header_values("Authentication-Results")
    if not ours:
        return unverified("No Authentication-Results line can be believed: trust.authserv_ids is empty.")
    if not values:
        return unverified("The email has no Authentication-Results line from the council's mail boundary.")
    try:
        top = authentication_results(values[0])
    except Unreadable as exc:
        return unverified(f"The topmost Authentication-Results line {exc}.")
    if top.authserv_id not in ours:
        return unverified("The topmost Authentication-Results line was not written by the council's mail boundary "
                          "(its authserv-id is not in trust.authserv_ids).")
    dmarc = [result for result in top.results if result.method == "dmarc"]
    if len(dmarc) != 1:
        return unverified("The council's Authentication-Results line does not hold exactly one DMARC result.")
    if dmarc[0].result != "pass":
        return unverified(f"DMARC did not pass for the partner domain ({dmarc[0].result}).")
    header_from = dmarc[0].properties.get("header.from", "")
    if not header_from.isascii() or header_from.lower() != domain:
        return unverified("The DMARC pass is for a different From domain.")
    return Verdict(Trust.PARTNER, address, "The council's mail boundary recorded a DMARC pass for the partner domain.")


def _domains(configured: list[str]) -> set[str]:
    return {domain.strip().lower().lstrip("@") for domain in configured if domain.isascii()}
