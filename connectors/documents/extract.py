"""Reading a form from an attachment, whatever shape it arrived in: the one entry point for processes.

:func:`extract` turns the bytes of a PDF or Word attachment into the raw values of a form definition's
fields, trying in turn what the document can hold:

* a PDF with form fields (AcroForm), read by field name;
* a PDF printed or flattened after filling in, read from its text layer by label and position;
* a scanned PDF (page images, no text), read by OCR when Tesseract is installed, every value then marked
  for a person to confirm; without OCR, refused with a message asking for the form itself;
* a Word document: label/value tables, content controls and legacy form fields.

:func:`read_form` then runs the definition's model validator. Both run inside the guard's parser workers
(``connectors/documents/parser_pool.py``): they are pure functions of their arguments, which pickle, as
does what they return. Every failure is one of Clerk's errors (``connectors/errors.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pypdf import PdfReader

from connectors.documents.acroform import field_values, open_pdf, pdf_errors, read_acroform
from connectors.documents.docx_form import open_docx, read_docx
from connectors.documents.forms import FORMS_DIR, FormDefinition, coerce, load_form
from connectors.documents.ocr import has_page_images, ocr_segments, tesseract
from connectors.documents.pdf_text import Reading, read_layout, text_segments
from connectors.errors import (
    AttachmentEmpty,
    AttachmentScanned,
    AttachmentTooManyPages,
    ConfigError,
    FormNotRecognised,
    InvalidForm,
)

Kind = Literal["pdf", "docx"]
Method = Literal["acroform", "text", "docx", "ocr"]

SCANNED = (
    "The form is a scanned image; Clerk cannot read scans yet. Please send the completed form itself (PDF or Word)."
)
_SCAN_TEXT_PER_PAGE = 40
"""A page with images and fewer characters of text than this is a scan (scanners may stamp a line on it)."""
_WORDS_IN_A_READABLE_SCAN = 30
"""OCR that finds this many words read the scan; if the form's labels were not among them, it is not the form."""


@dataclass(frozen=True)
class Extracted:
    """The raw values read from a form, and how they were read."""

    values: dict[str, object]
    """By field name: text as written, check boxes as ``bool``, choices as the option printed."""
    method: Method
    needs_confirmation: list[str] = field(default_factory=list)
    """Fields a person must confirm before the values are used (everything read by OCR)."""
    pages: int = 1
    version: str | None = None
    """Which of the definition's versions the document says it is, if it prints its reference."""


def extract(data: bytes, kind: Kind, form: FormDefinition | str, *, ocr: bool | None = None) -> Extracted:
    """Read ``form``'s fields from an attachment. ``form`` is a definition or its name in ``config/forms``.

    ``ocr``: ``None`` uses OCR on scans when Tesseract is installed, ``False`` never does (a scan is then
    refused with :class:`AttachmentScanned`), ``True`` insists (no Tesseract is then a ConfigError).

    Raises :class:`FormNotRecognised` for a readable document that is not this form, and
    :class:`AttachmentScanned`, :class:`AttachmentDamaged`, :class:`AttachmentEncrypted`,
    :class:`AttachmentTooManyPages` or :class:`AttachmentEmpty` for documents that cannot be read.
    """
    definition = form if isinstance(form, FormDefinition) else load_form(form)
    if not data:
        raise AttachmentEmpty(
            f"The attachment is empty (0 bytes). Please send the completed “{definition.title}” form."
        )
    if kind == "pdf":
        return _from_pdf(data, definition, ocr)
    if kind == "docx":
        return _from_docx(data, definition)
    raise ValueError(f"kind must be 'pdf' or 'docx', not {kind!r}")


def read_form(data: bytes, kind: Kind, form: FormDefinition | str, *, ocr: bool | None = None) -> tuple[Any, Extracted]:
    """Extract the form and validate it: ``(model, extracted)``, or :class:`InvalidForm` with the reasons."""
    definition = form if isinstance(form, FormDefinition) else load_form(form)
    extracted = extract(data, kind, definition, ocr=ocr)
    return validate(definition, extracted.values), extracted


