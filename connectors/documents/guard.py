"""The document guard: what an emailed attachment is, judged by its content, and whether Clerk may open it.

Staff forward whatever they were sent; some of it is broken and a little of it is hostile. Before any
parser touches an attachment, :func:`check` identifies it by its bytes (never by its name) and runs the
checks that need no parsing: size, PDF encryption, the zip central directory of a Word document or an Excel
workbook (sizes, entry count and compression ratio as declared, read before anything is decompressed),
macros, ActiveX controls and links to outside content (a workbook's rules: ``connectors.documents.xlsx_guard``).
What can only be learnt by parsing (how many pages a PDF really has, a name spelled to dodge the byte checks,
a stream that inflates without end, a PDF's scripts and attached files, a workbook's XML declarations and DDE
formulas) is checked inside a capped parser process by :func:`parse_in_worker`;
``connectors.documents.parser_pool`` runs it.

Every refusal is an :class:`~connectors.errors.UnreadableAttachment` subclass whose reasons are sentences
a member of staff can act on. Library exceptions never leave this module.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, TypeVar
from xml.parsers import expat

from pypdf import PdfReader
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NumberObject

from connectors.documents import xlsx_guard
from connectors.documents.limits import MB, DocumentLimits
from connectors.documents.pdf_active import may_have_active_content, refuse_active_content
from connectors.errors import (
    AttachmentActiveContent,
    AttachmentBomb,
    AttachmentDamaged,
    AttachmentEmpty,
    AttachmentEncrypted,
    AttachmentExternalLink,
    AttachmentTooLarge,
    AttachmentTooManyPages,
    AttachmentWrongType,
    EmailTooLarge,
    UnreadableAttachment,
)

Kind = Literal["pdf", "docx", "xlsx", "ole2"]
Accepted = Literal["pdf", "docx", "xlsx"]
T = TypeVar("T")

# --- sentences for the sender ------------------------------------------------------------------------------
_RESEND = "Please save the form again and send it as a PDF, a Word (.docx) document or an Excel (.xlsx) workbook."
EMPTY = "The attachment is empty (0 bytes), so there is no form to read. Please attach the form and send it again."
WRONG_TYPE = (f"The attachment is not a PDF, a Word (.docx) document or an Excel (.xlsx) workbook, so Clerk "
              f"cannot read it. {_RESEND}")  # fmt: skip
NOT_WORD = (f"The attachment is an Office file but neither a Word document nor an Excel workbook (it may be a "
            f"presentation). {_RESEND}")  # fmt: skip
LEGACY_OFFICE = (
    "The attachment is in an older Microsoft Office format (such as a Word 97-2003 .doc or an Outlook message), "
    "which Clerk does not read. Please save the form as a Word (.docx) document or a PDF and send it again."
)
DAMAGED = (
    "The attachment is damaged or incomplete (it may not have been saved or sent completely), so Clerk cannot "
    f"read it. {_RESEND}"
)
PDF_ENCRYPTED = (
    "The PDF is protected by a password or security settings, so Clerk cannot read it. "
    "Please send it again without a password or security restrictions."
)
WORD_ENCRYPTED = (
    "The Word document is protected by a password, so Clerk cannot read it. Please send it again without a password."
)
ZIP_ENCRYPTED = "The document's contents are locked with a password. Please send it again without a password."
BOMB = (
    "The attachment expands to far more data than any form needs, which is a sign of a damaged or unsafe file, "
    f"so Clerk did not open it. {_RESEND}"
)
ACTIVE_CONTENT = (
    "The Word document contains macros or ActiveX controls, which Clerk does not open for safety. "
    "Please save the form as a plain Word document (.docx) or a PDF and send it again."
)
EXTERNAL_LINK = (
    "The Word document pulls in content from outside itself (such as a template or a picture stored elsewhere), "
    "which Clerk does not open for safety. Please save the form as a PDF, or as a .docx without the link, "
    "and send it again."
)

# --- identification ----------------------------------------------------------------------------------------
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_SNIFF_BYTES = 1024  # a PDF header may follow some junk, within the first kilobyte (as readers allow)

# The main part of a WordprocessingML package, by content type; the last two carry macros.
_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_WORD_TEMPLATE_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
_MACRO_MAINS = frozenset(
    {
        "application/vnd.ms-word.document.macroenabled.main+xml",
        "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
    }
)
_WORD_MAINS = frozenset({_WORD_MAIN, _WORD_TEMPLATE_MAIN}) | _MACRO_MAINS
_SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xlsb", ".xls")


def sniff(data: bytes) -> Kind:
    """What the attachment is, by its content alone: ``"pdf"``, ``"docx"`` (any WordprocessingML package,
    including macro-enabled ones, which :func:`check` then refuses), ``"xlsx"`` (any SpreadsheetML package,
    macro-enabled and binary ones included, likewise) or ``"ole2"`` (a compound file: legacy Office, Outlook,
    or a password-protected .docx or .xlsx). Raises :class:`AttachmentEmpty` or :class:`AttachmentWrongType`
    for anything else, e.g. text called .pdf, an image, a program, a presentation.
    """
    kind = _magic(data)
    if kind == "zip":
        with _package(data) as package:
            return _office_kind(package)[0]
    return kind


def check(data: bytes, filename: str, limits: DocumentLimits) -> Accepted:
    """Refuse what Clerk must not parse; return ``"pdf"``, ``"docx"`` or ``"xlsx"`` for what it may.

    Runs in the calling process, so it never decompresses more than a package's small XML index parts, each
    bounded. ``filename`` only labels the reasons for the sender (and words the refusal of a password-protected
    Office file, whose encrypted contents do not say whether it is Word or Excel); it never decides the type.
    """
    try:
        if len(data) > limits.max_attachment_bytes:
            raise AttachmentTooLarge(_too_large("attachment", len(data), limits.max_attachment_bytes))
        kind = _magic(data)
        if kind == "pdf":
            _check_pdf(data)
            return "pdf"
        if kind == "ole2":
            _refuse_compound_file(data, filename)
        with _package(data, limits) as package:
            infos = package.infolist()
            # first, before anything is decompressed: the looser of the Word and Excel bounds, then each its own
            _check_declared_sizes(infos, max(limits.zip_max_entries, limits.xlsx_max_entries),
                                  max(limits.zip_max_uncompressed_bytes, limits.xlsx_max_uncompressed_bytes),
                                  max(limits.zip_max_ratio, limits.xlsx_max_ratio))  # fmt: skip
            _check_parts(infos)
            office, content_types = _office_kind(package)
            if office == "xlsx":
                _check_workbook_package(package, content_types, limits)
                return "xlsx"
            _check_word_package(package, limits, content_types)
        return "docx"
    except UnreadableAttachment as exc:
        name_reasons(exc, filename)
        raise


def check_email_size(total_bytes: int, limits: DocumentLimits) -> None:
    """Refuse an email whose size (attachments included) is over ``limits.max_email_bytes``."""
    if total_bytes > limits.max_email_bytes:
        raise EmailTooLarge(
            _too_large("email", total_bytes, limits.max_email_bytes)
            + " You could send the attachments over several emails."
        )


def name_reasons(exc: UnreadableAttachment, filename: str) -> UnreadableAttachment:
    """Prefix each reason with the attachment's name, so a sender with several attachments knows which one."""
    label = _label(filename)
    if label:
        exc.reasons = [reason if reason.startswith(label) else f"{label}: {reason}" for reason in exc.reasons]
    return exc


