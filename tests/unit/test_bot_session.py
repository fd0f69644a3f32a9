"""BotSession.run's boundary: what it does with a failure, before any browser is involved."""

from __future__ import annotations

import pytest

from bots.session import BotSession, SystemBusy
from connectors.errors import ApplicationUnavailable, BusinessError


class _Session(BotSession):
    """A session whose login and screenshots only count: the boundary's own logic, no browser."""

    title = "Ledgerbook"

    def __init__(self) -> None:
        super().__init__(runtime=None, busy_retries=1)
        self.pictures = 0

    def ensure_session(self) -> None:
        if not self.logged_in:
            self.logged_in, self.logins = True, self.logins + 1

    def failed(self, operation: str):
        self.pictures += 1
        self.logged_in = False
        return None


def test_a_business_answer_passes_through_without_a_screenshot_or_a_new_login():
    session = _Session()
    refusal = BusinessError("no such account", code="ACCOUNT_NOT_FOUND")

    def work():
        raise refusal

    with pytest.raises(BusinessError) as raised:
        session.run("moving", "CLK-1", work)
    assert raised.value is refusal
    assert session.pictures == 0 and session.logged_in
    assert session.run("reading", "CLK-2", lambda: "read") == "read"
    assert session.logins == 1


def test_a_system_fault_keeps_a_screenshot_and_logs_in_afresh():
    session = _Session()

    def work():
        raise SystemBusy("saving")

    with pytest.raises(ApplicationUnavailable, match="Ledgerbook kept answering 'busy', last while saving"):
        session.run("saving", "CLK-3", work)
    assert session.pictures == 1 and not session.logged_in
