"""Opening PDFs, and reading the fields of a filled-in PDF form (AcroForm) through a form definition.

Text boxes, tick boxes, radio buttons, drop-downs and list boxes are read by their AcroForm names, which
the definition maps to the model's fields. pypdf's exceptions never leave ``connectors/documents``:
:func:`pdf_errors` translates them for every PDF reader in this package.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from connectors.documents.forms import FormDefinition, choose, coerce
from connectors.errors import AttachmentDamaged, AttachmentEncrypted, ClerkError, ConfigError

_RADIO = 1 << 15  # field flags (/Ff) of a button field, PDF 32000-1 table 226
_PUSHBUTTON = 1 << 16
_UNTICKED = {"/Off", "Off", ""}


@contextmanager
def pdf_errors(title: str) -> Iterator[None]:
    """Translate pypdf's failures while reading ``title`` (the form expected) into Clerk's errors."""
    try:
        yield
    except ClerkError:
        raise
    except FileNotDecryptedError as exc:
        raise AttachmentEncrypted(
            "The PDF is protected by a password, so Clerk cannot open it. "
            f"Please send the “{title}” form again without a password."
        ) from exc
    except DependencyError as exc:  # our installation is at fault, not the attachment
        raise ConfigError(f"Reading this PDF needs a package that is not installed: {exc}") from exc
    except Exception as exc:  # damaged input makes pypdf raise many kinds of error, not only PdfReadError
        raise AttachmentDamaged(
            "The PDF is damaged and cannot be opened (it may not have been saved or sent completely). "
            f"Please send the “{title}” form again."
        ) from exc


def open_pdf(data: bytes, title: str) -> PdfReader:
    """A reader whose pages and fields can be used; a password-protected or damaged PDF is refused."""
    with pdf_errors(title):
        reader = PdfReader(io.BytesIO(data))
        len(reader.pages)  # decryption and the page tree are checked here, not on first use
        return reader


def field_values(reader: PdfReader) -> dict[str, object]:
    """Every field by name: text as ``str``, tick boxes as ``bool``, lists and radio buttons as the chosen
    option (``None`` if none). Push buttons are not fields anyone fills in and are left out.

    A form flattened by a tool that removed the boxes but not their entries in the field list (pypdf's
    ``flatten=True`` then ``remove_annotations``) leaves null fields, on which pypdf's ``get_fields``
    fails; the fields are then walked here, skipping what is not a field."""
    try:
        fields = reader.get_fields() or {}
    except (TypeError, AttributeError):
        fields = _fields_skipping_broken(reader)
    return {name: _value(field) for name, field in fields.items() if not _is_pushbutton(field)}


_INHERITED = ("/FT", "/Ff", "/V")
_MAX_FIELDS = 10_000


def _fields_skipping_broken(reader: PdfReader) -> dict[str, dict]:
    """The terminal fields of the form by full name, with the entries they inherit, ignoring entries that
    are not dictionaries; at most ``_MAX_FIELDS`` nodes are visited, each once."""
    form = reader.root_object.get("/AcroForm")
    form = form.get_object() if form is not None else None
    listed = form.get("/Fields") if isinstance(form, DictionaryObject) else None
    listed = listed.get_object() if listed is not None else None
    pending: list[tuple[object, str, dict]] = [(item, "", {}) for item in reversed(listed)] \
        if isinstance(listed, ArrayObject) else []  # fmt: skip
    found: dict[str, dict] = {}
    seen: set[int] = set()
    while pending and len(seen) < _MAX_FIELDS:
        item, parent, inherited = pending.pop()
        node = item.get_object() if isinstance(item, IndirectObject) else item
        if not isinstance(node, DictionaryObject) or id(node) in seen:
            continue
        seen.add(id(node))
        name = f"{parent}.{node['/T']}" if parent and "/T" in node else str(node["/T"]) if "/T" in node else parent
        entries = {**inherited, **{key: node[key] for key in _INHERITED if key in node}}
        kids = node.get("/Kids")
        kids = kids.get_object() if isinstance(kids, IndirectObject) else kids
        named_kids = [kid for kid in kids if isinstance(kid.get_object(), DictionaryObject)
                      and "/T" in kid.get_object()] if isinstance(kids, ArrayObject) else []  # fmt: skip
        if named_kids:
            pending.extend((kid, name, entries) for kid in reversed(named_kids))
        elif name:
            found[name] = entries
    return found


def read_acroform(fields: dict[str, object], form: FormDefinition) -> dict[str, object]:
    """The definition's fields found among a PDF's form ``fields``, typed as the definition says."""
    found: dict[str, object] = {}
    for key, spec in form.fields.items():
        name = next((name for name in spec.acroform if name in fields), None)
        if name is None:
            continue
        value = fields[name]
        if isinstance(value, list):
            value = ", ".join(value)
        if spec.type == "choice" and isinstance(value, str):
            value = choose(spec.options, value)
        elif value is not None and not (spec.type == "checkbox" and isinstance(value, bool)):
            value = coerce(spec, str(value))
        found[key] = value
    return found


def _flags(field: dict) -> int:
    return int(field["/Ff"]) if "/Ff" in field else 0


def _is_pushbutton(field: dict) -> bool:
    return field.get("/FT") == "/Btn" and bool(_flags(field) & _PUSHBUTTON)


def _value(field: dict) -> object:
    value = field["/V"] if "/V" in field else None  # indexing resolves indirect objects, .get does not
    if field.get("/FT") == "/Btn":  # a tick box or a radio group: the value is a name such as /Yes or /Off
        chosen = None if value is None or str(value) in _UNTICKED else str(value).removeprefix("/")
        return chosen if _flags(field) & _RADIO else chosen is not None
    if isinstance(value, list):  # a list box allowing several choices
        return [str(item) for item in value]
    return None if value is None else str(value)
