"""One parser pool per test module: the forkserver starts once per run, each pool's workers in milliseconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.documents.guard import DocumentLimits
from connectors.documents.parser_pool import ParserPool

# Generous enough for a loaded CI machine; the tests that need a short limit pass their own.
LIMITS = DocumentLimits(parser_memory_mb=384, parser_time_s=20)


@pytest.fixture(scope="module")
def limits() -> DocumentLimits:
    return LIMITS


@pytest.fixture(scope="module")
def pool(limits: DocumentLimits) -> Iterator[ParserPool]:
    with ParserPool(limits) as started:
        yield started
