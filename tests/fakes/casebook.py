"""An in-memory stand-in for Casebook behind Clerk's CaseSystem port, for fast flow tests."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from connectors.errors import ApplicationUnavailable


@dataclass(frozen=True)
class FakeKeyingResult:
    case_reference: str
    outcome: str
    differences: tuple[str, ...] = ()

    @property
    def record_reference(self) -> str:
        return self.case_reference


_COMPARED = ("ni_number", "postcode", "email")


@dataclass
class FakeCasebook:
    cases: dict[str, dict] = field(default_factory=dict)
    busy_for: int = 0
    """Answer "System busy" to this many calls before working."""
    broken: Exception | None = None
    """Raise this on every call (a fault no retry cures)."""
    calls: int = 0
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def key(self, application, clerk_ref: str) -> FakeKeyingResult:
        with self._lock:  # lanes share one fake; the real Casebook serialises writes too
            return self._key(application, clerk_ref)

    key_application = key

    def _key(self, application, clerk_ref: str) -> FakeKeyingResult:
        self.calls += 1
        if self.broken is not None:
            raise self.broken
        if self.busy_for > 0:
            self.busy_for -= 1
            raise ApplicationUnavailable("Casebook answered 'System busy, please try again'")
        for case_reference, case in self.cases.items():
            if case["clerk_ref"] == clerk_ref:
                return FakeKeyingResult(case_reference, "already_keyed")
        for case_reference, case in self.cases.items():
            if (case["surname"], case["date_of_birth"]) == (application.surname, application.date_of_birth):
                differs = tuple(name for name in _COMPARED if case[name] != getattr(application, name))
                return FakeKeyingResult(case_reference, "existing_application", differs)
        case_reference = f"BB-2026-{len(self.cases) + 1:06d}"
        self.cases[case_reference] = {"clerk_ref": clerk_ref, "surname": application.surname,
                                      "date_of_birth": application.date_of_birth,
                                      **{name: getattr(application, name) for name in _COMPARED}}
        return FakeKeyingResult(case_reference, "created")

    def close(self) -> None:
        self.closed = True


class FileCasebook(FakeCasebook):
    """The in-memory fake, kept in a JSON file so a second process (a worker restarted after a crash)
    sees the cases the first one created."""

    def __init__(self, path) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            stored = json.loads(self.path.read_text())
            self.cases = {ref: {**case, "date_of_birth": date.fromisoformat(case["date_of_birth"])}
                          for ref, case in stored.items()}

    def _key(self, application, clerk_ref: str) -> FakeKeyingResult:
        result = super()._key(application, clerk_ref)
        if result.outcome == "created":
            self.save()
        return result

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.cases, default=str))
        os.replace(tmp, self.path)