def _label(filename: str) -> str:
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name[:77] + "...") if len(name) > 80 else name


def _too_large(what: str, size: int, limit: int) -> str:
    return (
        f"The {what} is {size / MB:.1f} MB, more than the {limit / MB:.0f} MB Clerk accepts. "
        "Please send the form on its own and without photos or scanned pages."
    )


def container(data: bytes) -> Literal["pdf", "zip", "ole2"] | None:
    """What kind of file this is by its first bytes (never its name), or None for anything else."""
    if data.startswith(_OLE2_MAGIC):
        return "ole2"
    if data.startswith(_ZIP_MAGIC):
        return "zip"
    if _PDF_MAGIC in data[:_SNIFF_BYTES]:
        return "pdf"
    return None


def _magic(data: bytes) -> Literal["pdf", "zip", "ole2"]:
    if not data:
        raise AttachmentEmpty(EMPTY)
    kind = container(data)
    if kind is None:
        raise AttachmentWrongType(WRONG_TYPE)
    return kind


# --- PDF ---------------------------------------------------------------------------------------------------
_EOF_MARKER = b"%%EOF"
_EOF_WINDOW = 1024  # readers look for %%EOF within the last kilobyte
# The trailer (or cross-reference stream) of an encrypted PDF names its security handler: /Encrypt 12 0 R.
_ENCRYPT_KEY = re.compile(rb"/Encrypt\s*(?:\d+\s+\d+\s+R|<<)")


