"""The staff email the mail tests deliver: one builder for the contract suite and every backend's tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

STAFF = "priya.shah@council.example.gov.uk"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def message(subject: str, *, sender: str = STAFF, pdf: bytes | None = PDF, **headers: str) -> EmailMessage:
    """An email from a member of staff, marked internal as Exchange marks it, with a PDF form attached
    (``pdf=None``: none). ``headers`` are added with ``_`` spelled ``-`` (``Authentication_Results``)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "bluebadge@council.example.gov.uk"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="council.example.gov.uk")
    msg["X-MS-Exchange-Organization-AuthAs"] = "Internal"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(f"Body of {subject}")
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="form.pdf")
    return msg
