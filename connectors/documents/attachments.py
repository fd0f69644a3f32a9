"""Reading a process's form from an email's attachments: the guard, a warm capped parser process, the form
definition, then validation. The one place a flow asks "which form is attached, and what does it say?".

Attachments that cannot be a form (a signature logo, a photo, a calendar invite) are ignored; anything that
claims to be a document by its name or type, or is one by its content, is read through the guard, so a text
file called ``form.pdf`` is refused (ATTACHMENT_WRONG_TYPE) rather than silently skipped.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from connectors.documents.extract import Extracted, extract, validate
from connectors.documents.forms import FormDefinition, load_form
from connectors.documents.guard import check_email_size, container
from connectors.documents.parser_pool import ParserPool, guarded
from connectors.errors import BusinessError, InvalidForm, MissingAttachment
from connectors.mail import Attachment

_DOCUMENT_SUFFIXES = {".pdf", ".docx", ".docm", ".doc", ".dotx", ".dotm", ".odt", ".rtf",
                      ".xlsx", ".xlsm", ".xls", ".xlsb", ".xltx", ".xltm", ".ods", ".csv"}  # fmt: skip
_DOCUMENT_TYPES = ("application/pdf", "application/msword", "application/vnd.openxmlformats-officedocument",
                   "application/vnd.ms-word", "application/vnd.ms-excel", "application/vnd.oasis.opendocument",
                   "text/csv", "application/octet-stream")  # fmt: skip
_FORMAT_WORDS = {"pdf": "PDF", "docx": "Word", "xlsx": "Excel"}


@dataclass(frozen=True)
class FormRead:
    attachment: str
    record: Any
    """The process's validated model (for Blue Badge, a BlueBadgeApplication). Where a box could not be read
    (``extracted.unreadable``) it holds a stand-in a supervisor must confirm (``extracted.review``)."""
    extracted: Extracted


def is_candidate(attachment: Attachment) -> bool:
    """Could this attachment be the form? (By name, declared type or content: a logo is not.)"""
    if PurePath(attachment.filename.lower()).suffix in _DOCUMENT_SUFFIXES:
        return True
    if attachment.content_type.lower().startswith(_DOCUMENT_TYPES):
        return True
    return container(attachment.data) is not None


class FormReader:
    """Reads forms through one warm :class:`ParserPool`, started on first use and closed with Clerk."""

    def __init__(self, settings) -> None:
        self._settings = settings  # connectors.settings.DocumentSettings
        self._pool: ParserPool | None = None
        self._lock = threading.Lock()

    def definition(self, form: str) -> FormDefinition:
        return load_form(form, Path(self._settings.forms_dir))

    def read(self, attachments: list[Attachment], form: str) -> list[FormRead]:
        """Every attachment that is a valid ``form``; raises the first refusal when none is.

        Raises :class:`MissingAttachment` when nothing attached could be a document, and
        :class:`~connectors.errors.EmailTooLarge` before reading anything when the email is too big.
        """
        check_email_size(sum(len(attachment.data) for attachment in attachments), self._settings)
        candidates = [attachment for attachment in attachments if is_candidate(attachment)]
        definition = self.definition(form)
        if not candidates:
            raise MissingAttachment(
                f"No {definition.title} form was attached.",
                reasons=[f"Please attach the completed {definition.title} form ({_formats(definition)}) and send it "
                         "again."])  # fmt: skip
        parse = extract if self._settings.ocr == "auto" else functools.partial(extract, ocr=False)
        found, refusals = [], []
        for attachment in candidates:
            try:
                extracted = guarded(attachment.data, attachment.filename, parse, definition,
                                    limits=self._settings, pool=self.pool(), max_pages=definition.max_pages)
                record = validate(definition, extracted.values, extracted.unreadable)
                found.append(FormRead(attachment.filename, record, extracted))
            except BusinessError as exc:
                refusals.append(exc)
        if not found:  # the form itself, wrongly filled in, says more to the sender than any other refusal
            raise next((exc for exc in refusals if isinstance(exc, InvalidForm)), refusals[0])
        return found

    def pool(self) -> ParserPool:
        with self._lock:
            if self._pool is None:
                self._pool = ParserPool(self._settings)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _formats(definition: FormDefinition) -> str:
    """"PDF, Word or Excel": the formats the form is accepted in."""
    words = [_FORMAT_WORDS[name] for name in definition.formats]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
