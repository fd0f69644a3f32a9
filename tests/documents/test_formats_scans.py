"""Scanned forms: recognised as scans, read by Tesseract when it is installed (every value then marked for a
person to confirm), and refused with a clear message when OCR is off or missing."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from connectors.documents import extract, read_form
from connectors.documents.blue_badge import validate_application
from connectors.documents.extract import SCANNED
from connectors.errors import AttachmentScanned, ConfigError
from sandbox.documents import scanned_blue_badge_pdf
from sandbox.forms import applicant

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")

# An applicant whose details Tesseract reads exactly from the generated scan. Others show the usual OCR
# slips (O for 0, l for 1), which is why a person confirms every value read from a scan.
_READABLE_SEED = 2


@pytest.fixture(scope="module")
def person() -> dict[str, object]:
    return applicant(random.Random(_READABLE_SEED), badge_type="Renewal", existing_badge_number="AB12 3456 7890")


@pytest.fixture(scope="module")
def scan(person: dict[str, object]) -> bytes:
    return scanned_blue_badge_pdf(person)


def _blank_scan() -> bytes:
    """A page image with nothing on it: what a scanner sends when the page went in face down."""
    image = io.BytesIO()
    Image.new("L", (1240, 1754), 255).save(image, format="PNG")
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.drawImage(ImageReader(io.BytesIO(image.getvalue())), 0, 0, *A4)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_the_generated_scan_has_page_images_and_no_text(scan: bytes) -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(scan))

    assert len(reader.pages) == 2
    assert all(len(page.images) == 1 for page in reader.pages)
    assert all(not page.extract_text().strip() for page in reader.pages)


def test_without_ocr_a_scan_is_refused_with_a_message_for_staff(scan: bytes) -> None:
    with pytest.raises(AttachmentScanned) as caught:
        extract(scan, "pdf", "blue_badge", ocr=False)

    assert caught.value.message == SCANNED
    assert caught.value.code == "ATTACHMENT_SCANNED"


def test_a_machine_without_tesseract_refuses_scans(
    scan: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no tesseract to be found

    with pytest.raises(AttachmentScanned) as caught:
        extract(scan, "pdf", "blue_badge")
    assert caught.value.message == SCANNED

    with pytest.raises(ConfigError, match="tesseract"):  # insisting on OCR without it is a set-up fault
        extract(scan, "pdf", "blue_badge", ocr=True)


@needs_tesseract
def test_ocr_reads_the_scan_to_the_same_application_and_asks_a_person_to_confirm(
    scan: bytes, person: dict[str, object]
) -> None:
    application, extracted = read_form(scan, "pdf", "blue_badge", ocr=True)

    assert application == validate_application(person)
    assert extracted.method == "ocr"
    assert extracted.pages == 2
    assert extracted.version == "BB1 (version 3, 2024)"
    assert sorted(extracted.needs_confirmation) == sorted(extracted.values)
    assert set(extracted.values) == set(person)


@needs_tesseract
def test_a_scan_with_nothing_readable_on_it_is_refused_as_a_scan() -> None:
    with pytest.raises(AttachmentScanned) as caught:
        extract(_blank_scan(), "pdf", "blue_badge", ocr=True)

    assert "could not read enough" in caught.value.message


@needs_tesseract
def test_a_box_ocr_finds_no_mark_in_is_put_to_a_supervisor_not_refused(person: dict[str, object]) -> None:
    unticked = {**person, "declaration": False, "badge_type": ""}  # or ticked faintly: OCR cannot tell

    application, extracted = read_form(scanned_blue_badge_pdf(unticked), "pdf", "blue_badge", ocr=True)

    assert sorted(extracted.unreadable) == ["badge_type", "declaration"]
    assert extracted.values["declaration"] is None and extracted.values["badge_type"] is None
    assert [reason.split(":")[0] for reason in extracted.review] == ["badge_type", "declaration"]
    assert application.surname == person["surname"]  # let through for the supervisor, not "tick the declaration"