def _check_pdf(data: bytes) -> None:
    if _EOF_MARKER not in data[-_EOF_WINDOW:]:
        raise AttachmentDamaged(DAMAGED)
    if _ENCRYPT_KEY.search(data):  # every handler (RC4, AES; user or owner password) is named the same way
        raise AttachmentEncrypted(PDF_ENCRYPTED)


def inspect_pdf(data: bytes, max_pages: int) -> int:
    """Inside a parser process: refuse an encrypted PDF (however its trailer is spelled), one with more than
    ``max_pages`` pages and one with active content (scripts, launch actions, attached files:
    ``connectors.documents.pdf_active``). Returns the page count, as the page tree's root declares it
    (/Count): cheap, and a /Count that understates only lets the parse run on, within its caps. A count
    that is not a whole number (a real, a name, a negative, none) is found by walking the tree, within
    bounds. Whatever the trailer holds, the answer is a count or one of Clerk's refusals."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise AttachmentEncrypted(PDF_ENCRYPTED)
        pages = _page_count(reader)
        if pages <= max_pages and may_have_active_content(data):
            refuse_active_content(reader)
    except UnreadableAttachment:
        raise
    except LimitReachedError as exc:
        raise AttachmentBomb(BOMB) from exc
    except Exception as exc:  # hostile input makes pypdf raise many kinds of error
        raise AttachmentDamaged(DAMAGED) from exc
    if pages > max_pages:
        raise AttachmentTooManyPages(
            f"The PDF has {pages} pages, more than the {max_pages} pages this form can have. "
            "Please send only the pages of the form."
        )
    return pages


_MAX_TREE_NODES = 10_000
"""Page-tree nodes walked at most when /Count cannot be trusted (more than any form's pages and levels)."""


def _page_count(reader: PdfReader) -> int:
    """The root's /Count when it is a whole number, else the leaves of the page tree, counted. A catalogue
    or tree that is not a dictionary, a cycle, or a tree of more than ``_MAX_TREE_NODES`` nodes is damaged."""
    tree = _resolved(reader.root_object.get("/Pages"))
    if not isinstance(tree, DictionaryObject):
        raise AttachmentDamaged(DAMAGED)
    declared = _resolved(tree.get("/Count"))
    if type(declared) is NumberObject and declared >= 0:  # not a BooleanObject, a FloatObject, a name
        return int(declared)
    pages, pending, seen = 0, [tree.indirect_reference or tree], set()
    for _ in range(_MAX_TREE_NODES):
        if not pending:
            return pages
        node = pending.pop()
        if isinstance(node, IndirectObject):
            if (node.idnum, node.generation) in seen:
                raise AttachmentDamaged(DAMAGED)  # a kid that is its own ancestor: readers loop or give up
            seen.add((node.idnum, node.generation))
            node = node.get_object()
        if not isinstance(node, DictionaryObject):
            raise AttachmentDamaged(DAMAGED)
        kids = _resolved(node.get("/Kids"))
        if kids is None:
            pages += 1
        elif isinstance(kids, ArrayObject):
            pending.extend(reversed(kids))
        else:
            raise AttachmentDamaged(DAMAGED)
    raise AttachmentDamaged(DAMAGED)


def _resolved(value: object) -> object:
    return value.get_object() if isinstance(value, IndirectObject) else value


def parse_in_worker(fn: Callable[..., T], data: bytes, kind: Accepted, max_pages: int, *args: object) -> T:
    """The guard's half that runs in a parser process: :func:`inspect_pdf` for a PDF,
    :func:`~connectors.documents.xlsx_guard.inspect_xlsx` for a workbook, then ``fn(data, kind, *args)``. A
    parser that gave up at pypdf's decompression limit, even one that wrapped that error in its own, is refused
    as a bomb rather than as a damaged file."""
    if kind == "pdf":
        inspect_pdf(data, max_pages)
    elif kind == "xlsx":
        xlsx_guard.inspect_xlsx(data)
    try:
        return fn(data, kind, *args)
    except Exception as exc:
        if any(isinstance(link, LimitReachedError) for link in exception_chain(exc)):
            raise AttachmentBomb(BOMB) from exc
        raise


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its cause or context, and theirs (each once)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


# --- Word: the zip package ---------------------------------------------------------------------------------
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_ZIP64_COUNT = 0xFFFF  # the entry count of a zip64 archive, which Word never writes
_RATIO_FLOOR = MB  # small parts compress very well legitimately; judge ratios from 1 MB up
_MAX_INDEX_PART = 4 * MB  # [Content_Types].xml and the .rels parts, read in this process
_ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # all that Word writes

_VBA_TYPES = frozenset(
    {
        "application/vnd.ms-office.vbaproject",
        "application/vnd.ms-word.vbadata+xml",
        "application/vnd.ms-office.activex+xml",
        "application/vnd.ms-office.activex",
        "application/vnd.ms-word.keymapcustomizations+xml",
        "application/vnd.ms-word.attachedtoolbars",
    }
)
_ACTIVE_RELATIONSHIPS = ("/vbaproject", "/wordvbadata", "/activexcontrol", "/activexcontrolbinary", "/control",
                         "/keymapcustomizations", "/attachedtoolbars")  # fmt: skip
_ACTIVE_PART_NAMES = frozenset({"vbaproject.bin", "vbadata.xml", "vbaprojectsignature.bin"})
_HYPERLINK = "/hyperlink"  # a link the reader may click; nothing fetches it, so it is allowed


@contextmanager
def _package(data: bytes, limits: DocumentLimits | None = None) -> Iterator[zipfile.ZipFile]:
    """Open the zip's central directory (nothing is decompressed). With ``limits``, the entry count is
    checked from the end record before the directory is even read."""
    end = data.rfind(_EOCD, max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT))
    if end < 0 or len(data) < end + _EOCD_SIZE:
        raise AttachmentDamaged(DAMAGED)
    (entries,) = struct.unpack_from("<H", data, end + 10)
    most = None if limits is None else max(limits.zip_max_entries, limits.xlsx_max_entries)  # before the kind is known
    if most is not None and (entries == _ZIP64_COUNT or entries > most):
        raise AttachmentBomb(BOMB)
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # BadZipFile, and struct/value errors on hostile directories
        raise AttachmentDamaged(DAMAGED) from exc
    with package:
        yield package


