"""Crafted spoofs and genuine senders: real RFC 5322 messages for the sender-trust tests.

Each :class:`Case` is one email as the shared mailbox would hold it: its header lines written exactly
as given, topmost first (a server adds its headers on top), then To, Subject, Date and Message-ID and a
multipart body with a PDF, both built by the stdlib ``email`` package. ``trust`` is what the sender
check must find, ``code`` the error ``check_sender`` must raise (``None``: the sender is accepted).

Spoofs marked ``# passed before`` were accepted by the checks Clerk had before issue 10 (a substring
test on ``Sender``, ``parseaddr`` and ``str.lower()`` on ``From``, the first ``AuthAs`` value ignoring
case, and a regular expression over the first ``Authentication-Results``).

:func:`trusting` applies the settings the corpus is written for; :func:`drop` files a message into a
local mailbox's Inbox byte for byte (``LocalMailbox.deliver`` would re-serialise it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate

from connectors.mail.local import LocalMailbox
from connectors.settings import Settings
from flows.sender_trust import Trust
from tests.mail.messages import PDF

COUNCIL = "council.example.gov.uk"
SHARED_SERVICES = "shared-services.example.gov.uk"  # a second council domain
PARTNERS = ("nhs.net", "partner.example.org")
BOUNDARY = "mx.council.example.gov.uk"  # the authserv-id of the council's mail boundary

Line = tuple[str, str]
AUTH_AS = "X-MS-Exchange-Organization-AuthAs"
INTERNAL: Line = (AUTH_AS, "Internal")
ANONYMOUS: Line = (AUTH_AS, "Anonymous")  # Exchange stamps mail from outside so


def trusting(settings: Settings) -> Settings:
    """``settings`` (changed in place) as the corpus expects: two council domains, two partners, one boundary,
    and every process open to all of them."""
    settings.council_domains = [COUNCIL, SHARED_SERVICES]
    settings.trust.partner_domains = list(PARTNERS)
    settings.trust.authserv_ids = [BOUNDARY]
    for process in settings.processes.values():
        process.allowed_senders = [f"@{domain}" for domain in (COUNCIL, SHARED_SERVICES, *PARTNERS)]
    return settings


def sender(value: str) -> Line:
    return ("From", value)


def formatted(name: str, value: str) -> Line:
    """A header as the stdlib ``email`` package writes it (RFC 2047 words for a non-ASCII name, folding)."""
    line = policy.SMTP.header_factory(name, value).fold(policy=policy.SMTP)
    return (name, line.removeprefix(f"{name}: ").removesuffix("\r\n"))


def boundary(results: str, authserv_id: str = BOUNDARY) -> Line:
    """An ``Authentication-Results`` header as a mail server writes it."""
    return ("Authentication-Results", f"{authserv_id}; {results}")


PARTNER_PASS = boundary("spf=pass smtp.mailfrom=nhs.net; dkim=pass header.d=nhs.net; "
                        "dmarc=pass action=none header.from=nhs.net")
NURSE = sender("Amy Nurse <a.nurse@nhs.net>")


@dataclass(frozen=True)
class Case:
    name: str
    lines: tuple[Line, ...]
    trust: Trust
    code: str | None = None

    @property
    def message_id(self) -> str:
        return f"<{self.name}@corpus.clerk.test>"

    def message(self, pdf: bytes = PDF, subject: str = "Blue Badge application") -> bytes:
        """The whole email, as the bytes a mail server would file."""
        body = EmailMessage()
        body.set_content("Hi,\n\nPlease find the form attached.\n\nThanks")
        body.add_attachment(pdf, maintype="application", subtype="pdf", filename="blue-badge-application.pdf")
        lines = [*self.lines, ("To", f"bluebadge@{COUNCIL}"), ("Subject", subject),
                 ("Date", formatdate(localtime=True)), ("Message-ID", self.message_id)]
        head = "".join(f"{name}: {value}\r\n" for name, value in lines).encode("utf-8")
        return head + body.as_bytes(policy=policy.SMTP)


def genuine(name: str, *lines: Line, trust: Trust = Trust.INTERNAL) -> Case:
    return Case(name, lines, trust)


def spoof(name: str, *lines: Line, trust: Trust = Trust.UNVERIFIED) -> Case:
    return Case(name, lines, trust, "SENDER_SPOOFED" if trust is Trust.SPOOFED else "SENDER_UNVERIFIED")


GENUINE: tuple[Case, ...] = (
    # Council staff, marked internal by Exchange.
    genuine("bare-address", INTERNAL, sender(f"priya.shah@{COUNCIL}")),
    genuine("display-name", INTERNAL, sender(f"Priya Shah <priya.shah@{COUNCIL}>")),
    genuine("quoted-name-with-comma", INTERNAL, sender(f'"Smith, Jane" <jane.smith@{COUNCIL}>')),
    genuine("outlook-style-capitals", INTERNAL, sender(f'"Jane Smith" <Jane.Smith@{COUNCIL}>')),
    genuine("accented-name-encoded", INTERNAL, formatted("From", f"Zoë Ó Briain <zoe.obriain@{COUNCIL}>")),
    genuine("welsh-name-base64", INTERNAL, sender(f"{Header('Siân Llŷr', 'utf-8').encode()} <sian.llyr@{COUNCIL}>")),
    genuine("irish-name-with-apostrophe", INTERNAL, formatted("From", f"Siobhán O'Neill <siobhan.oneill@{COUNCIL}>")),
    genuine("greek-name-raw-utf8", INTERNAL, sender(f"Δήμητρα Παππά <dimitra.pappa@{COUNCIL}>")),
    genuine("hyphens", INTERNAL, sender(f"Mary-Jane O-Neill <mary-jane.o-neill@{COUNCIL}>")),
    genuine("plus-addressing", INTERNAL, sender(f"Tom Ellis <tom.ellis+forms@{COUNCIL}>")),
    genuine("apostrophe-in-address", INTERNAL, sender(f"Dan O'Brien <dan.o'brien@{COUNCIL}>")),
    genuine("digits-and-underscore", INTERNAL, sender(f"sam_kowalski2@{COUNCIL}")),
    genuine("all-capitals", INTERNAL, sender(f"GRACE.OKAFOR@{COUNCIL.upper()}")),
    genuine("sender-same-as-from", INTERNAL, sender(f"Helen Reid <helen.reid@{COUNCIL}>"),
            ("Sender", f"Helen Reid <helen.reid@{COUNCIL}>")),
    genuine("sender-same-address-other-case", INTERNAL, sender(f"Helen Reid <helen.reid@{COUNCIL}>"),
            ("Sender", f"HELEN.REID@{COUNCIL}")),
    genuine("folded-long-from", INTERNAL, sender(
        '"Alexandra Featherstonehaugh-Cholmondeley (Revenues and Benefits)"\r\n'
        f"\t<alexandra.featherstonehaugh@{COUNCIL}>")),
    genuine("brackets-inside-quotes", INTERNAL, sender(f'"Priya Shah (Blue Badge team)" <priya.shah@{COUNCIL}>')),
    genuine("name-is-the-address", INTERNAL, sender(f'"priya.shah@{COUNCIL}" <priya.shah@{COUNCIL}>')),
    genuine("single-quoted-name", INTERNAL, sender(f"'Tom Ellis' <tom.ellis@{COUNCIL}>")),
    genuine("folded-auth-as", (AUTH_AS, "\r\n Internal"), sender(f"dan.morgan@{COUNCIL}")),
    genuine("second-council-domain", INTERNAL, sender(f"Ravi Patel <ravi.patel@{SHARED_SERVICES}>")),
    genuine("initial-with-dot", INTERNAL, sender(f"Jane Q. Smith <jane.q.smith@{COUNCIL}>")),
    genuine("spaces-inside-angle-brackets", INTERNAL, sender(f"Priya Shah < priya.shah@{COUNCIL} >")),
    # Partners: from outside (Exchange stamps Anonymous), with the council boundary's DMARC pass on top.
    genuine("partner", PARTNER_PASS, ANONYMOUS, NURSE, trust=Trust.PARTNER),
    genuine("partner-authserv-version", boundary("dmarc=pass header.from=nhs.net", f"{BOUNDARY} 1"), ANONYMOUS,
            NURSE, trust=Trust.PARTNER),
    genuine("partner-with-comments", boundary(
        "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=nhs.net; dkim=pass (signature was verified) "
        "header.d=nhs.net; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=nhs.net"), ANONYMOUS, NURSE,
        trust=Trust.PARTNER),
    genuine("partner-own-results-below", PARTNER_PASS, ANONYMOUS, NURSE,
            boundary("dkim=pass header.d=nhs.net", "relay.nhs.net"), trust=Trust.PARTNER),
    genuine("partner-capitals", boundary("SPF=Pass smtp.mailfrom=NHS.NET; DMARC=Pass header.from=NHS.NET"),
            ANONYMOUS, sender("A.Nurse@NHS.net"), trust=Trust.PARTNER),
    genuine("second-partner", boundary("dmarc=pass header.from=partner.example.org"), ANONYMOUS,
            sender('"Dr. Amara Okoye" <amara.okoye@partner.example.org>'), trust=Trust.PARTNER),
    genuine("partner-folded-results", ("Authentication-Results", f"{BOUNDARY};\r\n\tspf=pass smtp.mailfrom=nhs.net;"
                                                                 "\r\n\tdkim=pass header.d=nhs.net;\r\n\t"
                                                                 "dmarc=pass action=none header.from=nhs.net"),
            ANONYMOUS, NURSE, trust=Trust.PARTNER),
    genuine("partner-sender-same-as-from", PARTNER_PASS, ANONYMOUS, NURSE, ("Sender", "a.nurse@nhs.net"),
            trust=Trust.PARTNER),
    genuine("partner-spaces-and-quotes", boundary('dmarc = pass header.from="nhs.net"'), ANONYMOUS, NURSE,
            trust=Trust.PARTNER),
)

PRIYA = f"priya.shah@{COUNCIL}"
FROM_PRIYA = sender(f"Priya Shah <{PRIYA}>")
SPOOFS: tuple[Case, ...] = (
    # Sender is not the From address.
    spoof("sender-contains-from", INTERNAL, FROM_PRIYA, ("Sender", f"evil-{PRIYA}"),
          trust=Trust.SPOOFED),  # passed before
    spoof("sender-name-is-from", INTERNAL, FROM_PRIYA, ("Sender", f'"{PRIYA}" <mallory@{COUNCIL}>'),
          trust=Trust.SPOOFED),  # passed before
    spoof("sender-list", INTERNAL, FROM_PRIYA, ("Sender", f"mallory@evil.example, {PRIYA}"),
          trust=Trust.SPOOFED),  # passed before
    spoof("two-sender-headers", INTERNAL, FROM_PRIYA, ("Sender", PRIYA), ("Sender", "mallory@evil.example"),
          trust=Trust.SPOOFED),  # passed before
    spoof("sender-kelvin-sign", INTERNAL, sender(f"kate.kirk@{COUNCIL}"), ("Sender", f"\u212aate.kirk@{COUNCIL}"),
          trust=Trust.SPOOFED),  # passed before
    spoof("sender-comment", INTERNAL, FROM_PRIYA, ("Sender", f"mallory@evil.example ({PRIYA})"),
          trust=Trust.SPOOFED),
    spoof("sender-lookalike-domain", INTERNAL, FROM_PRIYA, ("Sender", f"{PRIYA.upper()}.EVIL.EXAMPLE"),
          trust=Trust.SPOOFED),  # passed before
    spoof("sender-outsider", INTERNAL, FROM_PRIYA, ("Sender", "mallory@evil.example"), trust=Trust.SPOOFED),
    # A From that is not exactly one plain address.
    spoof("from-two-addresses", INTERNAL, sender(f"{PRIYA}, mallory@evil.example")),  # passed before
    spoof("from-group", INTERNAL, sender(f"Blue Badge team: {PRIYA};")),  # passed before
    spoof("from-empty", INTERNAL, sender("")),
    spoof("from-name-only", INTERNAL, sender("Priya Shah")),
    spoof("from-missing", INTERNAL),
    spoof("two-from-headers", INTERNAL, FROM_PRIYA, sender("mallory@evil.example")),  # passed before
    spoof("encoded-name-is-address", INTERNAL,
          sender(f"=?utf-8?q?priya.shah=40{COUNCIL}?= <mallory@{COUNCIL}>")),  # passed before
    spoof("encoded-address-in-brackets", INTERNAL, sender(f"Priya Shah <=?utf-8?q?priya.shah=40{COUNCIL}?=>")),
    spoof("encoded-bare-address", INTERNAL, sender(f"=?utf-8?q?priya.shah=40{COUNCIL}?=")),  # passed before
    spoof("comment-after-address", INTERNAL, sender(f"{PRIYA}(@evil.example)")),  # passed before
    spoof("comment-holds-from", INTERNAL, sender(f"mallory@{COUNCIL} ({PRIYA})")),  # passed before
    spoof("quoted-name-is-address-outside", INTERNAL, sender(f'"{PRIYA}" <mallory@evil.example>')),
    spoof("quoted-name-is-address-inside", INTERNAL, sender(f'"{PRIYA}" <mallory@{COUNCIL}>')),  # passed before
    spoof("quoted-local-part-with-at", INTERNAL, sender(f'"{PRIYA}"@evil.example')),
    spoof("quoted-local-part-in-brackets", INTERNAL, sender(f'Priya Shah <"{PRIYA}"@evil.example>')),
    spoof("two-at-signs", INTERNAL, sender(f"{PRIYA}@evil.example")),
    spoof("bare-name-is-address", INTERNAL, sender(f"{PRIYA} <mallory@evil.example>")),  # passed before
    spoof("encoded-name-holds-address", INTERNAL,
          sender(f"=?utf-8?q?Priya_Shah_<{PRIYA}>?= <mallory@{COUNCIL}>")),  # passed before
    spoof("source-route", INTERNAL, sender(f"<@evil.example:{PRIYA}>")),  # passed before
    spoof("domain-literal", INTERNAL, sender("priya.shah@[192.0.2.1]")),
    # Look-alike characters: an address must be plain ASCII.
    spoof("kelvin-sign-local-part", INTERNAL, sender(f"Kate Kirk <\u212aate.kirk@{COUNCIL}>")),  # passed before
    spoof("kelvin-sign-domain", INTERNAL, sender("priya.shah@council.example.gov.u\u212a")),  # passed before
    spoof("kelvin-sign-encoded", INTERNAL,
          sender(f"Kate Kirk <=?utf-8?q?=E2=84=AAate.kirk?=@{COUNCIL}>")),  # passed before
    spoof("full-width-letter", INTERNAL, sender(f"\uff50riya.shah@{COUNCIL}")),  # passed before
    spoof("full-width-at-sign", INTERNAL, sender(f"priya.shah\uff20{COUNCIL}")),
    spoof("cyrillic-a-local-part", INTERNAL, sender(f"priy\u0430.shah@{COUNCIL}")),  # passed before
    spoof("cyrillic-o-domain", INTERNAL, sender("priya.shah@c\u043euncil.example.gov.uk")),
    spoof("long-s", INTERNAL, sender(f"priya.\u017fhah@{COUNCIL}")),  # passed before
    spoof("mathematical-bold", INTERNAL, sender(f"\U0001d429riya.shah@{COUNCIL}")),  # passed before
    spoof("dotted-capital-i", INTERNAL, sender(f"PR\u0130YA.SHAH@{COUNCIL.upper()}")),  # passed before
    spoof("punycode-lookalike", INTERNAL, sender("priya.shah@xn--cuncil-wqf.example.gov.uk")),
    spoof("trailing-dot-domain", INTERNAL, sender(f"{PRIYA}.")),
    spoof("trailing-dot-local-part", INTERNAL, sender(f"priya.shah.@{COUNCIL}")),  # passed before
    spoof("lookalike-domain-suffix", INTERNAL, sender(f"{PRIYA}.evil.example")),
    spoof("lookalike-domain-hyphen", INTERNAL, sender("priya.shah@council-example.gov.uk")),
    # Exchange's internal mark.
    spoof("auth-as-internal-and-anonymous", INTERNAL, ANONYMOUS, FROM_PRIYA),  # passed before
    spoof("auth-as-anonymous-and-internal", ANONYMOUS, INTERNAL, FROM_PRIYA),
    spoof("auth-as-internal-twice", INTERNAL, INTERNAL, FROM_PRIYA),  # passed before
    spoof("auth-as-lower-case", (AUTH_AS, "internal"), FROM_PRIYA),  # passed before
    spoof("auth-as-capitals", (AUTH_AS, "INTERNAL"), FROM_PRIYA),  # passed before
    spoof("auth-as-two-values", (AUTH_AS, "Internal; Anonymous"), FROM_PRIYA),
    spoof("auth-as-missing", FROM_PRIYA),
    spoof("auth-as-anonymous", ANONYMOUS, FROM_PRIYA),
    # Partners: only the council boundary's own Authentication-Results, on top, counts.
    spoof("partner-no-results", ANONYMOUS, NURSE),
    spoof("partner-results-from-sender-side", boundary("dmarc=pass header.from=nhs.net", "mx.nhs.net"),
          ANONYMOUS, NURSE),  # passed before
    spoof("partner-forged-below-a-fail", boundary("dmarc=fail action=quarantine header.from=nhs.net"), ANONYMOUS,
          NURSE, boundary("dmarc=pass header.from=nhs.net")),
    spoof("partner-forged-below-another", boundary("dkim=pass header.d=nhs.net", "mail.evil.example"), ANONYMOUS,
          NURSE, boundary("dmarc=pass header.from=nhs.net")),
    spoof("partner-pass-for-other-domain", boundary("dmarc=pass header.from=evil.example"), ANONYMOUS, NURSE),
    spoof("partner-pass-in-a-comment", boundary("dmarc=fail (dmarc=pass header.from=nhs.net) header.from=nhs.net"),
          ANONYMOUS, NURSE),  # passed before
    spoof("partner-other-method-passes", boundary("x-dmarc=pass header.from=nhs.net; dmarc=fail header.from=nhs.net"),
          ANONYMOUS, NURSE),  # passed before
    spoof("partner-lookalike-authserv-id", boundary("dmarc=pass header.from=nhs.net", f"{BOUNDARY}.evil.example"),
          ANONYMOUS, NURSE),  # passed before
    spoof("partner-no-authserv-id", ("Authentication-Results", "dmarc=pass header.from=nhs.net"), ANONYMOUS,
          NURSE),  # passed before
    spoof("partner-lookalike-header-from", boundary("dmarc=pass header.from=nhs.net.evil.example"), ANONYMOUS, NURSE),
    spoof("partner-two-dmarc-results", boundary("dmarc=pass header.from=nhs.net; dmarc=fail header.from=nhs.net"),
          ANONYMOUS, NURSE),  # passed before
)


def drop(mailbox: LocalMailbox, case: Case, index: int, **message: bytes | str) -> None:
    """File ``case`` into the mailbox's Inbox byte for byte, as a mail server's pickup directory would.
    ``index`` orders the Inbox (it lists by file name)."""
    inbox = mailbox.root / "inbox"
    temporary = inbox / f".{index:03d}.tmp"
    temporary.write_bytes(case.message(**message))  # type: ignore[arg-type]
    os.replace(temporary, inbox / f"{index:03d}-{case.name}.eml")
