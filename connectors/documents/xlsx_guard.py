"""The guard's rules for Excel workbooks (.xlsx): what in a spreadsheet package Clerk refuses, and why.

``connectors.documents.guard`` opens the zip package and checks its declared sizes (the ``xlsx_max_*``
settings); this module decides, from the package's part names, content types and relationships alone, whether
it is a workbook Clerk may open (:func:`refuse_workbook_content`), and, inside a parser process before openpyxl
runs, streams every XML part once through expat (:func:`inspect_xlsx`) to refuse what only the XML shows:

* macros: a VBA project (``vbaProject.bin``, the macro-enabled .xlsm/.xltm/.xlam main parts), Excel 4.0
  macro sheets (XLM, an old and still-abused way to run code), dialog sheets and ActiveX controls
  (ATTACHMENT_ACTIVE_CONTENT);
* links outside the file: external workbook links (which is also how Excel stores DDE links), data
  connections and web queries, any relationship to an outside target other than a hyperlink, and
  formulas that call DDE (``=cmd|'/c calc'!A0``), RTD or WEBSERVICE (ATTACHMENT_EXTERNAL_LINK);
* an XML document type declaration in any XML part (found by its first bytes, not its name): a workbook never has one, and it is how entity bombs
  ("billion laughs") and external-entity reads start (ATTACHMENT_DAMAGED, before any entity is expanded);
* the binary workbook (.xlsb), which Clerk does not read (ATTACHMENT_WRONG_TYPE).

A password to *open* the workbook makes it an encrypted compound file, refused by the guard
(ATTACHMENT_ENCRYPTED). Protection against *editing* (locked sheets or workbook structure, as councils lock
their form templates) hides nothing and is read like any workbook.

Formulas are never evaluated: Clerk reads the values Excel saved with them (``xlsx_form``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from xml.parsers import expat

from connectors.errors import AttachmentActiveContent, AttachmentDamaged, AttachmentExternalLink, AttachmentWrongType

# --- sentences for the sender ------------------------------------------------------------------------------
_RESEND = "Please save the form as an Excel Workbook (.xlsx) or a PDF and send it again."
ACTIVE_CONTENT = (
    "The Excel workbook contains macros (VBA or Excel 4.0 macro sheets) or ActiveX controls, which Clerk does "
    f"not open for safety. {_RESEND}"
)
EXTERNAL_LINK = (
    "The Excel workbook links to other files, data sources or programs (links to other workbooks, data "
    "connections, web queries or DDE), which Clerk does not open for safety. Please remove the links (in Excel: "
    "Data, Edit Links, Break Link) or save the form as a PDF, and send it again."
)
ENCRYPTED = (
    "The Excel workbook is protected by a password to open it, so Clerk cannot read it. Please send it again "
    "without the password (protecting sheets from changes is fine)."
)
BINARY = (
    "The workbook is an Excel Binary Workbook (.xlsb), which Clerk does not read. "
    "Please save the form as an Excel Workbook (.xlsx) or a PDF and send it again."
)
DAMAGED = (
    "The Excel workbook is damaged or was not saved by a spreadsheet program in the usual way, so Clerk cannot "
    f"read it. {_RESEND}"
)
LEGACY = (
    "The attachment is an Excel 97-2003 workbook (.xls), which Clerk does not read. "
    "Please save the form as an Excel Workbook (.xlsx) or a PDF and send it again."
)

# --- content types and names -------------------------------------------------------------------------------
SHEET_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
TEMPLATE_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
MACRO_MAINS = frozenset(
    {
        "application/vnd.ms-excel.sheet.macroenabled.main+xml",
        "application/vnd.ms-excel.template.macroenabled.main+xml",
        "application/vnd.ms-excel.addin.macroenabled.main+xml",
    }
)
BINARY_MAINS = frozenset({"application/vnd.ms-excel.sheet.binary.macroenabled.main"})
SPREADSHEET_MAINS = frozenset({SHEET_MAIN, TEMPLATE_MAIN}) | MACRO_MAINS | BINARY_MAINS

_ACTIVE_TYPES = frozenset(
    {
        "application/vnd.ms-office.vbaproject",
        "application/vnd.ms-office.vbaprojectsignature",
        "application/vnd.ms-excel.macrosheet+xml",
        "application/vnd.ms-excel.intlmacrosheet+xml",
        "application/vnd.ms-excel.dialogsheet+xml",
        "application/vnd.ms-office.activex+xml",
        "application/vnd.ms-office.activex",
    }
)
_ACTIVE_RELATIONSHIPS = ("/vbaproject", "/macrosheet", "/xlmacrosheet", "/xlintlmacrosheet", "/intlmacrosheet",
                         "/dialogsheet", "/activexcontrol", "/activexcontrolbinary", "/control")  # fmt: skip
_ACTIVE_FOLDERS = ("xl/activex/", "xl/macrosheets/", "xl/dialogsheets/")
_ACTIVE_PART_NAMES = frozenset({"vbaproject.bin", "vbaprojectsignature.bin", "vbadata.xml"})

_EXTERNAL_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.externallink+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.connections+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.querytable+xml",
    }
)
_EXTERNAL_RELATIONSHIPS = ("/externallink", "/connections", "/querytable", "/externallinkpath")
_EXTERNAL_FOLDERS = ("xl/externallinks/",)
_EXTERNAL_PART_NAMES = frozenset({"connections.xml"})
_HYPERLINK = "/hyperlink"  # a link the reader may click; nothing fetches it, so it is allowed

# A formula calling a program by DDE ("cmd|' /c calc'!A0", "=MSEXCEL|'\\..\\calc'!''"), or a function that
# fetches from outside when Excel recalculates. Clerk never recalculates, but it does not take such a file in.
_OUTSIDE_FORMULA = re.compile(r"(?:^|[=(,+\-*/&\s])'?[A-Za-z][\w.]*'?\s*\||\b(?:RTD|WEBSERVICE|CALL|REGISTER)\s*\(",
                              re.IGNORECASE)  # fmt: skip
_STRING = re.compile(r'"(?:[^"]|"")*"')  # a text constant in a formula, where a "|" means nothing
_CHUNK = 64 * 1024
_PEEK = 64
# Parts that are not XML, or not read by openpyxl (legacy VML drawings, which Excel writes loosely).
_NOT_XML = (".png", ".jpeg", ".jpg", ".gif", ".emf", ".wmf", ".tif", ".tiff", ".bmp", ".bin", ".vml")


def is_spreadsheet(content_types: Iterable[str]) -> bool:
    return bool(set(content_types) & SPREADSHEET_MAINS)


def refuse_workbook_content(names: list[str], content_types: frozenset[str],
                            relationships: list[dict[str, str]]) -> None:  # fmt: skip
    """Refuse a spreadsheet package with macros, ActiveX, links outside itself, or in the binary format.

    ``names``: the package's part names, lower case; ``content_types``: every content type it declares, lower
    case; ``relationships``: the attributes of every ``Relationship`` in its ``.rels`` parts."""
    if content_types & BINARY_MAINS:
        raise AttachmentWrongType(BINARY)
    if (
        content_types & (MACRO_MAINS | _ACTIVE_TYPES)
        or any(name.rsplit("/", 1)[-1] in _ACTIVE_PART_NAMES for name in names)
        or any(name.startswith(_ACTIVE_FOLDERS) for name in names)
        or any(rel.get("Type", "").lower().endswith(_ACTIVE_RELATIONSHIPS) for rel in relationships)
    ):
        raise AttachmentActiveContent(ACTIVE_CONTENT)
    if (
        content_types & _EXTERNAL_TYPES
        or any(
            name.startswith(_EXTERNAL_FOLDERS) or name.rsplit("/", 1)[-1] in _EXTERNAL_PART_NAMES for name in names
        )  # fmt: skip
        or any(rel.get("Type", "").lower().endswith(_EXTERNAL_RELATIONSHIPS) for rel in relationships)
    ):
        raise AttachmentExternalLink(EXTERNAL_LINK)
    for rel in relationships:
        external = rel.get("TargetMode", "").lower() == "external"
        if external and not rel.get("Type", "").lower().endswith(_HYPERLINK):
            raise AttachmentExternalLink(EXTERNAL_LINK)


class _Refused(Exception):
    """A document type declaration, or an entity declared in one."""


def inspect_xlsx(data: bytes) -> None:
    """Inside a parser process, before openpyxl opens the workbook: every XML part streamed once through
    expat (nothing kept), refusing a document type declaration (ATTACHMENT_DAMAGED) before any entity could
    be expanded, and, in the sheets, a formula that calls DDE, RTD or WEBSERVICE (ATTACHMENT_EXTERNAL_LINK).
    The guard has already bounded every part's size (``xlsx_max_uncompressed_bytes``)."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:
        raise AttachmentDamaged(DAMAGED) from exc
    with package:
        for info in package.infolist():
            name = info.filename.lower()
            if not name.endswith(_NOT_XML) and _looks_like_xml(package, info):
                _stream_part(package, info, formulas=name.startswith("xl/worksheets/"))


