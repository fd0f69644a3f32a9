"""Reading a form from a Word document, the three ways councils build Word forms.

* Label/value tables: a cell with the label as printed, and the value in the cell beside it.
* Content controls (``w:sdt``): plain text, drop-down lists, check boxes (``w14:checkbox``) and date
  pickers (``w:date``), found by their tag or title, or else by the label beside them.
* Legacy form fields (Word 97-2003): ``FORMTEXT``, ``FORMCHECKBOX`` and ``FORMDROPDOWN`` fields, whose
  ``w:ffData`` names them, found by that name or by the label beside them.

And, last, paragraphs written as "Label: value". python-docx opens the package; the rest is its lxml tree.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

import docx
from docx.document import Document as WordDocument
from lxml import etree

from connectors.documents.forms import FieldSpec, FormDefinition, Labels, coerce, normalise
from connectors.documents.pdf_text import quoted
from connectors.errors import AttachmentDamaged

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"


def _w(tag: str) -> str:
    return f"{{{_W}}}{tag}"


_TRUE = {"1", "true", "on"}


@dataclass(frozen=True)
class _Control:
    """A content control or legacy form field: its names, the label beside it, and what it holds."""

    names: tuple[str, ...]
    label: str
    value: object


@dataclass(frozen=True)
class DocxReading:
    """The fields found in a Word document, typed, and what the document says about itself."""

    values: dict[str, object]
    version: str | None
    looks_like: str | None
    pages: int
    words: str = ""
    """All its text and its title property, :func:`normalise` d, to look for a definition's anchors in."""


def open_docx(data: bytes, title: str) -> WordDocument:
    """The document, or :class:`AttachmentDamaged` if it is not a Word document that can be opened."""
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as exc:  # not a zip, a zip without a document, or broken XML: each its own error type
        raise AttachmentDamaged(
            "The Word document is damaged and cannot be opened (it may not have been saved or sent "
            f"completely). Please send the “{title}” form again."
        ) from exc


def read_docx(document: WordDocument, form: FormDefinition) -> DocxReading:
    """The definition's fields found in the document, typed as the definition says.

    A control named in the definition wins; then a control, or a table cell, beside a label; then a
    "Label: value" paragraph.
    """
    body = document.element.body
    labels = Labels(form)
    controls = _controls(body)
    names = {normalise(name): key for key, spec in form.fields.items() for name in spec.docx}
    found: dict[str, tuple[int, object]] = {}

    def offer(key: str, rank: int, value: object) -> None:
        if rank > found.get(key, (-1, None))[0]:
            found[key] = (rank, value)

    for control in controls:
        named = next((names[normalise(n)] for n in control.names if normalise(n) in names), None)
        if named:
            offer(named, 3, control.value)
        elif (match := labels.match(control.label)) is not None:
            offer(match.field, 2, control.value)
    for row in body.iter(_w("tr")):
        cells = [cell for cell in row if cell.tag == _w("tc")]
        for label_cell, value_cell in zip(cells, cells[1:], strict=False):
            match = labels.match(_text(label_cell))
            if match is not None and match.value:  # "Surname: Holroyd" in one cell
                offer(match.field, 2, match.value)
            elif match is not None and not _has_control(value_cell):
                offer(match.field, 2, _text(value_cell))
    for paragraph in body.iter(_w("p")):
        if _inside(paragraph, "tc") or _has_control(paragraph):
            continue
        match = labels.match(_text(paragraph))
        if match is not None and match.value:
            offer(match.field, 1, match.value)
    values = {key: _typed(form.fields[key], value) for key, (_, value) in found.items()}
    all_text = normalise(_text(body))
    return DocxReading(
        values=values,
        version=next((v for v in form.versions if normalise(v) in all_text), None),
        looks_like=_looks_like(document),
        pages=_pages(document),
        words=all_text + normalise(document.core_properties.title or ""),
    )


def _typed(spec: FieldSpec, value: object) -> object:
    if isinstance(value, bool) and spec.type == "checkbox":
        return value
    return coerce(spec, str(value) if value is not None else "")


# --- content controls and legacy fields -----------------------------------------------------------------


def _controls(body: etree._Element) -> list[_Control]:
    found = []
    for sdt in body.iter(_w("sdt")):
        content = sdt.find(_w("sdtContent"))
        if content is None or content.find(f".//{_w('sdt')}") is not None:
            continue  # a group of other controls: each is read on its own
        properties = sdt.find(_w("sdtPr"))
        found.append(_Control(_names(properties), _label_beside(sdt), _sdt_value(properties, content)))
    for begin in body.iter(_w("fldChar")):
        data = begin.find(_w("ffData"))
        if begin.get(_w("fldCharType")) != "begin" or data is None:
            continue
        name = data.find(_w("name"))
        names = (name.get(_w("val")),) if name is not None and name.get(_w("val")) else ()
        run = begin.getparent()
        found.append(_Control(names, _label_beside(run), _field_value(data, run)))
    return found


def _names(properties: etree._Element | None) -> tuple[str, ...]:
    if properties is None:
        return ()
    return tuple(
        element.get(_w("val"))
        for element in (properties.find(_w("tag")), properties.find(_w("alias")))
        if element is not None and element.get(_w("val"))
    )


