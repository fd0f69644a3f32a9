"""The guard on Excel workbooks: identified by content, then macros, links outside, a password to open, the
binary and 97-2003 formats, zip bombs (the ``xlsx_max_*`` settings) refused in Clerk's process by check();
XML declarations and DDE formulas refused in the capped parser worker, before openpyxl reads anything."""

from __future__ import annotations

import random

import pytest

from connectors.documents.attachments import is_candidate
from connectors.documents.extract import extract
from connectors.documents.guard import DocumentLimits, check, sniff
from connectors.documents.parser_pool import ParserPool, guarded
from connectors.errors import (
    AttachmentActiveContent,
    AttachmentBomb,
    AttachmentDamaged,
    AttachmentEncrypted,
    AttachmentExternalLink,
    AttachmentWrongType,
    UnreadableAttachment,
)
from connectors.mail import Attachment
from sandbox import workbooks
from sandbox.forms import applicant
from tests.documents import hostile

LIMITS = DocumentLimits()
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _form() -> bytes:
    return workbooks.blue_badge_xlsx(applicant(random.Random(5)))


def refused(data: bytes, expected: type[UnreadableAttachment], filename: str = "form.xlsx",
            limits: DocumentLimits = LIMITS) -> UnreadableAttachment:  # fmt: skip
    """check() must refuse with exactly ``expected``, its code, and a sentence naming the file."""
    with pytest.raises(UnreadableAttachment) as caught:
        check(data, filename, limits)
    assert type(caught.value) is expected
    assert caught.value.code == expected.code
    assert caught.value.reasons and all(r.startswith(f"{filename}: ") and "Please" in r for r in caught.value.reasons)
    return caught.value


def refused_in_worker(data: bytes, expected: type[UnreadableAttachment], limits: DocumentLimits,
                      pool: ParserPool) -> UnreadableAttachment:  # fmt: skip
    assert check(data, "form.xlsx", limits) == "xlsx"  # nothing the byte checks can see
    with pytest.raises(UnreadableAttachment) as caught:
        guarded(data, "form.xlsx", extract, "blue_badge", limits=limits, pool=pool)
    assert type(caught.value) is expected
    assert caught.value.reasons[0].startswith("form.xlsx: ")
    return caught.value


# --- what passes ---------------------------------------------------------------------------------------------


def test_a_workbook_form_passes_and_is_identified_by_its_content_not_its_name() -> None:
    assert sniff(_form()) == "xlsx"
    assert check(_form(), "form.xlsx", LIMITS) == "xlsx"
    assert check(_form(), "form.pdf", LIMITS) == "xlsx"


def test_a_workbook_form_is_read_in_a_capped_worker(limits: DocumentLimits, pool: ParserPool) -> None:
    person = applicant(random.Random(5))
    extracted = guarded(workbooks.blue_badge_xlsx(person), "form.xlsx", extract, "blue_badge", limits=limits, pool=pool)

    assert extracted.method == "xlsx"
    assert extracted.values["surname"] == person["surname"]
    assert pool.worker_pids()  # read in a worker, not in this process


def test_an_ordinary_hyperlink_in_a_workbook_is_allowed() -> None:
    parts = workbooks.members(_form())
    rels = "xl/worksheets/_rels/sheet1.xml.rels"
    parts[rels] = (b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   b'relationships"><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/'
                   b'2006/relationships/hyperlink" Target="https://www.gov.uk/government/publications/blue-badge" '
                   b'TargetMode="External"/></Relationships>')  # fmt: skip
    assert check(workbooks.repack(parts), "form.xlsx", LIMITS) == "xlsx"


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("application.xlsx", "application/octet-stream", True),
        ("application", XLSX_TYPE, True),
        ("application", "application/vnd.ms-excel", True),
        ("application.xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12", True),
        ("logo.png", "image/png", False),
    ],
)
def test_an_attachment_is_taken_for_a_workbook_by_its_extension_or_type(filename: str, content_type: str,
                                                                        expected: bool) -> None:  # fmt: skip
    data = b"\x89PNG\r\n\x1a\n" + bytes(64)  # content that is no document: only the name or type can say
    assert is_candidate(Attachment(filename=filename, content_type=content_type, data=data)) is expected


