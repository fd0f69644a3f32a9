"""Document guard benchmark: the guarded path against plain in-process parsing, same forms, same run.

A batch of generated Blue Badge forms (half AcroForm PDFs from ``sandbox.forms``, half Word forms from
``sandbox.documents``) is parsed two ways:

* **plain**: ``parse(data, kind)`` in this process, nothing else;
* **guarded**: ``guarded()``, i.e. ``check()`` (content sniffing, size, encryption, zip directory, macros,
  links) then ``ParserPool.call`` (a PDF's page count and encryption checked in the worker, then the same
  ``parse``) in warm, memory-capped worker processes.

Each form is parsed plainly then guarded, one after the other (a shared machine's load then weighs on both
alike); then the guarded path runs again with one caller thread per worker. ``--rounds`` times; the best
round of each counts. CPU seconds are reported too (this process's and the worker's): wall time on a busy
machine includes waiting for a core at each hand-over between processes, CPU time does not. Then a row per
format (AcroForm PDF, Word, Excel from ``sandbox.workbooks``): ``--format-forms`` forms of that format alone,
plain then guarded, best of the rounds, with its own guard ratio against its own plain baseline measured in
the same run (an Excel workbook's guard also streams every XML part once in the worker, refusing declarations
and DDE formulas). Then each bomb is sent through the guarded path and timed to its refusal, with the worker's
peak memory. Prints tables, then one JSON object on the last line: ``{"forms", "guard_ratio", "formats":
{"pdf"|"docx"|"xlsx": {"forms", "plain_s", "guarded_s", "guard_ratio"}}, "xlsx_guard_ratio", "bomb_peak_mb",
"bomb_max_s", ...}``. Aim: guard_ratio <= 1.25.

    python bench/documents.py [--forms 200] [--format-forms 50] [--rounds 3] [--parser simple|extract]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docx  # noqa: E402  (the plain baseline reads Word forms with python-docx directly, on purpose)
import openpyxl  # noqa: E402  (and Excel forms with openpyxl directly)

from connectors.documents.guard import DocumentLimits  # noqa: E402
from connectors.documents.parser_pool import ParserPool, guarded  # noqa: E402
from connectors.documents.pdf_form import read_form_fields  # noqa: E402
from connectors.errors import ClerkError  # noqa: E402
from sandbox.documents import blue_badge_docx  # noqa: E402
from sandbox.forms import applicant, blue_badge_pdf  # noqa: E402
from sandbox.workbooks import blue_badge_xlsx, bomb_xlsx, entity_bomb_xlsx  # noqa: E402
from tests.documents import hostile  # noqa: E402
from tests.documents.tasks import inflate_everything  # noqa: E402  (the naive reader the guard tests use)

MB = 1024 * 1024


# --- the parse both paths run: swap in another reader here ------------------------------------------------
def parse_simple(data: bytes, kind: str) -> dict[str, object]:
    """A PDF's AcroForm fields; a Word form's label/value table rows; a workbook's label/value cell pairs."""
    if kind == "pdf":
        return read_form_fields(data)
    if kind == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(max_col=2, values_only=True)
            return {str(label): value for label, value in rows if label is not None}
        finally:
            workbook.close()
    document = docx.Document(io.BytesIO(data))
    return {row.cells[0].text: row.cells[1].text for table in document.tables for row in table.rows}


def parse_extract(data: bytes, kind: str) -> dict[str, object]:
    """The format readers' one entry point, as the Blue Badge process calls it."""
    from connectors.documents.extract import extract

    return extract(data, kind, "blue_badge").values


PARSERS = {"simple": parse_simple, "extract": parse_extract}


# --- the batch ---------------------------------------------------------------------------------------------
FORMATS = {
    "pdf": lambda person: blue_badge_pdf(person),
    "docx": lambda person: blue_badge_docx(person, "table"),
    "xlsx": lambda person: blue_badge_xlsx(person),
}