def _check_word_package(package: zipfile.ZipFile, limits: DocumentLimits,
                        content_types: frozenset[str] | None = None) -> None:  # fmt: skip
    """A Word document whose parts :func:`_check_parts` has passed: its own size bounds (``zip_max_*``), then
    macros, ActiveX and outside links."""
    infos = package.infolist()
    _check_declared_sizes(infos, limits.zip_max_entries, limits.zip_max_uncompressed_bytes, limits.zip_max_ratio)
    if content_types is None:
        content_types = _word_content_types(package)
    names = [info.filename.lower() for info in infos]
    if (
        content_types & (_MACRO_MAINS | _VBA_TYPES)
        or any(name.rsplit("/", 1)[-1] in _ACTIVE_PART_NAMES for name in names)
        or any(name.startswith("word/activex/") for name in names)
    ):
        raise AttachmentActiveContent(ACTIVE_CONTENT)
    relationships = _relationships(package)
    for rel in relationships:
        if rel.get("Type", "").lower().endswith(_ACTIVE_RELATIONSHIPS):
            raise AttachmentActiveContent(ACTIVE_CONTENT)
    for rel in relationships:
        external = rel.get("TargetMode", "").lower() == "external"
        if external and not rel.get("Type", "").lower().endswith(_HYPERLINK):
            raise AttachmentExternalLink(EXTERNAL_LINK)