def test_a_workbook_with_a_plain_name_and_type_is_found_by_its_content() -> None:
    assert is_candidate(Attachment(filename="attachment", content_type="text/plain", data=_form()))


# --- macros and active content -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [workbooks.macro_enabled_xlsx, workbooks.vba_part_only_xlsx, workbooks.macro_sheet_xlsx],
    ids=["xlsm", "undeclared vbaProject.bin", "excel 4.0 macro sheet"],
)
def test_macros_are_refused(make) -> None:
    error = refused(make(), AttachmentActiveContent)
    assert "macros" in error.reasons[0] and ".xlsx" in error.reasons[0]


def test_a_macro_enabled_workbook_renamed_xlsx_is_still_refused() -> None:
    refused(workbooks.macro_enabled_xlsx(), AttachmentActiveContent, filename="harmless.xlsx")
    assert sniff(workbooks.macro_enabled_xlsx()) == "xlsx"


# --- links outside the file ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [workbooks.external_link_xlsx, workbooks.connection_xlsx, workbooks.remote_relationship_xlsx],
    ids=["link to another workbook", "data connection", "remote picture"],
)
def test_links_outside_the_workbook_are_refused(make) -> None:
    error = refused(make(), AttachmentExternalLink)
    assert "Break Link" in error.reasons[0]


@pytest.mark.parametrize(
    "formula",
    ["cmd|' /C calc'!A0", "SUM(1,MSEXCEL|'\\..\\..\\Windows\\System32\\calc'!'')", 'WEBSERVICE("http://x.example")',
     'RTD("server",,"topic")'],
    ids=["dde", "dde inside a sum", "webservice", "rtd"],
)  # fmt: skip
def test_a_formula_reaching_outside_is_refused_in_the_worker(formula: str, limits: DocumentLimits,
                                                             pool: ParserPool) -> None:  # fmt: skip
    error = refused_in_worker(workbooks.dde_formula_xlsx(formula), AttachmentExternalLink, limits, pool)
    assert "DDE" in error.reasons[0]


def test_a_pipe_inside_a_text_constant_is_not_dde(limits: DocumentLimits, pool: ParserPool) -> None:
    data = workbooks.dde_formula_xlsx('CONCAT("see notes | page 2", "")')
    assert guarded(data, "form.xlsx", extract, "blue_badge", limits=limits, pool=pool).method == "xlsx"


# --- passwords and other formats -------------------------------------------------------------------------------


def test_a_workbook_with_a_password_to_open_is_refused_as_a_workbook() -> None:
    error = refused(workbooks.encrypted_xlsx(), AttachmentEncrypted)
    assert "Excel workbook is protected by a password" in error.reasons[0]


def test_an_encrypted_office_file_named_docx_is_refused_as_a_word_document() -> None:
    error = refused(hostile.encrypted_docx(), AttachmentEncrypted, filename="form.docx")
    assert "Word document" in error.reasons[0]


def test_a_binary_workbook_is_refused_asking_for_xlsx() -> None:
    error = refused(workbooks.binary_workbook_xlsb(), AttachmentWrongType, filename="form.xlsb")
    assert ".xlsb" in error.reasons[0] and ".xlsx" in error.reasons[0]


def test_an_excel_97_2003_workbook_is_refused_asking_for_xlsx() -> None:
    error = refused(hostile.compound_file({"Workbook": b"\x09\x08" + bytes(64)}), AttachmentWrongType,
                    filename="form.xls")  # fmt: skip
    assert "Excel 97-2003" in error.reasons[0] and ".xlsx" in error.reasons[0]


def test_a_presentation_is_neither_word_nor_excel() -> None:
    refused(hostile.pptx_like(), AttachmentWrongType, filename="form.pptx")


# --- bombs: the xlsx_max_* settings --------------------------------------------------------------------------


def test_a_zip_bomb_workbook_is_refused_before_anything_is_decompressed() -> None:
    refused(workbooks.bomb_xlsx(64 * 1024 * 1024), AttachmentBomb)


