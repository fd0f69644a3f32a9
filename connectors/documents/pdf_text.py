"""Reading a form from where its words sit on the page: a PDF's text layer, or the words OCR found on a scan.

A form printed to PDF (or filled in and flattened) has no fields left, but its text layer still has the
labels and, beside them, what was typed. pypdf's ``extract_text`` visitor gives each piece of text with its
position; pieces are grouped into lines, the definition's labels are looked for at the start of a piece,
and the value is the text to the right of the label on the same line (up to the next label), or else on
the line just below it. The same reading serves OCR (``connectors.documents.ocr``), whose words come with
positions too.

A flattened form (pdftocairo, ``qpdf --flatten-annotations``, pypdf's ``flatten=True``) keeps each box's
appearance as a *form XObject* drawn where the box was: its text is placed by the transform in force at
its ``Do`` and by its own ``/Matrix``, which pypdf's visitor leaves out, so :func:`read_pages` applies
them. Tick boxes and option buttons are often drawn rather than written (a tick of lines and curves, a
dot), so :func:`read_pages` also notes what is drawn on each page, and :func:`read_layout` reports the
fields whose box holds such a drawing (``Reading.drawn``): where no written mark was read there, Clerk
says it could not read the box rather than that it was left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pypdf import PageObject, PdfReader
from pypdf.generic import IndirectObject, StreamObject

from connectors.documents.forms import FormDefinition, Labels, normalise

_SAME_LINE = 0.45
"""Pieces whose heights differ by less than this share of the text size are on the same line."""
_LINE_BELOW = 2.2
"""A value on the line below its label is at most this many text sizes lower."""
_COLUMN_GAP = re.compile(r"\s{3,}")
"""Some PDF writers put a label and its value in one piece of text, spaced apart: a gap this wide splits it."""
_BOX_SIZE = 3.0
"""A drawing in a box is at most this many text sizes wide and high (a rule across the page is not)."""


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
class Drawing:
    """Something drawn on a page that is not text, by its bounding box in points from the bottom-left."""

    x0: float
    y0: float
    x1: float
    y1: float
    kind: Literal["rectangle", "shape", "picture"]
    """Rectangles only (a box's outline or fill), another shape (lines or curves: a tick, a cross, a
    circle, a dot) or a picture."""


@dataclass(frozen=True)
class Page:
    """One page's text layer and drawings."""

    segments: list[Segment]
    drawings: list[Drawing] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """What a layout reading found: the text of each field found, by field name."""

    values: dict[str, str]
    version: str | None
    looks_like: str | None
    """What the document seems to be, for a message when it is not the form."""
    drawn: frozenset[str] = frozenset()
    """Fields whose label's line holds, after the label, a small drawing that is not a rectangle (a tick or
    a dot drawn with lines and curves, a ring, a picture)."""
    unplaced: frozenset[str] = frozenset()
    """Boxes whose words ran on from the label in one piece of text while other pieces (a mark) stand apart
    on the line: where each word stood is lost, so which option a mark belongs to cannot be told."""


def read_pages(reader: PdfReader) -> list[Page]:
    """Each page's text layer as positioned segments (text inside form XObjects included, where it is
    drawn) and what is drawn on it."""
    pages = []
    for page in reader.pages:
        visitor = _PageVisitor(page)
        page.extract_text(visitor_text=visitor.text, visitor_operand_before=visitor.before,
                          visitor_operand_after=visitor.after)  # fmt: skip
        pages.append(Page(visitor.segments, visitor.drawings))
    return pages