def _check_workbook_package(package: zipfile.ZipFile, content_types: frozenset[str], limits: DocumentLimits) -> None:
    """An Excel workbook whose parts :func:`_check_parts` has passed: its own size bounds (``xlsx_max_*``), then
    macros, ActiveX and outside links."""
    infos = package.infolist()
    _check_declared_sizes(infos, limits.xlsx_max_entries, limits.xlsx_max_uncompressed_bytes, limits.xlsx_max_ratio)
    names = [info.filename.lower() for info in infos]
    xlsx_guard.refuse_workbook_content(names, content_types, _relationships(package))


def _check_parts(infos: list[zipfile.ZipInfo]) -> None:
    if len({info.filename.lower() for info in infos}) != len(infos):
        raise AttachmentDamaged(DAMAGED)  # two parts of one name: readers would disagree on which counts
    if any(info.flag_bits & 0x1 for info in infos):
        raise AttachmentEncrypted(ZIP_ENCRYPTED)
    if any(info.compress_type not in _ALLOWED_METHODS for info in infos):
        raise AttachmentDamaged(DAMAGED)


def _relationships(package: zipfile.ZipFile) -> list[dict[str, str]]:
    return [
        rel
        for info in package.infolist()
        if info.filename.lower().endswith(".rels")
        for rel in _xml_elements(_read_index_part(package, info), "Relationship")
    ]


def _check_declared_sizes(infos: list[zipfile.ZipInfo], max_entries: int, max_bytes: int, max_ratio: float) -> None:
    if len(infos) > max_entries:
        raise AttachmentBomb(BOMB)
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    sizes = [(info.file_size, info.compress_size) for info in infos] + [(total, packed)]
    for size, compressed in sizes:
        if size > max_bytes:
            raise AttachmentBomb(BOMB)
        if size >= _RATIO_FLOOR and size > max_ratio * max(compressed, 1):
            raise AttachmentBomb(BOMB)


def _office_kind(package: zipfile.ZipFile) -> tuple[Literal["docx", "xlsx"], frozenset[str]]:
    """``"docx"`` or ``"xlsx"`` and every content type the package declares (lower case), from its
    [Content_Types].xml (bounded); refuses a package that is neither a Word document nor a workbook."""
    types = _content_types(package)
    if types & _WORD_MAINS:
        return "docx", types
    if xlsx_guard.is_spreadsheet(types):
        return "xlsx", types
    raise AttachmentWrongType(NOT_WORD)


def _word_content_types(package: zipfile.ZipFile) -> frozenset[str]:
    """Every content type the package declares (lower case); refuses a package that is not a Word document."""
    types = _content_types(package)
    if not types & _WORD_MAINS:
        raise AttachmentWrongType(NOT_WORD)
    return types


def _content_types(package: zipfile.ZipFile) -> frozenset[str]:
    index = next((info for info in package.infolist() if info.filename.lower() == "[content_types].xml"), None)
    if index is None:
        raise AttachmentWrongType(WRONG_TYPE)  # a plain zip, or an OpenDocument file
    elements = _xml_elements(_read_index_part(package, index), "Default", "Override")
    return frozenset(element.get("ContentType", "").strip().lower() for element in elements)


