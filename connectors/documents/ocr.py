"""Reading the words on scanned pages with Tesseract, with their positions, for the layout reader.

A scan is a PDF whose pages are images with no text layer. The largest image on each page is taken to be
the page itself; it goes to the ``tesseract`` program (Debian's ``tesseract-ocr``) on standard input,
within what is left of the parse's CPU allowance (``connectors.documents.cpu_allowance``) and a clock
limit, and its TSV output gives each word's box. Words become :class:`Segment` s in points
from the page's bottom-left corner, as pypdf gives text-layer positions, so
:func:`connectors.documents.pdf_text.read_layout` reads both alike. OCR makes mistakes: every value it
reads is marked for a person to confirm (see ``connectors.documents.extract``).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections import defaultdict

from pypdf import PageObject, PdfReader

from connectors.documents.cpu_allowance import run_program
from connectors.documents.pdf_text import Segment
from connectors.errors import AttachmentScanned, ConfigError

OCR_TIMEOUT_S = 60.0
"""The longest one page may take by the clock (Tesseract needs a second or two of CPU for an A4 page at
200 dpi). Running out of it is the machine's fault (PARSER_UNAVAILABLE); running out of CPU is the file's."""
_WORD_GAP = 1.2
"""A gap wider than this many line heights between two words starts a new segment (label | value)."""
_RULES = set("|_[]{}()—–-")
"""Box edges and underlines OCR reads as characters on their own."""


def tesseract() -> str | None:
    """The ``tesseract`` program on PATH, if it is installed."""
    return shutil.which("tesseract")


def has_page_images(reader: PdfReader) -> bool:
    """Whether any page carries an image (a scan has one per page)."""
    return any(_images(page) for page in reader.pages)


def ocr_segments(reader: PdfReader, *, timeout_s: float = OCR_TIMEOUT_S) -> list[list[Segment]]:
    """The words on each page's image, as segments. Raises :class:`ConfigError` without Tesseract,
    :class:`~connectors.errors.AttachmentTimeout` when the pages use up the parse's CPU allowance,
    :class:`~connectors.errors.DocumentReaderFailed` when a page runs out of clock time and
    :class:`AttachmentScanned` when Tesseract fails."""
    program = tesseract()
    if program is None:
        raise ConfigError("OCR was asked for but the tesseract program is not installed (Debian: tesseract-ocr)")
    pages = []
    for page in reader.pages:
        images = _images(page)
        if not images:
            pages.append([])
            continue
        width, height, data = max(images, key=lambda image: image[0] * image[1])
        page_width, page_height = float(page.mediabox.width), float(page.mediabox.height)
        points_per_pixel = page_width / width
        dpi = max(70, round(72 / points_per_pixel))
        tsv = _run(program, data, dpi, timeout_s)
        pages.append(_segments(tsv, points_per_pixel, page_height))
    return pages


def _images(page: PageObject) -> list[tuple[int, int, bytes]]:
    """(width, height, encoded image) of each image on the page."""
    found = []
    for image in page.images:
        picture = image.image
        if picture is not None:
            found.append((picture.width, picture.height, image.data))
    return found


def _run(program: str, image: bytes, dpi: int, timeout_s: float) -> str:
    command = [program, "stdin", "stdout", "--dpi", str(dpi), "-l", "eng", "tsv"]
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one thread: faster on small machines, and fair
    try:
        done = run_program(command, image, timeout_s=timeout_s, what="Tesseract", env=environment)
    except OSError as exc:
        raise ConfigError(f"the tesseract program could not be run: {exc}") from exc
    if done.returncode != 0:
        raise AttachmentScanned(
            "The form is a scanned image and Clerk could not read it. "
            "Please send the completed form itself (PDF or Word)."
        )
    return done.stdout.decode("utf-8", errors="replace")


def _segments(tsv: str, scale: float, page_height: float) -> list[Segment]:
    """Tesseract's words, grouped by its lines and split where a wide gap separates a label from a value."""
    lines: dict[tuple[str, ...], tuple[int, int]] = {}
    words: dict[tuple[str, ...], list[tuple[int, int, str]]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        if row["level"] == "4":
            lines[key] = (int(row["top"]), int(row["height"]))
        elif row["level"] == "5":
            text = (row.get("text") or "").strip()
            if text and not set(text) <= _RULES:
                words[key].append((int(row["left"]), int(row["left"]) + int(row["width"]), text))
    segments = []
    for key, line_words in words.items():
        top, height = lines[key]
        baseline = page_height - (top + height) * scale
        size = height * scale
        piece: list[tuple[int, int, str]] = []
        for word in sorted(line_words):
            if piece and word[0] - piece[-1][1] > _WORD_GAP * height:
                segments.append(Segment(piece[0][0] * scale, baseline, size, " ".join(w[2] for w in piece)))
                piece = []
            piece.append(word)
        segments.append(Segment(piece[0][0] * scale, baseline, size, " ".join(w[2] for w in piece)))
    return segments
