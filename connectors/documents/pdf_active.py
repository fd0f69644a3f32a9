"""Active content in a PDF: anything a PDF reader would run, launch, send or unpack when the file is
opened or clicked. Clerk refuses it as it refuses macros in Word (ATTACHMENT_ACTIVE_CONTENT).

Clerk itself never runs a PDF's scripts, but the file goes on to people: a supervisor opens it from
Exceptions, a caseworker from the record. So a PDF is refused when anything reachable from its catalogue,
pages, annotations, form fields or bookmarks is:

* JavaScript: the document's /JavaScript name tree, or any action carrying /JS (an /OpenAction, an
  additional action /AA on the document, a page, a field or an annotation, a bookmark, a link);
* an action that leaves the document: /Launch (a program or file), /SubmitForm (send the form's data
  somewhere), /ImportData, /GoToR and /GoToE (another PDF, or one embedded in this one), /RichMediaExecute;
* a file inside the PDF: the /EmbeddedFiles name tree, associated files (/AF), a /FileAttachment
  annotation; or embedded media that can carry scripts (/RichMedia and /3D annotations);
* an XFA form (Adobe LiveCycle) whose template has <script> elements.

Two things are *not* active content, because genuine forms carry them: an /OpenAction that is a
destination ("open at page 1", which Word's "Save as PDF" writes) or a plain go-to action, and a form
field's formatting script made only of calls to Acrobat's built-in AF functions with literal arguments
(``AFDate_FormatEx("dd/mm/yyyy")``), which Acrobat writes for every date or number box. Links to web pages
(/URI) are allowed, as hyperlinks are in Word.

:func:`refuse_active_content` runs inside a parser worker (``guard.inspect_pdf``), under its caps; the walk
is bounded in objects visited and never follows a reference twice. :func:`may_have_active_content` clears
most files from their bytes alone first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject, StreamObject

from connectors.errors import AttachmentActiveContent

ACTIVE_CONTENT = (
    "The PDF contains scripts, actions that open other files or programs, or files attached inside it, which "
    "Clerk does not open for safety. Please save the form as a plain PDF (for example with “Print to PDF”) "
    "without attachments and send it again."
)

_LEAVING_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE",
                              "/RichMediaExecute"})  # fmt: skip
_ACTIVE_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/3D"})
_FIELD_SCRIPT_TRIGGERS = frozenset({"/K", "/F", "/V", "/C"})  # keystroke, format, validate, calculate
_MAX_OBJECTS = 20_000
"""Objects the walk visits at most; a form has a few hundred. Beyond it the file is refused, not trusted."""
_MAX_SCRIPT = 4096
"""A formatting script longer than this is not one Acrobat wrote for a box."""

# Acrobat's formatting helpers with literal arguments, e.g. AFNumber_Format(2, 0, 0, 0, "£", true);
_LITERAL = r"""(?:-?\d+(?:\.\d+)?|"[^"\\\n]*"|'[^'\\\n]*'|true|false)"""
_LITERALS = rf"(?:{_LITERAL}(?:\s*,\s*{_LITERAL})*)?"
_ARGUMENT = rf"(?:{_LITERAL}|new\s+Array\s*\(\s*{_LITERALS}\s*\))"
_CALL = rf"AF[A-Za-z]+_[A-Za-z]+\s*\(\s*(?:{_ARGUMENT}(?:\s*,\s*{_ARGUMENT})*)?\s*\)"
_BUILT_IN_FORMATTING = re.compile(rf"\s*(?:{_CALL}\s*;?\s*)+")
_XFA_SCRIPT = re.compile(rb"<(?:[\w.-]+:)?script\b", re.IGNORECASE)


class _TooBig(Exception):
    """The walk reached its bound."""


