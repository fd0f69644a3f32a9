"""Clerk's one exception tree.

Two families, and the difference decides what happens to an email:

* ``BusinessError``: the input is wrong (a field missing, a sender not allowed). Do not retry:
  tell the sender in words they understand and park the email in Exceptions.
* ``SystemError``: an application, the mailbox, the network or the configuration is at fault.
  Retry where a retry can help, then park the email in Exceptions for a supervisor.

Every error has a ``code``; ``runbooks/blue-badge.md`` explains each one. Adapters translate library
errors at their boundary (``raise ApplicationUnavailable(...) from exc``) so that flows only ever see
this tree.
"""

from __future__ import annotations


class ClerkError(Exception):
    """Base of every error Clerk raises on purpose."""

    code = "CLERK"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class BusinessError(ClerkError):
    """The input is wrong. Never retried; the sender is told why.

    ``reasons`` holds one sentence per problem, written for a member of staff.
    """

    code = "BUSINESS"

    def __init__(self, message: str, *, code: str | None = None, reasons: list[str] | None = None) -> None:
        super().__init__(message, code=code)
        self.reasons = reasons or [message]


class InvalidForm(BusinessError):
    code = "FORM_INVALID"


class UnreadableAttachment(BusinessError):
    code = "ATTACHMENT_UNREADABLE"


class MissingAttachment(BusinessError):
    code = "ATTACHMENT_MISSING"


class SenderNotAllowed(BusinessError):
    code = "SENDER_NOT_ALLOWED"


class SenderUnverified(SenderNotAllowed):
    """Exchange did not vouch for the sender: not marked internal, and no DMARC pass for a partner domain."""

    code = "SENDER_UNVERIFIED"


class SenderSpoofed(SenderNotAllowed):
    """``From`` and ``Sender`` differ: the email was sent on behalf of someone else."""

    code = "SENDER_SPOOFED"


class NoRoute(BusinessError):
    code = "NO_ROUTE"


class MailUnreadable(BusinessError):
    """The email itself cannot be read (an unknown character set, broken MIME): parked, the rest of the
    batch goes on."""

    code = "MAIL_UNREADABLE"


# --- attachments refused before or while parsing (connectors/documents) ----------------------------
class AttachmentEmpty(UnreadableAttachment):
    code = "ATTACHMENT_EMPTY"


class AttachmentWrongType(UnreadableAttachment):
    """By its content (not its name) the file is not a PDF or a Word document."""

    code = "ATTACHMENT_WRONG_TYPE"


class AttachmentDamaged(UnreadableAttachment):
    """Truncated or corrupt: the parser could not read it."""

    code = "ATTACHMENT_DAMAGED"


class AttachmentEncrypted(UnreadableAttachment):
    code = "ATTACHMENT_ENCRYPTED"


class AttachmentActiveContent(UnreadableAttachment):
    """Macros, ActiveX controls or a macro-enabled document type."""

    code = "ATTACHMENT_ACTIVE_CONTENT"


class AttachmentExternalLink(UnreadableAttachment):
    """The document pulls in something from outside (an external template or other external relationship)."""

    code = "ATTACHMENT_EXTERNAL_LINK"


class AttachmentBomb(UnreadableAttachment):
    """Compressed sizes or ratios out of bounds, or the parser ran out of its memory allowance."""

    code = "ATTACHMENT_BOMB"


class AttachmentTooLarge(UnreadableAttachment):
    code = "ATTACHMENT_TOO_LARGE"


class EmailTooLarge(UnreadableAttachment):
    code = "EMAIL_TOO_LARGE"


class AttachmentTooManyPages(UnreadableAttachment):
    code = "ATTACHMENT_TOO_MANY_PAGES"


class AttachmentTimeout(UnreadableAttachment):
    """Reading the file took longer than the parser's time limit."""

    code = "ATTACHMENT_TIMEOUT"


class AttachmentScanned(UnreadableAttachment):
    """A scanned image with no text, and OCR is not installed (or could not read it)."""

    code = "ATTACHMENT_SCANNED"


class FormNotRecognised(UnreadableAttachment):
    """A readable document, but not the form this process expects."""

    code = "FORM_NOT_RECOGNISED"


class SystemError(ClerkError):  # noqa: A001 - deliberately Clerk's own, see module docstring
    """An external system failed. Retried, then parked for a supervisor."""

    code = "SYSTEM"
    retryable = True


class DocumentReaderFailed(SystemError):
    """Clerk's document reader failed, not the attachment: a parser process died (other than at its memory
    cap) or was still busy past ``documents.parser_wall_s`` by the clock. Retried; never the sender's fault."""

    code = "PARSER_UNAVAILABLE"


class ApplicationUnavailable(SystemError):
    """The legacy application did not answer, or answered "System busy"."""

    code = "APP_UNAVAILABLE"


class ApplicationRejected(SystemError):
    """The legacy application refused data Clerk had already validated: the form and the bot disagree."""

    code = "APP_REJECTED"
    retryable = False


class RecordNotVerified(SystemError):
    """The record read back from the application does not match what was keyed."""

    code = "RECORD_NOT_VERIFIED"
    retryable = False


class MailboxUnavailable(SystemError):
    code = "MAILBOX_UNAVAILABLE"


class MailboxThrottled(MailboxUnavailable):
    """The mail server kept answering "server busy" beyond the bounded wait; the email stays where it was."""

    code = "MAILBOX_THROTTLED"


class AlreadyClaimed(SystemError):
    """Another worker claimed the email first. Not a fault: the loser skips it."""

    code = "ALREADY_CLAIMED"
    retryable = False


class ConfigError(SystemError):
    """Configuration is missing or invalid. Stops start-up; names the file and the key."""

    code = "CONFIG_INVALID"
    retryable = False

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ", ".join(part for part in (f"file {file}" if file else "", f"key '{key}'" if key else "") if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message
        """The message without the file and key (to re-raise it naming another file)."""
        self.file = file
        self.key = key
