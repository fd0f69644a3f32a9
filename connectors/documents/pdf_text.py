"""Reading a form from where its words sit on the page: a PDF's text layer, or the words OCR found on a scan.

A form printed to PDF (or filled in and flattened) has no fields left, but its text layer still has the
labels and, beside them, what was typed. pypdf's ``extract_text`` visitor gives each piece of text with its
position; pieces are grouped into lines, the definition's labels are looked for at the start of a piece,
and the value is the text to the right of the label on the same line (up to the next label), or else on
the line just below it. The same reading serves OCR (``connectors.documents.ocr``), whose words come with
positions too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypdf import PdfReader

from connectors.documents.forms import FormDefinition, Labels, normalise

_SAME_LINE = 0.45
"""Pieces whose heights differ by less than this share of the text size are on the same line."""
_LINE_BELOW = 2.2
"""A value on the line below its label is at most this many text sizes lower."""
_COLUMN_GAP = re.compile(r"\s{3,}")
"""Some PDF writers put a label and its value in one piece of text, spaced apart: a gap this wide splits it."""


@dataclass(frozen=True)
class Segment:
    """A piece of text on a page, set apart from its neighbours: a label, a value, a heading."""

    x: float
    """Left edge, in points from the left of the page."""
    y: float
    """Baseline, in points from the bottom of the page."""
    size: float
    """Height of the text, in points."""
    text: str


@dataclass(frozen=True)
class Reading:
    """What a layout reading found: the text of each field found, by field name."""

    values: dict[str, str]
    version: str | None
    looks_like: str | None
    """What the document seems to be, for a message when it is not the form."""


def text_segments(reader: PdfReader) -> list[list[Segment]]:
    """The text layer of each page as positioned segments (pages without text give empty lists)."""
    pages = []
    for page in reader.pages:
        found: list[Segment] = []

        def visit(text: str, cm: list, tm: list, font: object, size: float, found: list[Segment] = found) -> None:
            if not text.strip():
                return
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            height = abs(float(size) * tm[3] * cm[3]) or float(size)
            for number, line in enumerate(text.split("\n")):
                offset = 0
                for piece in _COLUMN_GAP.split(line):
                    if piece.strip():
                        start = line.index(piece, offset)
                        found.append(
                            Segment(x + start * height * 0.5, y - number * height * 1.2, height, piece.strip())
                        )
                        offset = start + len(piece)

        page.extract_text(visitor_text=visit)
        pages.append(found)
    return pages


def read_layout(pages: list[list[Segment]], form: FormDefinition) -> Reading:
    """Find the definition's labels in positioned text and read the value beside or below each one.

    Where a label occurs more than once (a column heading "Total" and the totals box "Total"), a value on
    the same line beats one on the line below, which beats nothing; then the first on the page wins.
    """
    labels = Labels(form)
    best: dict[str, tuple[int, str]] = {}
    for segments in pages:
        lines = group_lines([segment for segment in segments if not labels.is_hint(segment.text)])
        for index, line in enumerate(lines):
            for position, segment in enumerate(line):
                match = labels.match(segment.text)
                if match is None:
                    continue
                parts = [match.value] if match.value else []
                following = _until_label(line[position + 1 :], labels)
                parts += [piece.text for piece in following]
                quality = 2 if parts else 0
                if not parts and index + 1 < len(lines):
                    limit = next((s.x for s in line[position + 1 :] if labels.match(s.text)), float("inf"))
                    parts = [piece.text for piece in _below(segment, lines[index + 1], limit, labels)]
                    quality = 1 if parts else 0
                if quality > best.get(match.field, (-1, ""))[0]:
                    best[match.field] = (quality, " ".join(parts))
    return Reading(
        values={key: value for key, (_, value) in best.items()},
        version=_version(pages, form),
        looks_like=looks_like(pages),
    )


def group_lines(segments: list[Segment]) -> list[list[Segment]]:
    """Segments grouped into lines, top of the page first, each line left to right."""
    lines: list[list[Segment]] = []
    for segment in sorted(segments, key=lambda s: (-s.y, s.x)):
        if lines and abs(lines[-1][0].y - segment.y) <= _SAME_LINE * max(lines[-1][0].size, segment.size):
            lines[-1].append(segment)
        else:
            lines.append([segment])
    return [sorted(line, key=lambda s: s.x) for line in lines]


def looks_like(pages: list[list[Segment]]) -> str | None:
    """What the document looks like, from its first page with text: its title (text larger than the rest)
    in quotes, or else the words it begins with."""
    for segments in pages:
        if segments:
            body = min(segments, key=lambda s: s.size).size
            title = max(segments, key=lambda s: (s.size, s.y))
            if title.size > body * 1.2:
                return quoted(title.text)
            first = group_lines(segments)[0]
            return f"a document beginning {quoted(' '.join(s.text for s in first))}"
    return None


def quoted(text: str, limit: int = 80) -> str:
    """Text from a document quoted in a message, shortened if long."""
    text = " ".join(text.split())
    return f"“{text[: limit - 3]}...”" if len(text) > limit else f"“{text}”"


def _until_label(segments: list[Segment], labels: Labels) -> list[Segment]:
    taken = []
    for segment in segments:
        if labels.match(segment.text):
            break
        taken.append(segment)
    return taken


def _below(label: Segment, line: list[Segment], limit: float, labels: Labels) -> list[Segment]:
    """The value on the line below ``label``: under it or to its right, before the next label."""
    if label.y - line[0].y > _LINE_BELOW * max(label.size, line[0].size):
        return []
    under = [s for s in line if label.x - label.size <= s.x < limit]
    return _until_label(under, labels)


def _version(pages: list[list[Segment]], form: FormDefinition) -> str | None:
    text = normalise(" ".join(segment.text for segments in pages for segment in segments))
    return next((version for version in form.versions if normalise(version) in text), None)