class _Walk:
    """Resolves objects once each, counting them against the bound."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, int]] = set()
        self.visited = 0

    def resolve(self, value: PdfObject | None) -> PdfObject | None:
        """The object itself, or None if it is a reference already followed (a cycle or a shared object)."""
        self.visited += 1
        if self.visited > _MAX_OBJECTS:
            raise _TooBig
        if isinstance(value, IndirectObject):
            key = (value.idnum, value.generation)
            if key in self.seen:
                return None
            self.seen.add(key)
            return value.get_object()
        return value

    def dictionary(self, value: PdfObject | None) -> DictionaryObject | None:
        resolved = self.resolve(value)
        return resolved if isinstance(resolved, DictionaryObject) else None

    def items(self, value: PdfObject | None) -> Iterator[PdfObject]:
        """The elements of an array (one object is an array of one)."""
        resolved = self.resolve(value)
        if isinstance(resolved, ArrayObject):
            yield from resolved
        elif resolved is not None:
            yield resolved


# Every name active content needs, and the marks of what a byte search cannot see through: a name spelled with
# #-escapes, and object streams (compressed dictionaries). False alarms only cost the full walk.
_ACTIVE_NAMES = re.compile(rb"/(?:JS|JavaScript|AA|OpenAction|Launch|SubmitForm|ImportData|GoTo[RE]|RichMedia"
                           rb"|EmbeddedFile|AF|FileAttachment|3D|XFA|ObjStm)")  # fmt: skip
_ESCAPED_NAME = re.compile(rb"/[^\s/\[\]<>(){}%]*#[0-9A-Fa-f]{2}")


def may_have_active_content(data: bytes) -> bool:
    """Whether the walk is needed: False only when the file's bytes hold none of the names active content
    needs, no name spelled with an escape and no object stream. Every dictionary outside an object stream
    is written out plainly, so most forms (which carry none of these) are cleared without parsing."""
    return _ACTIVE_NAMES.search(data) is not None or _ESCAPED_NAME.search(data) is not None


def refuse_active_content(reader: PdfReader) -> None:
    """Raise :class:`AttachmentActiveContent` if the PDF has active content (see the module docstring)."""
    walk = _Walk()
    try:
        if _has_active_content(reader, walk):
            raise AttachmentActiveContent(ACTIVE_CONTENT)
    except _TooBig:
        raise AttachmentActiveContent(ACTIVE_CONTENT) from None


def _has_active_content(reader: PdfReader, walk: _Walk) -> bool:
    root = reader.root_object  # pypdf resolves the trailer's /Root (or finds the catalogue in a damaged file)
    names = walk.dictionary(root.get("/Names"))
    if names is not None and ("/JavaScript" in names or "/EmbeddedFiles" in names):
        return True
    if "/AF" in root or _open_action_is_active(root.get("/OpenAction"), walk):
        return True
    if any(_action_is_active(action, walk) for _, action in _additional_actions(root, walk)):
        return True
    form = walk.dictionary(root.get("/AcroForm"))
    if form is not None and (_xfa_has_scripts(form.get("/XFA"), walk) or _fields_are_active(form, walk)):
        return True
    if _outline_is_active(root.get("/Outlines"), walk):
        return True
    return any(_page_is_active(page, walk) for page in reader.pages)


def _page_is_active(page: DictionaryObject, walk: _Walk) -> bool:
    if "/AF" in page or any(_action_is_active(action, walk) for _, action in _additional_actions(page, walk)):
        return True
    return any(_object_is_active(walk.dictionary(item), walk) for item in walk.items(page.get("/Annots")))


def _fields_are_active(form: DictionaryObject, walk: _Walk) -> bool:
    """Every field of the form and its widgets, through /Kids. (A widget is also a page's annotation;
    whichever path reaches it first checks it.)"""
    pending = list(walk.items(form.get("/Fields")))
    while pending:
        field = walk.dictionary(pending.pop())
        if _object_is_active(field, walk, field=True):
            return True
        if field is not None:
            pending.extend(walk.items(field.get("/Kids")))
    return False


def _object_is_active(item: DictionaryObject | None, walk: _Walk, *, field: bool = False) -> bool:
    """An annotation, a form field or a field's widget: its kind, attached files and actions."""
    if item is None:
        return False
    if _name(item, "/Subtype") in _ACTIVE_ANNOTATIONS or "/AF" in item or _action_is_active(item.get("/A"), walk):
        return True
    field = field or _name(item, "/Subtype") == "/Widget"
    return any(_action_is_active(action, walk, trigger=trigger, field=field)
               for trigger, action in _additional_actions(item, walk))  # fmt: skip


def _outline_is_active(outlines: PdfObject | None, walk: _Walk) -> bool:
    """Bookmarks: each may carry an action (clicking it runs the action)."""
    root = walk.dictionary(outlines)
    pending = [root.get("/First")] if root is not None else []
    while pending:
        item = walk.dictionary(pending.pop())
        if item is None:
            continue
        if _action_is_active(item.get("/A"), walk):
            return True
        pending += [item.get(key) for key in ("/First", "/Next") if key in item]
    return False


def _name(holder: DictionaryObject, key: str) -> object:
    """A name-valued entry, even if stored as a reference (which a reader accepts, so a check must too)."""
    value = holder.get(key)
    return value.get_object() if isinstance(value, IndirectObject) else value


def _additional_actions(holder: DictionaryObject, walk: _Walk) -> Iterator[tuple[str, PdfObject]]:
    """The (trigger, action) pairs of ``holder``'s additional-actions dictionary (/AA)."""
    actions = walk.dictionary(holder.get("/AA"))
    yield from actions.items() if actions is not None else ()


def _open_action_is_active(value: PdfObject | None, walk: _Walk) -> bool:
    """An /OpenAction is a destination (an array: page and view), which is harmless, or an action."""
    action = walk.resolve(value)
    return isinstance(action, DictionaryObject) and _action_is_active(action, walk)


def _action_is_active(value: PdfObject | None, walk: _Walk, *, trigger: str = "", field: bool = False) -> bool:
    """Whether an action, or any action chained after it (/Next), is active. ``trigger`` and ``field``:
    the additional action of a form field it is, if it is one."""
    pending = [value]
    while pending:
        action = walk.dictionary(pending.pop())
        if action is None:
            continue
        kind = _name(action, "/S")
        if "/JS" in action or kind == "/JavaScript":
            if not (field and trigger in _FIELD_SCRIPT_TRIGGERS and _is_built_in_formatting(action, walk)):
                return True
        elif kind in _LEAVING_ACTIONS:
            return True
        if "/Next" in action:
            pending.extend(walk.items(action.get("/Next")))
    return False


def _is_built_in_formatting(action: DictionaryObject, walk: _Walk) -> bool:
    """A field script made only of calls to Acrobat's AF functions with literal arguments."""
    script = walk.resolve(action.get("/JS"))
    if isinstance(script, StreamObject):
        script = script.get_data()
    if isinstance(script, bytes):
        script = script.decode("latin-1")
    if not isinstance(script, str) or len(script) > _MAX_SCRIPT:
        return False
    return _BUILT_IN_FORMATTING.fullmatch(script) is not None


def _xfa_has_scripts(xfa: PdfObject | None, walk: _Walk) -> bool:
    """An XFA form is one stream, or an array alternating packet names and streams."""
    for item in walk.items(xfa):
        stream = walk.resolve(item)
        if isinstance(stream, StreamObject) and _XFA_SCRIPT.search(stream.get_data()):
            return True
    return False
