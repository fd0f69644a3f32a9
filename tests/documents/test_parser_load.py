"""Under real CPU load (busy loops pinned to the machine's cores), valid forms are read, or at worst the
reader's own fault is reported (PARSER_UNAVAILABLE, retried), never refused as the sender's fault; a file
that computes for ever is still refused, by the CPU it burns rather than the clock."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.documents.blue_badge import validate_application
from connectors.documents.extract import Extracted, extract
from connectors.documents.guard import DocumentLimits
from connectors.documents.parser_pool import ParserPool, guarded
from connectors.errors import AttachmentTimeout, BusinessError, ClerkError, DocumentReaderFailed
from sandbox.documents import blue_badge_docx
from sandbox.forms import applicant, blue_badge_pdf
from tests.documents import tasks

BUSY_LOOPS = 6
"""Three processes computing for ever on each of two cores: every parse waits for a core most of the time."""
# Every parse in a cold worker (one task each), a CPU cap far below the old 10 s wall-clock limit yet far
# above what a form needs, and four callers for two workers, so parses also wait for a free worker.
LIMITS = DocumentLimits(parser_workers=2, parser_max_tasks=1, parser_time_s=2, parser_wall_s=120)


@pytest.fixture(scope="module")
def loaded_machine() -> Iterator[list[int]]:
    cores = sorted(os.sched_getaffinity(0))[:2]
    loops: list[subprocess.Popen] = []
    try:
        for number in range(BUSY_LOOPS):
            loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            loops.append(loop)
            os.sched_setaffinity(loop.pid, {cores[number % len(cores)]})
        yield cores
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()


def read(data: bytes, kind: str, number: int, pool: ParserPool) -> Extracted | ClerkError:
    try:
        return guarded(data, f"form-{number}.{kind}", extract, "blue_badge", limits=LIMITS, pool=pool)
    except ClerkError as exc:
        return exc


def test_valid_forms_under_cpu_load_are_never_refused_as_the_senders_fault(loaded_machine: list[int]) -> None:
    people = [applicant(random.Random(seed)) for seed in range(16)]
    files = [("pdf", blue_badge_pdf(person)) if number % 2 == 0 else ("docx", blue_badge_docx(person, "table"))
             for number, person in enumerate(people)]  # fmt: skip
    with ParserPool(LIMITS) as pool, ThreadPoolExecutor(max_workers=4) as callers:  # the pool starts under load
        outcomes = list(callers.map(lambda numbered: read(*numbered[1][::-1], numbered[0], pool), enumerate(files)))

    refused = [f"{outcome.code}: {outcome.reasons}" for outcome in outcomes if isinstance(outcome, BusinessError)]
    assert refused == []
    for person, outcome in zip(people, outcomes, strict=True):
        assert isinstance(outcome, Extracted | DocumentReaderFailed), outcome
        if isinstance(outcome, Extracted):
            assert validate_application(outcome.values) == validate_application(person)
    assert sum(isinstance(outcome, Extracted) for outcome in outcomes) > 0


def test_a_file_that_computes_for_ever_is_still_refused_under_load(loaded_machine: list[int]) -> None:
    with ParserPool(LIMITS) as pool, pytest.raises(ClerkError) as caught:
        pool.call(tasks.loop_forever, cpu_s=1)
    assert type(caught.value) is AttachmentTimeout  # by its CPU, long before the clock limit
    assert str(caught.value.__cause__) == "the parser process used up its 1 CPU seconds"