def format_forms(kind: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` forms of one format, each for a different applicant (the same applicants for every format)."""
    rng = random.Random(2027)
    return [(kind, FORMATS[kind](applicant(rng))) for _ in range(count)]


def make_forms(count: int) -> list[tuple[str, bytes]]:
    """``count`` forms, alternately a filled-in PDF and a Word form, each for a different applicant."""
    rng = random.Random(2026)
    forms = []
    for i in range(count):
        person = applicant(rng)
        forms.append(("pdf", blue_badge_pdf(person)) if i % 2 == 0 else ("docx", blue_badge_docx(person, "table")))
    return forms


@dataclass
class Timings:
    """Wall and CPU seconds of each path; guarded CPU counts the worker's as well as this process's."""

    plain_s: float = 0.0
    guarded_s: float = 0.0
    plain_cpu_s: float = 0.0
    guarded_cpu_s: float | None = 0.0
    mismatches: int = 0  # forms the two paths read differently (there should be none)


def worker_cpu() -> tuple[int, float]:
    """In a worker: its process id and the CPU seconds it has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return os.getpid(), usage.ru_utime + usage.ru_stime


def run_alternately(forms, parse, limits: DocumentLimits, pool: ParserPool) -> Timings:
    """Each form parsed plainly, then guarded, one after the other, so that the load of a shared machine
    weighs on both paths alike. One caller uses one worker (the pool hands out the most recent first), so
    that worker's CPU time before and after is the guarded path's share of work done in workers."""
    timings = Timings()
    first_pid, first_cpu = pool.call(worker_cpu)
    for number, (kind, data) in enumerate(forms):
        wall, cpu = time.perf_counter(), time.process_time()
        plain = parse(data, kind)
        middle_wall, middle_cpu = time.perf_counter(), time.process_time()
        timings.mismatches += guarded(data, f"form-{number}.{kind}", parse, limits=limits, pool=pool) != plain
        timings.plain_s += middle_wall - wall
        timings.plain_cpu_s += middle_cpu - cpu
        timings.guarded_s += time.perf_counter() - middle_wall
        timings.guarded_cpu_s += time.process_time() - middle_cpu
    last_pid, last_cpu = pool.call(worker_cpu)
    timings.guarded_cpu_s = timings.guarded_cpu_s + last_cpu - first_cpu if last_pid == first_pid else None
    return timings


def run_threads(forms, parse, limits: DocumentLimits, pool: ParserPool, callers: int) -> float:
    """The guarded path with ``callers`` threads at once, as Clerk's flows may call it."""

    def one(numbered: tuple[int, tuple[str, bytes]]) -> object:
        number, (kind, data) = numbered
        return guarded(data, f"form-{number}.{kind}", parse, limits=limits, pool=pool)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=callers) as threads:
        list(threads.map(one, enumerate(forms)))
    return time.perf_counter() - started


def bombs(parse) -> list[tuple[str, bytes, object]]:
    return [
        ("flate bomb PDF, 3 layers to 4 GiB", hostile.flate_bomb_pdf(), parse),
        ("flate bomb PDF, naive reader", hostile.flate_bomb_pdf(), inflate_everything),
        ("zip bomb .docx, 64 MB at ~1000:1", hostile.docx_bomb(64 * MB), parse),
        ("zip declaring 2 GiB", hostile.docx_declaring(2**31), parse),
        ("zip lying: 20 kB declared, 2 GiB", hostile.lying_docx(), parse),
        ("zip lying, naive reader", hostile.lying_docx(), inflate_everything),
        ("5000-page PDF", hostile.pages_pdf(5000), parse),
        ("zip bomb .xlsx, 64 MB at ~1000:1", bomb_xlsx(64 * MB), parse),
        ("XML entity bomb .xlsx", entity_bomb_xlsx(), parse),
    ]


def refuse(data: bytes, fn, limits: DocumentLimits, pool: ParserPool) -> tuple[str, float, float | None]:
    """Send one bomb through the guarded path: (code or "accepted", seconds, worker peak MB or None)."""
    pool.reset_peak()
    started = time.perf_counter()
    try:
        guarded(data, "bomb", fn, limits=limits, pool=pool)
        code = "accepted"
    except ClerkError as exc:
        code = exc.code
    seconds = time.perf_counter() - started
    return code, seconds, (pool.peak_rss_mb or None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=200)
    parser.add_argument("--format-forms", type=int, default=50, help="forms of each format in the per-format rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parser", choices=sorted(PARSERS), default="extract")
    args = parser.parse_args()
    parse = PARSERS[args.parser]
    limits = DocumentLimits()
    forms = make_forms(args.forms)

    started = time.perf_counter()
    pool = ParserPool(limits)
    pool_start_s = time.perf_counter() - started
    with pool:
        rounds, threads_s = [], float("inf")
        for _ in range(args.rounds):
            rounds.append(run_alternately(forms, parse, limits, pool))
            threads_s = min(threads_s, run_threads(forms, parse, limits, pool, callers=limits.parser_workers))
        forms_peak_mb = pool.peak_rss_mb
        per_format: dict[str, list[Timings]] = {kind: [] for kind in FORMATS}
        batches = {kind: format_forms(kind, args.format_forms) for kind in FORMATS}
        for _ in range(args.rounds):
            for kind, batch in batches.items():
                per_format[kind].append(run_alternately(batch, parse, limits, pool))
        refusals = [(name, *refuse(data, fn, limits, pool)) for name, data, fn in bombs(parse)]

    n = args.forms
    plain_s = min(timing.plain_s for timing in rounds)
    guarded_s = min(timing.guarded_s for timing in rounds)
    plain_cpu_s = min(timing.plain_cpu_s for timing in rounds)
    guarded_cpus = [timing.guarded_cpu_s for timing in rounds if timing.guarded_cpu_s is not None]
    guarded_cpu_s = min(guarded_cpus) if guarded_cpus else None
    cpu_ratio = round(guarded_cpu_s / plain_cpu_s, 4) if guarded_cpu_s else None
    print(f"{'path':<34}{'forms':>7}{'total s':>10}{'forms/s':>10}{'ratio':>8}")
    rows = [("plain (in process)", plain_s), ("guarded (1 caller)", guarded_s),
            (f"guarded ({limits.parser_workers} callers)", threads_s)]  # fmt: skip
    for name, seconds in rows:
        print(f"{name:<34}{n:>7}{seconds:>10.3f}{n / seconds:>10.1f}{seconds / plain_s:>8.3f}")
    if cpu_ratio:
        print(f"CPU time (both processes, immune to the machine's load): guarded/plain {cpu_ratio:.3f}")
    print(
        f"parser pool start (once per Clerk process): {pool_start_s:.2f} s; worker peak on forms {forms_peak_mb:.0f} MB"
    )
    print()
    print(f"{'format':<34}{'forms':>7}{'plain s':>10}{'guarded s':>11}{'ratio':>8}")
    formats = {}
    for kind, timings in per_format.items():
        kind_plain = min(timing.plain_s for timing in timings)
        kind_guarded = min(timing.guarded_s for timing in timings)
        formats[kind] = {"forms": args.format_forms, "plain_s": round(kind_plain, 4),
                         "guarded_s": round(kind_guarded, 4), "guard_ratio": round(kind_guarded / kind_plain, 4)}
        print(f"{kind:<34}{args.format_forms:>7}{kind_plain:>10.3f}{kind_guarded:>11.3f}{kind_guarded / kind_plain:>8.3f}")
    print()
    print(f"{'bomb':<36}{'refused as':<30}{'seconds':>8}{'worker MB':>11}")
    for name, code, seconds, peak in refusals:
        print(f"{name:<36}{code:<30}{seconds:>8.3f}{(f'{peak:.0f}' if peak else '-'):>11}")
    print(f"aim: guarded/plain <= 1.25; memory cap {limits.parser_memory_mb} MB, CPU allowance "
          f"{limits.parser_time_s:g} s, clock limit {limits.parser_wall_s:g} s")
    figures = {
        "forms": n,
        "parser": args.parser,
        "plain_s": round(plain_s, 4),
        "guarded_s": round(guarded_s, 4),
        "guarded_threads_s": round(threads_s, 4),
        "plain_forms_per_s": round(n / plain_s, 1),
        "guarded_forms_per_s": round(n / guarded_s, 1),
        "guard_ratio": round(guarded_s / plain_s, 4),
        "guard_ratio_threads": round(threads_s / plain_s, 4),
        "guard_cpu_ratio": cpu_ratio,
        "formats": formats,
        "xlsx_guard_ratio": formats["xlsx"]["guard_ratio"],
        "pool_start_s": round(pool_start_s, 3),
        "forms_peak_mb": round(forms_peak_mb, 1),
        "bomb_peak_mb": round(max((peak or 0) for *_, peak in refusals), 1),
        "bomb_max_s": round(max(seconds for _, _, seconds, _ in refusals), 3),
        "bombs": {name: {"code": code, "s": round(seconds, 3)} for name, code, seconds, _ in refusals},
        "memory_cap_mb": limits.parser_memory_mb,
    }
    if any(timing.mismatches for timing in [*rounds, *(t for ts in per_format.values() for t in ts)]):
        print("warning: the guarded path read some forms differently", file=sys.stderr)
    if any(code == "accepted" for _, code, _, _ in refusals):
        print("warning: a bomb was accepted", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
