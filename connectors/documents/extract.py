"""Reading a form from an attachment, whatever shape it arrived in: the one entry point for processes.

:func:`extract` turns the bytes of a PDF or Word attachment into the raw values of a form definition's
fields, trying in turn what the document can hold:

* a PDF with form fields (AcroForm), read by field name;
* a PDF printed or flattened after filling in, read from its text layer by label and position (text
  inside the boxes' flattened appearances included);
* a scanned PDF (page images, no text), read by OCR when Tesseract is installed, every value then marked
  for a person to confirm; without OCR, refused with a message asking for the form itself;
* a Word document: label/value tables, content controls and legacy form fields;
* an Excel workbook: a label in one cell and its answer beside or below it (``xlsx_form``), cached values
  only, never a formula evaluated.

A form definition may list the ``formats`` it is accepted in; a file in another is refused.

A document counts as the form when enough of its fields are found and, if the definition lists
``anchors``, one of those phrases is in it. Every text value is cleaned (NFC, no invisible format
characters: ``connectors.documents.characters``). What Clerk cannot be sure of is not blamed on the sender
but put to a supervisor (``Extracted.review``): a tick box or option drawn on a printed or flattened form
with no mark Clerk can read, or one OCR did not read, is *unreadable* (its value None, let through by
:func:`validate`); a name mixing alphabets is flagged.

:func:`read_form` then runs the definition's model validator. Both run inside the guard's parser workers
(``connectors/documents/parser_pool.py``): they are pure functions of their arguments, which pickle, as
does what they return. Every failure is one of Clerk's errors (``connectors/errors.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pypdf import PdfReader

from connectors.documents.acroform import field_values, open_pdf, pdf_errors, read_acroform
from connectors.documents.characters import clean, mixed_scripts
from connectors.documents.docx_form import open_docx, read_docx
from connectors.documents.forms import FORMS_DIR, FieldSpec, FormDefinition, coerce, load_form, normalise
from connectors.documents.ocr import has_page_images, ocr_segments, tesseract
from connectors.documents.pdf_text import Reading, Segment, read_layout, read_pages
from connectors.documents.xlsx_form import open_xlsx, read_xlsx, visible_sheets
from connectors.errors import (
    AttachmentEmpty,
    AttachmentScanned,
    AttachmentTooManyPages,
    AttachmentWrongType,
    ConfigError,
    FormNotRecognised,
    InvalidForm,
)

Kind = Literal["pdf", "docx", "xlsx"]
Method = Literal["acroform", "text", "docx", "ocr", "xlsx"]
FORMAT_NAMES = {"pdf": "a PDF", "docx": "a Word (.docx) document", "xlsx": "an Excel (.xlsx) workbook"}

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
    unreadable: list[str] = field(default_factory=list)
    """Tick boxes and options Clerk could not read (drawn on a printed or flattened form with no mark it can
    read, or missed by OCR): their value is None, :func:`validate` lets them through, and ``review`` asks
    a supervisor to look."""
    review: list[str] = field(default_factory=list)
    """Why a supervisor must look before the values are used: one sentence per field, naming the field (its
    name and printed label), never its value."""


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
    if kind not in FORMAT_NAMES:
        raise ValueError(f"kind must be 'pdf', 'docx' or 'xlsx', not {kind!r}")
    if kind not in definition.formats:
        accepted = " or ".join(FORMAT_NAMES[name] for name in definition.formats)
        raise AttachmentWrongType(f"The “{definition.title}” form is not accepted as {FORMAT_NAMES[kind]}. "
                                  f"Please send it as {accepted}.")
    if kind == "pdf":
        return _finish(_from_pdf(data, definition, ocr), definition)
    if kind == "docx":
        return _finish(_from_docx(data, definition), definition)
    return _finish(_from_xlsx(data, definition), definition)


def read_form(data: bytes, kind: Kind, form: FormDefinition | str, *, ocr: bool | None = None) -> tuple[Any, Extracted]:
    """Extract the form and validate it: ``(model, extracted)``, or :class:`InvalidForm` with the reasons."""
    definition = form if isinstance(form, FormDefinition) else load_form(form)
    extracted = extract(data, kind, definition, ocr=ocr)
    return validate(definition, extracted.values, extracted.unreadable), extracted


def validate(form: FormDefinition, values: dict[str, object], unreadable: Collection[str] = ()) -> Any:
    """Run the definition's model validator; fields marked ``required`` must not be blank either.

    ``unreadable`` fields (see :attr:`Extracted.unreadable`) are never reported as missing or wrong: a tick
    box is taken as ticked and an option as unanswered, for the supervisor who is asked to look. Only if
    the model cannot be built without them is the form refused, saying Clerk could not read them."""
    unread = [key for key in unreadable if key in form.fields]
    given = dict(values)
    for key in unread:
        if form.fields[key].type == "checkbox":
            given[key] = True
    missing = {
        spec.label: f"{spec.label} is missing. Please fill it in."
        for key, spec in form.fields.items()
        if spec.required and key not in unread and (given.get(key) is None or (isinstance(given[key], str)
                                                                                and not given[key].strip()))
    }  # fmt: skip
    try:
        model = form.validator(given)
    except InvalidForm as exc:
        labels = tuple(form.fields[key].label for key in unread)
        kept = [reason for reason in exc.reasons if not (labels and reason.startswith(labels))]
        extra = [reason for label, reason in missing.items() if not any(r.startswith(label) for r in kept)]
        if kept != exc.reasons or extra:
            if not kept and not extra:
                raise InvalidForm(exc.message, reasons=[_could_not_read(form.fields[key]) for key in unread]) from exc
            raise InvalidForm(exc.message, reasons=[*kept, *extra]) from exc
        raise
    if missing:
        raise InvalidForm(f"The “{form.title}” form has problems.", reasons=list(missing.values()))
    return model


def _could_not_read(spec: FieldSpec) -> str:
    return (f"{spec.label}: Clerk could not read this box on a printed, flattened or scanned copy of the form. "
            "Please send the form as it was filled in on screen (the PDF or Word file itself).")  # fmt: skip


# --- what every reading ends with ----------------------------------------------------------------------


def _finish(extracted: Extracted, form: FormDefinition) -> Extracted:
    """Clean every text value and say what a supervisor must look at."""
    values = {key: " ".join(clean(value).split()) if isinstance(value, str) else value
              for key, value in extracted.values.items()}  # fmt: skip
    review = [_unreadable_sentence(key, form.fields[key]) for key in extracted.unreadable]
    for key, value in values.items():
        spec = form.fields.get(key)
        alphabets = mixed_scripts(value) if spec is not None and spec.type == "text" and isinstance(value, str) else []
        if alphabets:
            review.append(f"{key}: the “{spec.label}” mixes letters of different alphabets ({' and '.join(alphabets)}), "
                          "so it may not be what it looks like; check it against the form")  # fmt: skip
    return replace(extracted, values=values, review=review)


def _unreadable_sentence(key: str, spec: FieldSpec) -> str:
    if spec.type == "checkbox":
        return (f"{key}: could not read the “{spec.label}” tick box (a printed, flattened or scanned form): check "
                f"it on the form; approve only if it is ticked (when correcting other fields, give {key}=Yes "
                "too), otherwise reject")  # fmt: skip
    return (f"{key}: could not read which “{spec.label}” option is marked (a printed, flattened or scanned form): "
            f"check it on the form and correct {key} to the option marked; approving leaves it unanswered")  # fmt: skip


# --- PDF ---------------------------------------------------------------------------------------------


def _from_pdf(data: bytes, form: FormDefinition, ocr: bool | None) -> Extracted:
    reader = open_pdf(data, form.title)
    with pdf_errors(form.title):
        pages = len(reader.pages)
        _check_pages(pages, form)
        fields = field_values(reader)
        found = read_acroform(fields, form)
        layers = read_pages(reader)
        segments = [layer.segments for layer in layers]
        reading = read_layout(segments, form, [layer.drawings for layer in layers])
        words = _words(segments)
        if len(found) >= form.min_fields_found and form.anchored(words):
            return Extracted(found, "acroform", [], pages, reading.version)
        if len(reading.values) >= form.min_fields_found and form.anchored(words):
            values, unreadable = _typed(reading, form, ocr=False)
            return Extracted(values, "text", [], pages, reading.version, unreadable)
        text = sum(len(segment.text) for page in segments for segment in page)
        if text < _SCAN_TEXT_PER_PAGE * pages and has_page_images(reader):
            return _from_scan(reader, form, ocr, pages)

    def probe(other: FormDefinition) -> int:
        if not other.anchored(words):
            return 0
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
    words = _words(segments)
    if len(reading.values) >= form.min_fields_found and form.anchored(words):
        values, unreadable = _typed(reading, form, ocr=True)
        return Extracted(values, "ocr", list(values), pages, reading.version, unreadable)
    if sum(len(segment.text.split()) for page in segments for segment in page) >= _WORDS_IN_A_READABLE_SCAN:
        guess = _other_form(form, lambda other: len(read_layout(segments, other).values) if other.anchored(words)
                            else 0)  # fmt: skip
        raise _not_recognised("scanned PDF", form, guess or reading.looks_like)
    raise AttachmentScanned(
        "The form is a scanned image and Clerk could not read enough of it. "
        "Please send the completed form itself (PDF or Word)."
    )


def _typed(reading: Reading, form: FormDefinition, *, ocr: bool) -> tuple[dict[str, object], list[str]]:
    """The values typed as the definition says, and the tick boxes and options that cannot be read: with no
    mark read in them, though something is drawn there (or, read by OCR, which may miss a mark or a
    whole box), and options whose words lost their places on the line."""
    values: dict[str, object] = {}
    unreadable: list[str] = []
    for key, spec in form.fields.items():
        boxed = spec.type in ("checkbox", "choice")
        if key in reading.values:
            value = coerce(spec, reading.values[key])
            marked = value is True if spec.type == "checkbox" else value in spec.options
            unplaced = spec.type == "choice" and key in reading.unplaced
            if boxed and (unplaced or not marked and (ocr or key in reading.drawn)):
                value = None
                unreadable.append(key)
            values[key] = value
        elif boxed and ocr:
            values[key] = None
            unreadable.append(key)
    return values, unreadable


def _words(segments: list[list[Segment]]) -> str:
    """A document's words, :func:`normalise` d, to look for a definition's anchors in."""
    return normalise(" ".join(segment.text for page in segments for segment in page))


# --- Word --------------------------------------------------------------------------------------------


def _from_docx(data: bytes, form: FormDefinition) -> Extracted:
    document = open_docx(data, form.title)
    reading = read_docx(document, form)
    _check_pages(reading.pages, form)
    if len(reading.values) >= form.min_fields_found and form.anchored(reading.words):
        return Extracted(reading.values, "docx", [], reading.pages, reading.version)
    guess = _other_form(form, lambda other: len(read_docx(document, other).values) if other.anchored(reading.words)
                        else 0)  # fmt: skip
    raise _not_recognised("Word document", form, guess or reading.looks_like)


# --- Excel ---------------------------------------------------------------------------------------------


def _from_xlsx(data: bytes, form: FormDefinition) -> Extracted:
    workbook = open_xlsx(data, form.title)
    try:
        sheets = len(visible_sheets(workbook))  # before any sheet is read
        if sheets > form.max_pages:
            raise AttachmentTooManyPages(
                f"The workbook has {sheets} sheets, but the “{form.title}” form has at most {form.max_pages} "
                "pages. Please send the completed form on its own."
            )
        reading = read_xlsx(workbook, form, data)
        if len(reading.values) >= form.min_fields_found and form.anchored(reading.words):
            if reading.uncalculated:
                raise InvalidForm(
                    f"The “{form.title}” form has problems.",
                    reasons=[f"{form.fields[key].label}: the answer is a formula saved without its result (the file "
                             "was made or changed by a program that does not calculate, and Clerk never does). "
                             "Please open the file in Excel, save it and send it again." for key in reading.uncalculated],
                )  # fmt: skip
            return Extracted(reading.values, "xlsx", [], reading.pages, reading.version)

        def probe(other: FormDefinition) -> int:
            return len(read_xlsx(workbook, other).values) if other.anchored(reading.words) else 0

        guess = _other_form(form, probe)
    finally:
        workbook.close()
    raise _not_recognised("spreadsheet", form, guess or reading.looks_like)


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
