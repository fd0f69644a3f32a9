"""Reads the Blue Badge PDF form the way the flow has always done (before form definitions).

New code uses :func:`connectors.documents.extract.read_form`, which reads every format staff send; this
module keeps ``read_form_fields`` and ``read_blue_badge`` and their messages until the flow moves over.

Every way an attachment can fail to be read (not a PDF, empty, damaged, locked with a password, a PDF
without form fields) becomes :class:`~connectors.errors.UnreadableAttachment` with a message a member of
staff can pass on to the applicant; a missing decryption package becomes
:class:`~connectors.errors.ConfigError`. pypdf's own exceptions never leave this module.
"""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from connectors.documents.acroform import field_values
from connectors.documents.blue_badge import LABELS, BlueBadgeApplication, validate_application
from connectors.errors import ConfigError, UnreadableAttachment

_MAGIC = b"%PDF-"
_SNIFF_BYTES = 1024  # the PDF header may follow some junk, within the first kilobyte

_ASK_AGAIN = "Please ask the applicant to fill in the Blue Badge form again and send it back."


def read_form_fields(data: bytes) -> dict[str, object]:
    """The form's fields by name: text as ``str``, tick boxes as ``bool``, lists and radio buttons as the
    chosen option (``None`` if none). Raises :class:`UnreadableAttachment` if there is no form to read."""
    if not data:
        raise UnreadableAttachment(f"The attachment is empty (0 bytes), so there is no form to read. {_ASK_AGAIN}")
    if _MAGIC not in data[:_SNIFF_BYTES]:
        raise UnreadableAttachment(
            "The attachment is not a PDF, so it cannot be the Blue Badge application form. "
            "Please ask the applicant to send the form itself, as a PDF."
        )
    try:
        reader = PdfReader(io.BytesIO(data))
        values = field_values(reader)  # pypdf has tried the empty password; other passwords fail here
    except FileNotDecryptedError as exc:
        raise UnreadableAttachment(
            "The PDF is protected by a password, so Clerk cannot open it. "
            "Please ask the applicant to send it again without a password."
        ) from exc
    except DependencyError as exc:  # our installation is at fault, not the attachment
        raise ConfigError(f"Reading this PDF needs a package that is not installed: {exc}") from exc
    except Exception as exc:  # damaged input makes pypdf raise many kinds of error, not only PdfReadError
        raise UnreadableAttachment(
            f"The PDF is damaged and cannot be opened (it may not have been saved or sent completely). {_ASK_AGAIN}"
        ) from exc
    if not values:
        raise UnreadableAttachment(
            "The attachment is a PDF but not the Blue Badge application form: it has no fields to read. "
            f"It may have been printed or scanned to PDF. {_ASK_AGAIN}"
        )
    return values


def read_blue_badge(data: bytes) -> BlueBadgeApplication:
    """Read and validate a Blue Badge application form.

    Raises :class:`UnreadableAttachment` if the attachment is not a form (or another form altogether) and
    :class:`~connectors.errors.InvalidForm` listing every problem with what was filled in.
    """
    fields = read_form_fields(data)
    if not fields.keys() & LABELS.keys():
        raise UnreadableAttachment(
            "The attachment is a PDF form, but not the Blue Badge application form: "
            f"none of its fields are the ones on our form. {_ASK_AGAIN}"
        )
    return validate_application(fields)