def test_the_uncompressed_size_limit_is_a_setting_of_its_own() -> None:
    data = workbooks.bomb_xlsx(2 * 1024 * 1024)  # 2 MB of blanks: within the default 50 MB, far over 1 MB
    assert check(data, "form.xlsx", DocumentLimits(xlsx_max_ratio=5000)) == "xlsx"
    refused(data, AttachmentBomb, limits=DocumentLimits(xlsx_max_ratio=5000, xlsx_max_uncompressed_bytes=1024 * 1024))


def test_the_compression_ratio_limit_is_a_setting_of_its_own() -> None:
    data = workbooks.bomb_xlsx(2 * 1024 * 1024)  # about 1000:1
    refused(data, AttachmentBomb)  # over the default xlsx_max_ratio of 200
    assert check(data, "form.xlsx", DocumentLimits(xlsx_max_ratio=5000)) == "xlsx"


def test_the_entry_count_limit_is_a_setting_of_its_own() -> None:
    data = workbooks.many_parts_xlsx(40)
    parts = len(workbooks.members(data))
    assert check(data, "form.xlsx", DocumentLimits(xlsx_max_entries=parts)) == "xlsx"
    refused(data, AttachmentBomb, limits=DocumentLimits(xlsx_max_entries=parts - 1))
    refused(workbooks.many_parts_xlsx(600), AttachmentBomb)  # the default, 500


def test_an_xml_entity_bomb_is_refused_in_the_worker_before_any_entity_is_expanded(limits: DocumentLimits,
                                                                                   pool: ParserPool) -> None:  # fmt: skip
    error = refused_in_worker(workbooks.entity_bomb_xlsx(), AttachmentDamaged, limits, pool)
    assert "Excel workbook is damaged" in error.reasons[0]


# --- routing ---------------------------------------------------------------------------------------------------


def test_a_process_narrowed_to_attachment_types_routes_a_workbook_only_when_it_lists_xlsx() -> None:
    from datetime import UTC, datetime

    from connectors.errors import NoRoute
    from connectors.mail import Email
    from connectors.settings import Settings
    from flows.routing import route

    workbook = Email(id="1.eml", message_id="<1@x>", sender="priya.shah@council.example.gov.uk", to=("clerk@x",),
                     subject="Blue Badge application", received=datetime.now(UTC),
                     headers={"X-MS-Exchange-Organization-AuthAs": "Internal"},
                     attachment_names=("Blue Badge.XLSX",))  # fmt: skip
    settings = Settings()
    assert route(workbook, settings) == "blue_badge"  # no attachment_types: any attachment
    settings.processes["blue_badge"].attachment_types = ["pdf", "docx", "xlsx"]
    assert route(workbook, settings) == "blue_badge"
    settings.processes["blue_badge"].attachment_types = ["pdf", "docx"]
    with pytest.raises(NoRoute):
        route(workbook, settings)


def test_a_declaration_hidden_in_a_part_not_named_xml_is_still_found(limits: DocumentLimits, pool: ParserPool) -> None:
    parts = workbooks.members(workbooks.entity_bomb_xlsx())
    parts["xl/worksheets/sheet1.dat"] = parts.pop("xl/worksheets/sheet1.xml")
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"sheet1.xml", b"sheet1.dat")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"/xl/worksheets/sheet1.xml",
                                                                        b"/xl/worksheets/sheet1.dat")  # fmt: skip

    error = refused_in_worker(workbooks.repack(parts), AttachmentDamaged, limits, pool)
    assert "Excel workbook is damaged" in error.reasons[0]


def test_a_workbook_with_a_comment_and_its_vml_drawing_is_read(limits: DocumentLimits, pool: ParserPool) -> None:
    import io

    import openpyxl
    from openpyxl.comments import Comment

    workbook = openpyxl.load_workbook(io.BytesIO(_form()))
    workbook["Application"]["B8"].comment = Comment("Checked against the passport", "Blue Badge team")
    out = io.BytesIO()
    workbook.save(out)
    assert any(name.endswith(".vml") for name in workbooks.members(out.getvalue()))

    assert guarded(out.getvalue(), "form.xlsx", extract, "blue_badge", limits=limits, pool=pool).method == "xlsx"
