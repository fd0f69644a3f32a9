"""Writes audit trails for the report tests through the real AuditTrail, with the events the flows write.

Each method mirrors a path through flows/intake.py, flows/blue_badge.py and flows/steps.py, at the times a test
chooses. ``close()`` writes every email's events in time order through an AuditTrail whose clock reads those
times, so a batch spans weekends and bank holidays (and the trail rotates daily) without waiting for them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.audit import AuditTrail
from connectors.ledger import clerk_reference

UK = ZoneInfo("Europe/London")
STAFF = "a.officer@council.example.gov.uk"


def uk(text: str) -> datetime:
    """A UK wall-clock time, ``"2025-05-23 16:00"``."""
    return datetime.fromisoformat(text).replace(tzinfo=UK)


class Trail:
    """``folder`` holds the trail file; or ``where`` is a store (a trail in PostgreSQL)."""

    def __init__(self, folder: Path | None = None, *, where=None) -> None:
        self.path = where if where is not None else folder / "audit.jsonl"
        self._pending: list[tuple[datetime, str, str, dict]] = []

    def record(self, when: datetime, step: str, outcome: str, **fields) -> None:
        self._pending.append((when, step, outcome, fields))

    def email(self, name: str, received: str, process: str | None = "blue_badge") -> Email:
        return Email(self, name, uk(received), process)

    def close(self) -> None:
        now = [datetime(2000, 1, 1, tzinfo=UTC)]
        trail = AuditTrail(self.path, clock=lambda: now[0])
        for when, step, outcome, fields in sorted(self._pending, key=lambda event: event[0]):
            now[0] = when.astimezone(UTC)
            trail.record(step, outcome, **fields)
        trail.close()


class Email:
    """One email's events. ``answer`` is when the reply goes: a time after arrival, or a UK wall-clock time."""

    def __init__(self, trail: Trail, name: str, received: datetime, process: str | None) -> None:
        self.trail, self.received, self.clock = trail, received, received
        self.reference = clerk_reference(f"<{name}@mail.council.example.gov.uk>")
        self.context = {"run": "run-1", "reference": self.reference, "email_id": f"{name}.eml"}
        self.process = process

    def moment(self, answer: timedelta | str) -> datetime:
        return self.received + answer if isinstance(answer, timedelta) else uk(answer)

    def _event(self, when: datetime, step: str, outcome: str, routed: bool = True, **fields) -> None:
        assert when >= self.clock, f"{step} at {when} would go back in time"
        self.clock = when
        process = {"process": self.process} if routed and self.process else {}
        self.trail.record(when, step, outcome, **self.context, **process, **fields)

    def _then(self, step: str, outcome: str, **fields) -> None:
        self._event(self.clock + timedelta(milliseconds=200), step, outcome, **fields)

    def claim(self, at: datetime | None = None, run: str = "run-1") -> Email:
        self.context["run"] = run
        self._event(at or self.received + timedelta(seconds=2), "claim", "ok", routed=False, sender=STAFF,
                    received=self.received.isoformat())
        return self

    def arrive(self) -> Email:
        self.claim()
        self._then("reply", "sent", kind="acknowledgement")
        return self

    def redeliver(self, at: str, run: str) -> Email:
        """The same email claimed again (a repeat delivery, or a supervisor's retry from Exceptions)."""
        self.claim(uk(at), run)
        self._then("duplicate_delivery", "seen_before", attempts=2, previous_state="done")
        return self

    def start_keying(self) -> Email:
        self._then("parse", "ok", attachment_count=1)
        self._then("key", "started")
        return self

    def key(self, answer: timedelta | str, outcome: str = "created") -> Email:
        """Parse, key, reply at ``answer`` with the case reference, and finish in Done."""
        case = f"BB-2025-{self.reference[-6:]}"
        replied = self.moment(answer)
        self._event(replied - timedelta(seconds=3), "parse", "ok", attachment_count=1)
        self._then("key", "started")
        self._then("key", outcome, case_reference=case)
        self._event(replied, "reply", "sent", kind=outcome)
        self._then("finish", outcome, folder="done", code=None, case_reference=case)
        return self

    def refuse(self, answer: timedelta | str, code: str, reply: str = "sent") -> Email:
        replied = self.moment(answer)
        self._event(replied - timedelta(seconds=1), "error", "business", code=code, message="The form is wrong.",
                    reasons=["Please fill in box 3."])
        extra = {"code": "EXTERNAL_SENDER"} if reply == "suppressed" else {}
        self._event(replied, "reply", reply, kind="rejection", **extra)
        self._then("finish", "rejected", folder="exceptions", code=code)
        return self

    def fail(self, answer: timedelta | str, code: str, reply: str = "sent") -> Email:
        replied = self.moment(answer)
        self._event(replied - timedelta(seconds=1), "error", "system", code=code, message="Casebook: System busy")
        if reply == "failed":  # park() records a reply it could not send without its kind
            self._event(replied, "reply", "failed", code="MAILBOX_UNAVAILABLE")
        else:
            self._event(replied, "reply", "sent", kind="delay")
        self._then("finish", "system_error", folder="exceptions", code=code)
        return self

    def review(self, at: timedelta | str, outcome: str, actor: str = "clerk-bot") -> Email:
        self._event(self.moment(at), "review", outcome, actor=actor)
        return self