def read_layout(pages: list[list[Segment]], form: FormDefinition, drawings: list[list[Drawing]] | None = None
                ) -> Reading:  # fmt: skip
    """Find the definition's labels in positioned text and read the value beside or below each one.

    Where a label occurs more than once (a column heading "Total" and the totals box "Total"), a value on
    the same line beats one on the line below, which beats nothing; then the first on the page wins.
    ``drawings`` (by page, as :func:`read_pages` gives them) fill in :attr:`Reading.drawn`.
    """
    labels = Labels(form)
    best: dict[str, tuple[int, str, bool, bool]] = {}
    for number, segments in enumerate(pages):
        lines = group_lines([segment for segment in segments if not labels.is_hint(segment.text)])
        on_page = drawings[number] if drawings and number < len(drawings) else []
        for index, line in enumerate(lines):
            for position, segment in enumerate(line):
                match = labels.match(segment.text, boxes_run_on=True)
                if match is None:
                    continue
                following = [piece.text for piece in _until_label(line[position + 1 :], labels)]
                # Words that ran on from a box's label stand, on the page, after the box and what is in it.
                parts = following + [match.value] if match.runs_on else [match.value] * bool(match.value) + following
                parts = [part for part in parts if part]
                quality = 2 if parts else 0
                limit = next((s.x for s in line[position + 1 :] if labels.match(s.text)), float("inf"))
                if not parts and index + 1 < len(lines):
                    parts = [piece.text for piece in _below(segment, lines[index + 1], limit, labels)]
                    quality = 1 if parts else 0
                if quality > best.get(match.field, (-1, "", False, False))[0]:
                    label_end = segment.x + (len(segment.text) - len(match.value)) * segment.size * 0.4
                    drawn = _drawn_after(segment, label_end, limit, on_page)
                    best[match.field] = (quality, " ".join(parts), drawn, match.runs_on and bool(following))
    return Reading(
        values={key: value for key, (_, value, _, _) in best.items()},
        version=_version(pages, form),
        looks_like=looks_like(pages),
        drawn=frozenset(key for key, (_, _, drawn, _) in best.items() if drawn),
        unplaced=frozenset(key for key, (*_, unplaced) in best.items() if unplaced),
    )


def _drawn_after(label: Segment, start: float, limit: float, drawings: list[Drawing]) -> bool:
    """Whether a small drawing other than a rectangle sits on ``label``'s line between ``start`` (an
    underestimate of where the label's words end) and ``limit`` (the next label's left edge)."""
    for drawing in drawings:
        if drawing.kind == "rectangle":
            continue
        middle_x, middle_y = (drawing.x0 + drawing.x1) / 2, (drawing.y0 + drawing.y1) / 2
        small = max(drawing.x1 - drawing.x0, drawing.y1 - drawing.y0) <= _BOX_SIZE * label.size
        if small and start <= middle_x < limit and label.y - 0.6 * label.size <= middle_y <= label.y + 1.4 * label.size:
            return True
    return False


Matrix = list[float]
_IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
_CURVES_AND_LINES = {b"m", b"l", b"c", b"v", b"y"}
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_DRAWING = _CURVES_AND_LINES | _PAINT | {b"re", b"n", b"Do", b"INLINE IMAGE"}


