"""Functions the tests run inside parser workers. They must be importable by name, so they live here."""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import zlib

import docx
from pypdf import PdfReader

from connectors.documents.cpu_allowance import run_program
from connectors.errors import ConfigError, InvalidForm, UnreadableAttachment


def echo(*args: object) -> tuple[object, ...]:
    return args


def loop_forever(*_: object) -> None:
    while True:
        pass


def allocate_past_cap(*_: object) -> None:
    """Allocate 16 MB at a time until the worker's address-space cap stops it."""
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))


def allocate_and_hide_it() -> None:
    """Run out of memory inside a reader that turns every error into its own, as many readers do."""
    try:
        allocate_past_cap()
    except Exception as exc:
        raise UnreadableAttachment("The PDF is damaged and cannot be opened.") from exc


def fill_memory_then(outcome: str) -> str:
    """Allocate up to the cap and let it all go; then fail in words of its own, as a C library reports a
    failed allocation (no MemoryError anywhere in the chain), or succeed."""
    try:
        allocate_past_cap()
    except MemoryError:
        pass
    if outcome == "fail":
        raise ValueError("inflate failed: insufficient memory")
    return "survived"


def crash(signal_number: int) -> None:
    os.kill(os.getpid(), signal_number)


def exit_now(code: int) -> None:
    os._exit(code)


def raise_invalid_form() -> None:
    raise InvalidForm(
        "2 problems with the form",
        code="FORM_INVALID_TEST",
        reasons=["Surname is missing. Please fill it in.", "Postcode is not a UK postcode."],
    )


def raise_config_error() -> None:
    try:
        raise KeyError("documents")
    except KeyError as exc:
        raise ConfigError("is not a number", file="clerk.yaml", key="documents.max_pages") from exc


def raise_with_personal_data(*_: object) -> None:
    raise ValueError("could not parse date of birth for Margaret Holroyd, NI QQ123456C")


def unpicklable_result() -> object:
    return lambda: None


def fifo_write(path: str) -> str:
    """Opening a FIFO to write blocks until another process opens it to read: a rendezvous with no clock."""
    with open(path, "w") as fifo:
        fifo.write("hello")
    return "written"


def fifo_read(path: str) -> str:
    with open(path) as fifo:
        return fifo.read()


def fifo_write_then_loop(path: str) -> None:
    """Say "started" through a FIFO, then never finish."""
    fifo_write(path)
    loop_forever()


def start_a_program_then_block(report: str, block: str) -> None:
    """Start a program that waits for ever (``cat`` reading a pipe nobody writes to), report its process id
    and this worker's through the FIFO ``report``, then block on the FIFO ``block``: neither uses any CPU."""
    program = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    fifo_write_text(report, f"{program.pid} {os.getpid()}")
    fifo_read(block)


def fifo_write_text(path: str, text: str) -> None:
    with open(path, "w") as fifo:
        fifo.write(text)


def run_a_busy_program() -> int:
    """Start a program that computes for ever, as a hostile image might make Tesseract do."""
    return run_program([sys.executable, "-c", "while True: pass"], b"", timeout_s=600, what="a busy program").returncode


def cpu_used_and_limit() -> tuple[float, int]:
    """The CPU seconds this worker has used, and its CPU soft limit now."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, resource.getrlimit(resource.RLIMIT_CPU)[0]


def process_group() -> tuple[int, int, int]:
    """(pid, process group, session) of this worker."""
    return os.getpid(), os.getpgid(0), os.getsid(0)


# --- parse functions, called as fn(data, kind) by guarded() -------------------------------------------------
def page_count(data: bytes, kind: str) -> int:
    return len(PdfReader(io.BytesIO(data)).pages) if kind == "pdf" else len(docx.Document(io.BytesIO(data)).paragraphs)


def pdf_contents(data: bytes, kind: str) -> int:
    """What a text-layer extractor does first: decode every page's content stream. (pypdf's extract_text
    hides a decompression limit and returns "", so this calls get_data, which does not.)"""
    return sum(len(page.get_contents().get_data()) for page in PdfReader(io.BytesIO(data)).pages)


def docx_text(data: bytes, kind: str) -> str:
    """What a python-docx extractor does: the paragraphs and the table cells."""
    document = docx.Document(io.BytesIO(data))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([paragraph.text for paragraph in document.paragraphs] + cells)


def inflate_everything(data: bytes, kind: str) -> int:
    """A naive reader that trusts no declared size: it inflates every zip member to the end of its data, and
    every PDF stream through all its FlateDecode layers. Returns the bytes it produced."""
    produced = 0
    if kind == "docx":
        offset = 0
        while data.startswith(b"PK\x03\x04", offset):
            compressed, name_length, extra_length = struct.unpack_from("<I4x2H", data, offset + 18)
            start = offset + 30 + name_length + extra_length
            produced += len(zlib.decompressobj(-15).decompress(data[start : start + compressed]))
            offset = start + compressed
        return produced
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        content = match.group(1)
        while content[:1] == b"\x78":
            content = zlib.decompress(content)
        produced += len(content)
    return produced
