"""PDFs that would run, launch, send or unpack something when opened are refused like macros in Word
(ATTACHMENT_ACTIVE_CONTENT), however the PDF spells or hides it; genuine forms with the harmless actions
Word and Acrobat write (open at page 1, a web link, Acrobat's date formatting) are read as before."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject

from connectors.documents.extract import read_form
from connectors.documents.guard import DocumentLimits, check, inspect_pdf
from connectors.documents.parser_pool import ParserPool, guarded
from connectors.documents.pdf_active import may_have_active_content
from connectors.errors import AttachmentActiveContent, UnreadableAttachment
from sandbox.documents import printed_blue_badge_pdf
from sandbox.forms import applicant
from tests.documents import hostile, tasks


def refused(data: bytes) -> AttachmentActiveContent:
    with pytest.raises(UnreadableAttachment) as caught:
        inspect_pdf(data, 50)
    assert type(caught.value) is AttachmentActiveContent
    assert caught.value.code == "ATTACHMENT_ACTIVE_CONTENT"
    return caught.value


@pytest.mark.parametrize("kind", sorted(hostile.ACTIVE_PDFS))
def test_active_content_is_refused(kind: str) -> None:
    data = hostile.active_pdf(kind)
    assert check(data, "form.pdf", DocumentLimits()) == "pdf"  # nothing the byte checks can see
    error = refused(data)
    assert "scripts" in error.reasons[0] and "Please" in error.reasons[0]


@pytest.mark.parametrize("kind", sorted(hostile.BENIGN_PDFS))
def test_a_genuine_form_with_a_harmless_action_is_accepted_and_read(kind: str) -> None:
    data = hostile.benign_pdf(kind)
    assert inspect_pdf(data, 50) == 2
    application, extracted = read_form(data, "pdf", "blue_badge")
    assert extracted.method == "acroform" and application.surname


def test_a_printed_form_with_words_open_action_is_read() -> None:
    data = hostile.benign_pdf("open at page 1 (as Word writes)", printed_blue_badge_pdf(applicant(random.Random(4))))
    assert isinstance(PdfReader(io.BytesIO(data)).trailer["/Root"]["/OpenAction"], ArrayObject)
    assert inspect_pdf(data, 50) == 2
    assert read_form(data, "pdf", "blue_badge")[1].method == "text"


def test_an_action_type_spelled_with_an_escape_is_still_javascript() -> None:
    data = hostile.javascript_under_an_escaped_name()
    assert b"/JavaScript" not in data
    refused(data)


def test_anything_other_than_acrobats_own_formatting_in_a_field_script_is_refused() -> None:
    for script in ['AFDate_FormatEx("dd/mm/yyyy"); app.launchURL("http://198.51.100.7")',
                   'AFDate_FormatEx(event.value)', "AFDate_FormatEx('dd/mm/yyyy') + 1"]:
        refused(hostile._edited_pdf(hostile._field_script("/F", script)))


def test_a_script_in_a_documents_own_action_is_refused_even_if_it_looks_like_formatting() -> None:
    # Acrobat's formatting calls are allowed in a form field's format/keystroke/validate/calculate actions only.
    refused(hostile._edited_pdf(hostile._catalog("/OpenAction", lambda w: hostile._javascript('AFDate_FormatEx("x")'))))


@pytest.mark.skipif(shutil.which("qpdf") is None, reason="needs Debian's qpdf (make pdftools)")
def test_active_content_inside_compressed_object_streams_is_refused(tmp_path: Path) -> None:
    source, packed = tmp_path / "active.pdf", tmp_path / "packed.pdf"
    source.write_bytes(hostile.active_pdf("JavaScript open action"))
    subprocess.run(["qpdf", "--object-streams=generate", "--compress-streams=y", str(source), str(packed)],
                   check=True)  # fmt: skip
    data = packed.read_bytes()
    assert b"/JavaScript" not in data and b"/OpenAction" not in data  # the catalogue is compressed
    refused(data)


def test_the_guarded_path_refuses_active_content_before_the_parse(limits: DocumentLimits, pool: ParserPool) -> None:
    with pytest.raises(AttachmentActiveContent) as caught:
        guarded(hostile.active_pdf("launch a program"), "form.pdf", tasks.page_count, limits=limits, pool=pool)
    assert caught.value.reasons[0].startswith("form.pdf: The PDF contains scripts")
    assert guarded(hostile.benign_pdf("open at page 1 (as Word writes)"), "form.pdf", tasks.page_count,
                   limits=limits, pool=pool) == 2  # fmt: skip


def test_most_forms_are_cleared_from_their_bytes_and_anything_that_could_hide_a_name_is_walked() -> None:
    assert not may_have_active_content(hostile.good_pdf())  # no walk for the council's own form
    assert all(may_have_active_content(hostile.active_pdf(kind)) for kind in hostile.ACTIVE_PDFS)
    assert may_have_active_content(hostile.javascript_under_an_escaped_name())  # /Java#53cript: an escape
    assert may_have_active_content(b"%PDF-1.7\n1 0 obj << /Type /ObjStm /N 3 /First 20 >> stream")  # compressed
    assert may_have_active_content(b"%PDF-1.7\n1 0 obj << /Open#41ction 2 0 R >>")