class _PageVisitor:
    """pypdf's visitor callbacks for one page, collecting positioned text and drawings in page space.

    pypdf reports what is inside a form XObject relative to the XObject. Its callbacks come in a fixed
    order: ``before(Do)``, perhaps the text pending before the ``Do``, the XObject's own operators, then
    ``after(Do)``. So a frame (the XObject's transform to the page) is pushed at ``before(Do)``, counts from
    the XObject's first operator on, and is popped at ``after(Do)``."""

    def __init__(self, page: PageObject) -> None:
        self.segments: list[Segment] = []
        self.drawings: list[Drawing] = []
        resources = _resolve(page.get("/Resources"))
        self.frames: list[dict[str, Any]] = [{"to_page": _IDENTITY, "resources": resources, "begun": True}]
        self.path: list[tuple[float, float]] = []
        self.operators: list[bytes] = []

    def frame(self) -> dict[str, Any]:
        """The frame the current operator or text belongs to."""
        return self.frames[-1] if self.frames[-1]["begun"] else self.frames[-2]

    def before(self, operator: bytes, operands: list, cm: Matrix, tm: Matrix) -> None:
        frame = self.frames[-1]
        frame["begun"] = True
        if operator not in _DRAWING:
            return
        user = _then([float(value) for value in cm], frame["to_page"])
        if operator == b"Do":
            self.frames.append(self._enter(frame, operands, user))
        elif operator == b"re" and len(operands) == 4:
            x, y, width, height = (float(value) for value in operands)
            self.path += [_point(user, x, y), _point(user, x + width, y + height)]
            self.operators.append(operator)
        elif operator in _CURVES_AND_LINES:
            numbers = [float(value) for value in operands]
            self.path += [_point(user, x, y) for x, y in zip(numbers[::2], numbers[1::2], strict=False)]
            self.operators.append(operator)
        elif operator in _PAINT or operator == b"n":
            if operator != b"n":
                self._drawn("rectangle" if _rectangles(self.operators, self.path) else "shape", self.path)
            self.path, self.operators = [], []
        elif operator == b"INLINE IMAGE":
            self._drawn("picture", [_point(user, 0, 0), _point(user, 1, 1)])

    def after(self, operator: bytes, operands: list, cm: Matrix, tm: Matrix) -> None:
        if operator == b"Do" and len(self.frames) > 1:
            self.frames.pop()

    def text(self, text: str, cm: Matrix, tm: Matrix, font: object, size: float) -> None:
        if not text.strip():
            return
        to_page = self.frame()["to_page"]
        x, y = _point(to_page, tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
        height = abs(float(size) * tm[3] * cm[3] * to_page[3]) or float(size)
        for number, line in enumerate(text.split("\n")):
            offset = 0
            for piece in _COLUMN_GAP.split(line):
                if piece.strip():
                    start = line.index(piece, offset)
                    self.segments.append(Segment(x + start * height * 0.5, y - number * height * 1.2, height,
                                                 piece.strip()))  # fmt: skip
                    offset = start + len(piece)

    def _enter(self, frame: dict[str, Any], operands: list, user: Matrix) -> dict[str, Any]:
        """The frame of the XObject a ``Do`` draws: a form's matrix and resources. A picture is noted."""
        xobjects = _resolve(frame["resources"].get("/XObject")) if isinstance(frame["resources"], dict) else None
        xobject = _resolve(xobjects.get(operands[0])) if isinstance(xobjects, dict) and operands else None
        matrix, resources = _IDENTITY, frame["resources"]
        if isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Image":
            self._drawn("picture", [_point(user, 0, 0), _point(user, 1, 1)])
        elif isinstance(xobject, StreamObject):
            declared = _resolve(xobject.get("/Matrix"))
            if isinstance(declared, list) and len(declared) == 6:
                matrix = [float(_resolve(value)) for value in declared]
            resources = _resolve(xobject.get("/Resources")) or resources
        return {"to_page": _then(matrix, user), "resources": resources, "begun": False}

    def _drawn(self, kind: Literal["rectangle", "shape", "picture"], points: list[tuple[float, float]]) -> None:
        if points:
            xs, ys = [x for x, _ in points], [y for _, y in points]
            self.drawings.append(Drawing(min(xs), min(ys), max(xs), max(ys), kind))


def _rectangles(operators: list[bytes], points: list[tuple[float, float]]) -> bool:
    """Whether a path is rectangles only: ``re`` operators, or one outline of straight lines through the
    corners of its bounding box (as some writers draw a box)."""
    if all(operator == b"re" for operator in operators):
        return True
    if operators[:1] != [b"m"] or set(operators[1:]) != {b"l"} or not 3 <= len(operators) - 1 <= 4:
        return False
    xs, ys = {round(x, 1) for x, _ in points}, {round(y, 1) for _, y in points}
    return len(xs) == 2 and len(ys) == 2


def _then(first: Matrix, second: Matrix) -> Matrix:
    """The transform that applies ``first``, then ``second`` (PDF matrices act on row vectors)."""
    a, b, c, d, e, f = first
    return [a * second[0] + b * second[2], a * second[1] + b * second[3], c * second[0] + d * second[2],
            c * second[1] + d * second[3], e * second[0] + f * second[2] + second[4],
            e * second[1] + f * second[3] + second[5]]  # fmt: skip


def _point(matrix: Matrix, x: float, y: float) -> tuple[float, float]:
    return x * matrix[0] + y * matrix[2] + matrix[4], x * matrix[1] + y * matrix[3] + matrix[5]


def _resolve(value: object) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


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