def _read_index_part(package: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A small XML part, decompressed with its output bounded (zipfile also stops at the declared size)."""
    if info.file_size > _MAX_INDEX_PART:
        raise AttachmentBomb(BOMB)
    try:
        with package.open(info) as part:
            data = part.read(_MAX_INDEX_PART + 1)
    except Exception as exc:  # a bad CRC, a truncated stream, a corrupt deflate block
        raise AttachmentDamaged(DAMAGED) from exc
    if len(data) > _MAX_INDEX_PART:
        raise AttachmentBomb(BOMB)
    return data


class _Refused(Exception):
    """A document type declaration: OOXML never has one, and it is how XML entity bombs start."""


def _xml_elements(data: bytes, *local_names: str) -> list[dict[str, str]]:
    """The attributes of every element with one of ``local_names`` (any namespace). Refuses a DTD."""
    found: list[dict[str, str]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if name.rpartition("}")[2] in local_names:
            found.append(attributes)

    def refuse(*_: object) -> None:
        raise _Refused

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, _Refused, ValueError) as exc:
        raise AttachmentDamaged(DAMAGED) from exc
    return found


# --- compound files (OLE2) ---------------------------------------------------------------------------------
_MAX_REGULAR_SECTOR = 0xFFFFFFFA
_END_OF_CHAIN = 0xFFFFFFFE
_HEADER_DIFAT = 109
_DIRECTORY_ENTRY = 128
_STORAGE, _STREAM = 1, 2
_ENCRYPTED_PACKAGE = frozenset({"encryptioninfo", "encryptedpackage"})
_LEGACY_WORKBOOK = frozenset({"workbook", "book"})  # Excel 97-2003, and Excel 5


def _refuse_compound_file(data: bytes, filename: str = "") -> None:
    """A compound file is never read: a password-protected .docx or .xlsx is one (EncryptionInfo and
    EncryptedPackage streams, which do not say which of the two is inside: the name words the refusal), and
    so are legacy .doc, .xls (a Workbook stream) and Outlook .msg files."""
    names = _compound_file_names(data)
    spreadsheet = filename.lower().endswith(_SPREADSHEET_SUFFIXES)
    if _ENCRYPTED_PACKAGE <= names:
        raise AttachmentEncrypted(xlsx_guard.ENCRYPTED if spreadsheet else WORD_ENCRYPTED)
    if names & _LEGACY_WORKBOOK:
        raise AttachmentWrongType(xlsx_guard.LEGACY)
    raise AttachmentWrongType(LEGACY_OFFICE)


def _compound_file_names(data: bytes) -> set[str]:
    """The names (lower case) of the storages and streams in a compound file, from its directory alone
    ([MS-CFB]: header, FAT sectors listed in the header and the DIFAT chain, then the directory chain)."""
    try:
        (shift,) = struct.unpack_from("<H", data, 0x1E)
        if shift not in (9, 12):
            raise ValueError("sector size")
        size = 1 << shift
        sectors = max(0, len(data) - size) // size
        fat_count, first_directory = struct.unpack_from("<2I", data, 0x2C)
        first_difat, difat_count = struct.unpack_from("<2I", data, 0x44)
        fat_sectors = list(struct.unpack_from(f"<{_HEADER_DIFAT}I", data, 0x4C))

        def sector(index: int) -> bytes:
            if index >= sectors:
                raise ValueError("sector beyond the end of the file")
            return data[(index + 1) * size : (index + 2) * size]

        per_sector = size // 4
        difat = first_difat
        for _ in range(min(difat_count, sectors)):
            if difat > _MAX_REGULAR_SECTOR:
                break
            values = struct.unpack(f"<{per_sector}I", sector(difat))
            fat_sectors.extend(values[:-1])
            difat = values[-1]
        fat: list[int] = []
        for index in fat_sectors[: min(fat_count, sectors)]:
            fat.extend(struct.unpack(f"<{per_sector}I", sector(index)))
        names: set[str] = set()
        current, visited = first_directory, set()
        while current != _END_OF_CHAIN:
            if current in visited or current >= len(fat):
                raise ValueError("broken directory chain")
            visited.add(current)
            block = sector(current)
            for offset in range(0, size, _DIRECTORY_ENTRY):
                (length,) = struct.unpack_from("<H", block, offset + 64)
                if block[offset + 66] in (_STORAGE, _STREAM) and 2 <= length <= 64:
                    names.add(block[offset : offset + length - 2].decode("utf-16-le", "replace").lower())
            current = fat[current]
    except (struct.error, ValueError, IndexError) as exc:
        raise AttachmentDamaged(DAMAGED) from exc
    return names
