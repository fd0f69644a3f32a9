"""The audit suites' PostgreSQL trail: a fresh schema of the test database (the ledger suites' fixtures), dropped
after each test. PostgreSQL down fails these tests, never skips them (tests/ledger/conftest.py)."""

from __future__ import annotations

import pytest

from tests.audit.pg import PgTrail
from tests.ledger.conftest import pg_schema, postgres_url  # noqa: F401 - fixtures, shared with the ledger suites


@pytest.fixture
def pg(postgres_url: str, pg_schema: str) -> PgTrail:  # noqa: F811 - the fixtures imported above
    return PgTrail(postgres_url, pg_schema)