def _looks_like_xml(package: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a part is XML by its first bytes, whatever it is called (a sheet need not end in .xml)."""
    try:
        with package.open(info) as part:
            head = part.read(_PEEK)
    except Exception as exc:
        raise AttachmentDamaged(DAMAGED) from exc
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _stream_part(package: zipfile.ZipFile, info: zipfile.ZipInfo, *, formulas: bool) -> None:
    parser = expat.ParserCreate(namespace_separator="}")
    in_formula = False
    formula: list[str] = []

    def refuse(*_: object) -> None:
        raise _Refused

    def start(name: str, _attributes: dict[str, str]) -> None:
        nonlocal in_formula
        if name.rpartition("}")[2] == "f":
            in_formula = True
            formula.clear()

    def text(chunk: str) -> None:
        if in_formula:
            formula.append(chunk)

    def end(name: str) -> None:
        nonlocal in_formula
        if in_formula and name.rpartition("}")[2] == "f":
            in_formula = False
            if _OUTSIDE_FORMULA.search(_STRING.sub('""', "".join(formula))):
                raise AttachmentExternalLink(EXTERNAL_LINK)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    if formulas:
        parser.StartElementHandler = start
        parser.CharacterDataHandler = text
        parser.EndElementHandler = end
    try:
        with package.open(info) as part:
            while chunk := part.read(_CHUNK):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except AttachmentExternalLink:
        raise
    except Exception as exc:  # _Refused, ExpatError, a bad CRC, a broken deflate stream
        raise AttachmentDamaged(DAMAGED) from exc