def validate(form: FormDefinition, values: dict[str, object]) -> Any:
    """Run the definition's model validator; fields marked ``required`` must not be blank either."""
    missing = {
        spec.label: f"{spec.label} is missing. Please fill it in."
        for key, spec in form.fields.items()
        if spec.required and (values.get(key) is None or (isinstance(values[key], str) and not values[key].strip()))
    }
    try:
        model = form.validator(dict(values))
    except InvalidForm as exc:
        extra = [reason for label, reason in missing.items() if not any(r.startswith(label) for r in exc.reasons)]
        if extra:
            raise InvalidForm(exc.message, reasons=[*exc.reasons, *extra]) from exc
        raise
    if missing:
        raise InvalidForm(f"The “{form.title}” form has problems.", reasons=list(missing.values()))
    return model


# --- PDF ---------------------------------------------------------------------------------------------


def _from_pdf(data: bytes, form: FormDefinition, ocr: bool | None) -> Extracted:
    reader = open_pdf(data, form.title)
    with pdf_errors(form.title):
        pages = len(reader.pages)
        _check_pages(pages, form)
        fields = field_values(reader)
        found = read_acroform(fields, form)
        segments = text_segments(reader)
        reading = read_layout(segments, form)
        if len(found) >= form.min_fields_found:
            return Extracted(found, "acroform", [], pages, reading.version)
        if len(reading.values) >= form.min_fields_found:
            return Extracted(_typed(reading, form), "text", [], pages, reading.version)
        text = sum(len(segment.text) for page in segments for segment in page)
        if text < _SCAN_TEXT_PER_PAGE * pages and has_page_images(reader):
            return _from_scan(reader, form, ocr, pages)

    def probe(other: FormDefinition) -> int:
        return max(len(read_acroform(fields, other)), len(read_layout(segments, other).values))

    guess = _other_form(form, probe)
    if guess is None and fields and not reading.looks_like:
        guess = f"a different form (its fields are named {', '.join(sorted(fields)[:5])})"
    raise _not_recognised("PDF", form, guess or reading.looks_like)


def _from_scan(reader: PdfReader, form: FormDefinition, ocr: bool | None, pages: int) -> Extracted:
    if not (tesseract() is not None if ocr is None else ocr):
        raise AttachmentScanned(SCANNED)
    with pdf_errors(form.title):
        segments = ocr_segments(reader)
    reading = read_layout(segments, form)
    if len(reading.values) >= form.min_fields_found:
        values = _typed(reading, form)
        return Extracted(values, "ocr", list(values), pages, reading.version)
    if sum(len(segment.text.split()) for page in segments for segment in page) >= _WORDS_IN_A_READABLE_SCAN:
        guess = _other_form(form, lambda other: len(read_layout(segments, other).values))
        raise _not_recognised("scanned PDF", form, guess or reading.looks_like)
    raise AttachmentScanned(
        "The form is a scanned image and Clerk could not read enough of it. "
        "Please send the completed form itself (PDF or Word)."
    )


def _typed(reading: Reading, form: FormDefinition) -> dict[str, object]:
    return {key: coerce(form.fields[key], text) for key, text in reading.values.items()}


# --- Word --------------------------------------------------------------------------------------------


def _from_docx(data: bytes, form: FormDefinition) -> Extracted:
    document = open_docx(data, form.title)
    reading = read_docx(document, form)
    _check_pages(reading.pages, form)
    if len(reading.values) >= form.min_fields_found:
        return Extracted(reading.values, "docx", [], reading.pages, reading.version)
    guess = _other_form(form, lambda other: len(read_docx(document, other).values))
    raise _not_recognised("Word document", form, guess or reading.looks_like)


# --- when it is not this form ------------------------------------------------------------------------


def _check_pages(pages: int, form: FormDefinition) -> None:
    if pages > form.max_pages:
        raise AttachmentTooManyPages(
            f"The attachment has {pages} pages, but the “{form.title}” form has at most {form.max_pages}. "
            "Please send the completed form on its own."
        )


def _other_form(form: FormDefinition, probe: Callable[[FormDefinition], int]) -> str | None:
    """The title of another defined form the document is, if it is one."""
    directory = Path(form.source).parent if form.source else FORMS_DIR
    for path in sorted(directory.glob("*.yaml")):
        if path.stem == form.name:
            continue
        try:
            other = load_form(path)
        except ConfigError:  # a broken neighbour is reported when it is used, not here
            continue
        if probe(other) >= other.min_fields_found:
            return f"“{other.title}”"
    return None


def _not_recognised(what: str, form: FormDefinition, guess: str | None) -> FormNotRecognised:
    looks = f" It looks like {guess}." if guess else ""
    return FormNotRecognised(
        f"The attachment is a {what}, but it is not the “{form.title}” form.{looks} "
        f"Please send the completed “{form.title}” form."
    )
