"""Fixtures shared by every test suite.

* ``browser_runtime`` (session): one real Chromium for the whole run (found by ``find_browser``;
  the run fails, never skips, when there is none). Failure screenshots go to a temporary folder.
* ``casebook`` (function): a fresh Casebook sandbox on a free loopback port with its own SQLite file;
  popup on, a 300 ms postcode lookup, no latency, no errors. Change ``casebook.config`` in a test.
* ``revenues`` / ``finance`` (function): a fresh Revenues / Finance sandbox on a free loopback port with its
  own SQLite file, filled with the seeded records (``sandbox/revenues/fixtures.py``,
  ``sandbox/finance/fixtures.py``); no latency, no errors, no batch window, no grid delay.
* ``casebook_bot`` (function): a CasebookBot on that sandbox, sharing the browser; closed afterwards.
* ``make_application`` (function): builds valid ``BlueBadgeApplication``s through
  ``validate_application``, a different applicant on every call; keyword arguments override fields.
* ``prefect_api`` (session, from ``tests/flow_harness.py``): one local Prefect server for the run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from bots.casebook import CasebookBot, CasebookBotSettings
from bots.runtime import BrowserRuntime, BrowserSettings, find_browser
from connectors.documents.blue_badge import BlueBadgeApplication, validate_application
from connectors.errors import ConfigError
from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.finance import FinanceConfig, FinanceServer
from sandbox.revenues import RevenuesConfig, RevenuesServer

pytest_plugins = ["tests.flow_harness"]

CASEBOOK_USER = "clerk-bot"
CASEBOOK_PASSWORD = "casebook"

_SURNAMES = ("Okafor", "Smith", "Nowak", "Patel", "Hughes", "MacLeod", "Begum", "O'Brien", "Kowalski", "Evans")
_FIRST_NAMES = ("Grace", "Arthur", "Zofia", "Ravi", "Megan", "Callum", "Amina", "Sean", "Piotr", "Rhys")
_applicant_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def browser_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserRuntime]:
    try:
        executable = find_browser()
    except ConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    settings = BrowserSettings(
        executable=executable,
        action_timeout_ms=5_000,
        navigation_timeout_ms=8_000,
        screenshots_dir=tmp_path_factory.mktemp("screenshots"),
    )
    with BrowserRuntime(settings) as runtime:
        yield runtime


@pytest.fixture
def casebook(tmp_path) -> Iterator[CasebookServer]:
    config = CasebookConfig(popup=True, postcode_delay_ms=300, seed=20070101)
    with CasebookServer(tmp_path / "casebook.db", config) as server:
        yield server


@pytest.fixture
def revenues(tmp_path) -> Iterator[RevenuesServer]:
    with RevenuesServer(tmp_path / "revenues.db", RevenuesConfig(seed=20010401)) as server:
        yield server


@pytest.fixture
def finance(tmp_path) -> Iterator[FinanceServer]:
    with FinanceServer(tmp_path / "finance.db", FinanceConfig(grid_delay_ms=0, seed=20120401)) as server:
        yield server


@pytest.fixture
def casebook_bot(browser_runtime: BrowserRuntime, casebook: CasebookServer) -> Iterator[CasebookBot]:
    settings = CasebookBotSettings(url=casebook.url, username=CASEBOOK_USER, password=CASEBOOK_PASSWORD)
    bot = CasebookBot(browser_runtime, settings)
    yield bot
    bot.close()


def application_fields(number: int) -> dict[str, object]:
    """The raw form fields of applicant ``number`` (distinct name, date of birth and NI number)."""
    return {
        "title": ("Ms", "Mr", "Mrs", "Dr", "Mx")[number % 5],
        "first_names": _FIRST_NAMES[number % len(_FIRST_NAMES)],
        "surname": f"{_SURNAMES[number % len(_SURNAMES)]}-{number}",
        "date_of_birth": f"{1 + number % 28:02d}/{1 + number % 12:02d}/{1940 + number % 60}",
        "ni_number": f"JT {number:06d} C",
        "address_line_1": f"{number} Albion Street",
        "address_line_2": "Flat 2" if number % 2 else "",
        "town": "Leeds",
        "postcode": "LS1 4AB",
        "phone": "01632 960123",
        "email": f"applicant{number}@example.org",
        "eligibility": "PIP - moving around",
        "badge_type": "New",
        "declaration": "yes",
    }


@pytest.fixture
def make_application() -> Callable[..., BlueBadgeApplication]:
    def make(**overrides: object) -> BlueBadgeApplication:
        fields = application_fields(next(_applicant_numbers))
        fields.update(overrides)
        return validate_application(fields)

    return make
