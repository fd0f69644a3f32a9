"""The guard's checks in Clerk's own process: identification by content, sizes, encryption, zip bombs by their
declared sizes, macros, ActiveX and external links, each refused with its exact code and a sentence for the
sender. No parser process is involved here (see test_guard_parse.py)."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import pytest
from pydantic import ValidationError

from connectors.documents.guard import DocumentLimits, check, check_email_size, sniff
from connectors.errors import (
    AttachmentActiveContent,
    AttachmentBomb,
    AttachmentDamaged,
    AttachmentEmpty,
    AttachmentEncrypted,
    AttachmentExternalLink,
    AttachmentTooLarge,
    AttachmentWrongType,
    EmailTooLarge,
    UnreadableAttachment,
)
from tests.documents import hostile

LIMITS = DocumentLimits()
PDF_ALGORITHMS = ["RC4-40", "RC4-128", "AES-128", "AES-256"]


def refused(data: bytes, expected: type[UnreadableAttachment], filename: str = "form.docx",
            limits: DocumentLimits = LIMITS) -> UnreadableAttachment:  # fmt: skip
    """check() must refuse with exactly ``expected`` (not a subclass, not a parent), code included."""
    with pytest.raises(UnreadableAttachment) as caught:
        check(data, filename, limits)
    assert type(caught.value) is expected
    assert caught.value.code == expected.code
    assert caught.value.reasons and all("Please" in reason for reason in caught.value.reasons)
    return caught.value


# --- what passes ---------------------------------------------------------------------------------------------
def test_a_filled_in_pdf_form_passes() -> None:
    assert check(hostile.good_pdf(), "blue-badge.pdf", LIMITS) == "pdf"


def test_a_word_form_passes() -> None:
    assert check(hostile.good_docx(), "blue-badge.docx", LIMITS) == "docx"


def test_an_ordinary_hyperlink_is_not_an_external_link() -> None:
    data = hostile.good_docx(hyperlink=True)
    assert b'TargetMode="External"' in hostile.docx_members(data)["word/_rels/document.xml.rels"]
    assert check(data, "form.docx", LIMITS) == "docx"


def test_the_type_comes_from_the_content_never_the_name() -> None:
    assert check(hostile.good_pdf(), "form.docx", LIMITS) == "pdf"
    assert check(hostile.good_docx(), "form.pdf", LIMITS) == "docx"
    refused(b"Dear council, please find my form attached.", AttachmentWrongType, filename="form.pdf")


def test_a_pdf_header_after_some_junk_within_the_first_kilobyte_is_still_a_pdf() -> None:
    assert sniff(b"\r\n" * 100 + hostile.good_pdf()) == "pdf"
    with pytest.raises(AttachmentWrongType):
        sniff(b" " * 1024 + hostile.good_pdf())


def test_sniff_names_each_kind() -> None:
    assert sniff(hostile.good_pdf()) == "pdf"
    assert sniff(hostile.good_docx()) == "docx"
    assert sniff(hostile.docm_renamed()) == "docx"  # identified as Word; check() refuses its macros
    assert sniff(hostile.legacy_doc()) == "ole2"
    assert sniff(hostile.encrypted_docx()) == "ole2"


# --- empty, wrong type, too large ----------------------------------------------------------------------------
def test_an_empty_file_is_refused() -> None:
    refused(b"", AttachmentEmpty, filename="form.pdf")
    with pytest.raises(AttachmentEmpty):
        sniff(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"Dear council, please find my form attached.",
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        b"MZ\x90\x00" + bytes(64) + b"This program cannot be run in DOS mode.",
        b"<html><body>An online form, saved as a web page.</body></html>",
    ],
    ids=["text", "png", "exe", "html"],
)
def test_files_that_are_not_documents_are_the_wrong_type(data: bytes) -> None:
    refused(data, AttachmentWrongType, filename="form.pdf")


@pytest.mark.parametrize("make", [hostile.plain_zip, hostile.pptx_like], ids=["plain zip", "presentation"])
def test_zips_that_are_neither_word_documents_nor_workbooks_are_the_wrong_type(make) -> None:
    refused(make(), AttachmentWrongType)


def test_a_spreadsheet_package_is_a_workbook_not_a_word_document() -> None:
    assert sniff(hostile.xlsx_like()) == "xlsx"
    assert check(hostile.xlsx_like(), "form.docx", LIMITS) == "xlsx"  # by content, never the name


@pytest.mark.parametrize("make", [hostile.legacy_doc, hostile.outlook_msg], ids=["doc", "msg"])
def test_older_office_files_are_refused_asking_for_docx_or_pdf(make) -> None:
    error = refused(make(), AttachmentWrongType, filename="form.doc")
    assert ".docx" in error.reasons[0] and "PDF" in error.reasons[0]


def test_a_compound_file_too_big_for_the_header_fat_list_is_read_through_its_difat_chain() -> None:
    data = hostile.legacy_doc(size=8 * 1024 * 1024)  # 129 FAT sectors: 20 are listed in a DIFAT sector
    error = refused(data, AttachmentWrongType, filename="form.doc")
    assert "older Microsoft Office" in error.reasons[0]


def test_the_size_limit_is_inclusive() -> None:
    data = hostile.good_pdf()
    assert check(data, "form.pdf", DocumentLimits(max_attachment_bytes=len(data))) == "pdf"
    refused(data, AttachmentTooLarge, filename="form.pdf", limits=DocumentLimits(max_attachment_bytes=len(data) - 1))


def test_an_email_over_its_size_limit_is_refused() -> None:
    check_email_size(LIMITS.max_email_bytes, LIMITS)
    with pytest.raises(EmailTooLarge) as caught:
        check_email_size(LIMITS.max_email_bytes + 1, LIMITS)
    assert caught.value.code == "EMAIL_TOO_LARGE"
    assert "25 MB" in caught.value.reasons[0]


# --- encryption ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", PDF_ALGORITHMS)
def test_an_encrypted_pdf_is_refused(algorithm: str) -> None:
    refused(hostile.encrypted_pdf(algorithm), AttachmentEncrypted, filename="form.pdf")


@pytest.mark.parametrize("algorithm", PDF_ALGORITHMS)
def test_a_pdf_with_only_an_owner_password_is_refused_too(algorithm: str) -> None:
    refused(hostile.encrypted_pdf(algorithm, user_password=""), AttachmentEncrypted, filename="form.pdf")


def test_a_password_protected_word_document_is_refused() -> None:
    error = refused(hostile.encrypted_docx(), AttachmentEncrypted)
    assert "password" in error.reasons[0]
    refused(hostile.compound_encrypted_package(), AttachmentEncrypted)


def test_a_zip_whose_parts_are_encrypted_is_refused() -> None:
    refused(hostile.docx_repacked(lambda member: replace(member, flags=0x1)), AttachmentEncrypted)


# --- damaged -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        hostile.truncated(hostile.good_pdf()),
        hostile.truncated(hostile.good_docx()),
        hostile.good_docx()[:-10],
        hostile.truncated(hostile.legacy_doc(), 0.3),
        hostile.legacy_doc()[:300],
    ],
    ids=["pdf half", "docx half", "docx end record cut", "doc directory cut", "doc header cut"],
)
def test_a_truncated_file_is_damaged(data: bytes) -> None:
    refused(data, AttachmentDamaged)


def test_a_package_with_two_parts_of_one_name_is_damaged() -> None:
    refused(hostile.docx_with_duplicate_part(), AttachmentDamaged)


def test_a_package_compressed_in_a_way_word_never_writes_is_damaged() -> None:
    refused(hostile.docx_repacked(lambda member: replace(member, method=zipfile.ZIP_BZIP2)), AttachmentDamaged)


def test_a_document_type_declaration_in_the_package_index_is_refused_before_any_entity_expands() -> None:
    refused(hostile.docx_with_doctype(), AttachmentDamaged)


def test_an_index_part_that_inflates_past_its_declared_size_is_damaged() -> None:
    # In this process, so this test is also a memory bound: the part inflates to 2 GiB if read unbounded.
    refused(hostile.lying_index_part(), AttachmentDamaged)


# --- zip bombs, by what the central directory declares ------------------------------------------------------
def test_a_zip_bomb_is_refused_by_its_declared_compression_ratio() -> None:
    data = hostile.docx_bomb(64 * hostile.MB)  # 64 MB in about 64 kB: within the size limit, ratio ~1000
    refused(data, AttachmentBomb)
    assert check(data, "form.docx", DocumentLimits(zip_max_ratio=2000)) == "docx"


def test_a_part_declaring_more_than_the_uncompressed_limit_is_a_bomb() -> None:
    refused(hostile.docx_declaring(2**31), AttachmentBomb)
    small = DocumentLimits(zip_max_uncompressed_bytes=hostile.MB)
    refused(hostile.docx_declaring(2 * hostile.MB), AttachmentBomb, limits=small)


def test_too_many_parts_is_a_bomb() -> None:
    parts = len(hostile.docx_members())
    assert check(hostile.docx_with_many_entries(5), "form.docx", DocumentLimits(zip_max_entries=parts + 5)) == "docx"
    refused(hostile.docx_with_many_entries(6), AttachmentBomb, limits=DocumentLimits(zip_max_entries=parts + 5))
    refused(hostile.docx_with_many_entries(1001), AttachmentBomb)


def test_a_zip_that_lies_about_its_sizes_passes_the_pre_check() -> None:
    # Declared sizes are all the guard can see without decompressing; the parser process's caps catch
    # this one (test_guard_parse.py).
    assert check(hostile.lying_docx(), "form.docx", LIMITS) == "docx"


# --- active content and external links ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        hostile.docm_renamed,
        hostile.docm_main_only,
        hostile.docx_with_vba,
        lambda: hostile.docx_with_vba(declared=False),
        hostile.docx_with_activex,
        hostile.docx_activex_relationship_only,
    ],
    ids=[
        "docm renamed docx",
        "macro-enabled main part",
        "vbaProject.bin",
        "undeclared vbaProject.bin",
        "ActiveX",
        "ActiveX relationship",
    ],  # fmt: skip
)
def test_macros_and_activex_are_active_content(make) -> None:
    refused(make(), AttachmentActiveContent)


@pytest.mark.parametrize(
    "make",
    [hostile.docx_external_template, lambda: hostile.docx_remote("image"), lambda: hostile.docx_remote("oleObject")],
    ids=["attached template", "remote image", "linked OLE object"],
)
def test_content_pulled_from_outside_is_an_external_link(make) -> None:
    refused(make(), AttachmentExternalLink)


# --- reasons and limits --------------------------------------------------------------------------------------
def test_reasons_name_the_attachment_without_its_path_or_control_characters() -> None:
    error = refused(hostile.encrypted_pdf("AES-256"), AttachmentEncrypted, filename="C:\\Users\\x\\blue\x07 badge.pdf")
    assert error.reasons[0].startswith("blue badge.pdf: The PDF is protected by a password")
    assert "blue badge.pdf" not in error.message  # the message is the sentence alone
    unnamed = refused(b"", AttachmentEmpty, filename="")
    assert unnamed.reasons == [unnamed.message]  # no name to give: the sentence alone


def test_limits_refuse_unknown_keys_and_nonsense() -> None:
    with pytest.raises(ValidationError):
        DocumentLimits(max_page=5)  # a typo must not silently keep the default
    with pytest.raises(ValidationError):
        DocumentLimits(parser_workers=0)
    assert LIMITS.max_attachment_bytes == 10 * 1024 * 1024 and LIMITS.max_pages == 50