def _sdt_value(properties: etree._Element | None, content: etree._Element) -> object:
    if properties is None:
        properties = etree.Element(_w("sdtPr"))
    checkbox = properties.find(f"{{{_W14}}}checkbox")
    if checkbox is not None:
        checked = checkbox.find(f"{{{_W14}}}checked")
        return checked is not None and (checked.get(f"{{{_W14}}}val") or "1").lower() in _TRUE
    if properties.find(_w("showingPlcHdr")) is not None:
        return ""
    picker = properties.find(_w("date"))
    if picker is not None and picker.get(_w("fullDate")):
        try:
            return date.fromisoformat(picker.get(_w("fullDate"))[:10]).strftime("%d/%m/%Y")
        except ValueError:
            pass
    return _text(content)


def _field_value(data: etree._Element, begin_run: etree._Element) -> object:
    """A legacy field's value: a check box's state, a drop-down's entry, or the text between the field's
    "separate" and "end" characters."""
    checkbox = data.find(_w("checkBox"))
    if checkbox is not None:
        state = checkbox.find(_w("checked"))
        if state is None:
            state = checkbox.find(_w("default"))
            return state is not None and (state.get(_w("val")) or "0").lower() in _TRUE
        return (state.get(_w("val")) or "1").lower() in _TRUE
    dropdown = data.find(_w("ddList"))
    if dropdown is not None:
        entries = [entry.get(_w("val")) or "" for entry in dropdown.findall(_w("listEntry"))]
        result = dropdown.find(_w("result"))
        index = int(result.get(_w("val")) or 0) if result is not None else 0
        return entries[index] if 0 <= index < len(entries) else ""
    parts, depth, showing = [], 0, False
    for run in begin_run.itersiblings():
        for element in run.iter(_w("fldChar"), _w("t"), _w("tab")):
            kind = element.get(_w("fldCharType"))
            if kind == "begin":
                depth += 1
            elif kind == "separate" and depth == 0:
                showing = True
            elif kind == "end":
                if depth == 0:
                    return "".join(parts)
                depth -= 1
            elif showing and element.tag == _w("t"):
                parts.append(element.text or "")
            elif showing:
                parts.append(" ")
    return "".join(parts)


def _label_beside(element: etree._Element) -> str:
    """The label for a control: the text before it in its paragraph ("Surname: [...]"), else the cell to
    the left of its cell, else the paragraph above it."""
    paragraph = _ancestor(element, "p")
    if paragraph is not None:
        before = []
        for node in paragraph.iter(_w("t"), _w("sdt"), _w("fldChar")):
            if node is element or element in node.iterancestors() or node in element.iter():
                break
            if node.tag == _w("t") and not _inside_field_result(node, paragraph):
                before.append(node.text or "")
        text = " ".join("".join(before).split())
        if normalise(text):
            return text
    cell = _ancestor(element, "tc")
    if cell is not None:
        previous = cell.getprevious()
        while previous is not None and previous.tag != _w("tc"):
            previous = previous.getprevious()
        return _text(previous) if previous is not None else ""
    block = paragraph if paragraph is not None else element
    above = block.getprevious()
    return _text(above) if above is not None else ""


def _inside_field_result(node: etree._Element, paragraph: etree._Element) -> bool:
    """Whether a piece of text is the shown value of a legacy field (between its begin and end)."""
    depth = 0
    for element in paragraph.iter(_w("fldChar"), _w("t")):
        if element is node:
            return depth > 0
        kind = element.get(_w("fldCharType"))
        depth += 1 if kind == "begin" else -1 if kind == "end" else 0
    return False


def _has_control(element: etree._Element) -> bool:
    return element.find(f".//{_w('sdt')}") is not None or element.find(f".//{_w('ffData')}") is not None


def _ancestor(element: etree._Element, tag: str) -> etree._Element | None:
    return next(element.iterancestors(_w(tag)), None)


def _inside(element: etree._Element, tag: str) -> bool:
    return _ancestor(element, tag) is not None


def _text(element: etree._Element) -> str:
    """The text a reader sees: runs' text, tabs and breaks as spaces, paragraphs on separate lines."""
    parts = []
    for node in element.iter(_w("t"), _w("tab"), _w("br"), _w("cr"), _w("p")):
        if node.tag == _w("t"):
            parts.append(node.text or "")
        elif node.tag == _w("p"):
            parts.append("\n")
        else:
            parts.append(" ")
    return " ".join("".join(parts).split())


# --- what the document is ----------------------------------------------------------------------------


def _looks_like(document: WordDocument) -> str | None:
    """Its title (document properties, else a paragraph in a title or heading style), or how it begins."""
    title = (document.core_properties.title or "").strip()
    if title:
        return quoted(title)
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    for paragraph in paragraphs:
        if paragraph.style is not None and paragraph.style.name.startswith(("Title", "Heading")):
            return quoted(paragraph.text)
    return f"a document beginning {quoted(paragraphs[0].text)}" if paragraphs else None


def _pages(document: WordDocument) -> int:
    """Pages as Word last counted them (docProps/app.xml), else one more than the hard page breaks."""
    for part in document.part.package.iter_parts():
        if str(part.partname) == "/docProps/app.xml":
            match = re.search(rb"<(?:\w+:)?Pages>(\d+)</", part.blob)
            if match:
                return max(1, int(match.group(1)))
    breaks = document.element.body.findall(f".//{_w('br')}[@{_w('type')}='page']")
    return 1 + len(breaks)
