"""A morning's supplier-invoice mail through the whole path: local mailbox, the intake, Prefect, real Chromium,
the Finance sandbox, and a supervisor deciding the invoices Finance held on its three-way match."""

from __future__ import annotations

import contextvars
import threading
import time
from collections import Counter

import pytest

from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from flows.review import answer_review, waiting_reviews
from sandbox.finance import FinanceConfig, FinanceServer
from sandbox.invoice_mail import invoice_mail
from tests.flow_harness import audit_events, sent_replies, settings_in

pytestmark = [pytest.mark.browser, pytest.mark.prefect]
PASSWORD = "pw-invoices"
SUPERVISOR = "Ada Supervisor"
NOT_DELIVERED = "PO100006"
"""The held invoice the supervisor rejects (the leaflets have not been delivered); the others are approved."""

REPLY_SUBJECT = {  # config/processes/supplier_invoice.yaml, and flows/replies.py for a rejection
    "created": "Invoice keyed: PI-",
    "duplicate_invoice": "Duplicate invoice, not keyed: PI-",
    "on_hold": "Invoice keyed, on hold: PI-",
    "rejected": "Action needed",
}


def supervise(runner: threading.Thread, held: dict[str, str], decided: list[str]) -> None:
    """Answer each held item as it comes up (one at a time, after the rest of the batch): reject the
    invoice for NOT_DELIVERED, approve the others."""
    deadline = time.monotonic() + 600
    while runner.is_alive() and time.monotonic() < deadline and len(decided) < len(held):
        for waiting in waiting_reviews():
            if waiting.reference not in held or waiting.reference in decided:
                continue
            assert "On hold: match failure" in waiting.question and "£" not in waiting.question, waiting.question
            if held[waiting.reference] == NOT_DELIVERED:
                answer_review(waiting.reference, {"reviewer": SUPERVISOR, "decision": "reject",
                                                  "reason": "Nothing has been delivered on this order yet: "
                                                            "please return the invoice to the supplier."})
            else:
                answer_review(waiting.reference, {"reviewer": SUPERVISOR, "decision": "approve"})
            decided.append(waiting.reference)
        time.sleep(0.2)


def test_invoice_mail_is_keyed_once_each_held_invoice_waits_for_a_supervisor_and_every_email_ends(
        tmp_path, prefect_api, monkeypatch):
    batch = invoice_mail(seed=5)
    monkeypatch.setenv("CLERK_FINANCE_PASSWORD", PASSWORD)
    config = FinanceConfig(grid_delay_ms=150, error_rate=0.05, seed=7)
    with FinanceServer(tmp_path / "finance.db", config, users={"clerk-bot": PASSWORD}) as finance:
        settings = settings_in(tmp_path)
        settings.applications["finance"] = settings.applications["finance"].model_copy(
            update={"url": finance.url, "retry_delay_s": 0, "retries": 4})
        settings.review = settings.review.model_copy(update={"timeout_s": 600, "poll_interval_s": 0.5})
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        for message in batch.messages:
            mailbox.deliver(message)
        held = {clerk_reference(message["Message-ID"]): _order_of(message)
                for message, expected in zip(batch.messages, batch.expected, strict=True) if expected == "on_hold"}
        outcome: dict = {}
        services = bootstrap(settings, mailbox=mailbox)

        def run() -> None:
            with use_services(services):
                outcome["results"] = intake()

        runner = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
        runner.start()
        decided: list[str] = []
        supervise(runner, held, decided)
        runner.join(timeout=600)
        invoices = finance.invoices()

    results = outcome["results"]
    expected = [("rejected" if held.get(clerk_reference(m["Message-ID"])) == NOT_DELIVERED else e)
                for m, e in zip(batch.messages, batch.expected, strict=True)]
    outcomes = Counter("sender_not_allowed" if (r.code or "").startswith("SENDER_") else r.outcome for r in results)
    assert sorted(decided) == sorted(held), "every held invoice waited for the supervisor"
    assert outcomes == Counter(expected)
    codes = Counter(r.code for r in results if r.outcome == "rejected" and not (r.code or "").startswith("SENDER_"))
    assert codes == Counter({"FORM_INVALID": 1, "PO_REFUSED": 1, "SUPPLIER_UNKNOWN": 1, "REVIEW_REJECTED": 1})

    entered = [i for i in invoices if i["entered_by"] == "clerk-bot"]
    assert Counter(i["status"] for i in entered) == Counter({"Approved": 5, "On hold: match failure": 3})
    assert len({(i["supplier_id"], i["invoice_number"]) for i in invoices}) == len(invoices), "no duplicates"
    by_reference = {r.reference: r for r in results}
    for invoice in entered:
        result = by_reference[invoice["notes"].removeprefix("Clerk ref: ")]
        if result.code == "REVIEW_REJECTED":  # rejected by the supervisor: it stays on hold in Finance
            assert invoice["po_number"] == NOT_DELIVERED and invoice["status"] == "On hold: match failure"
        else:
            assert result.case_reference == invoice["ref"]
    duplicates = sorted(r.case_reference for r in results if r.outcome == "duplicate_invoice")
    assert duplicates[:2] == ["PI-000001", "PI-000004"] and duplicates[2].startswith("PI-0000")

    assert mailbox.folder("inbox") == [] and mailbox.folder("processing") == []
    assert len(mailbox.folder("done")) + len(mailbox.folder("exceptions")) == len(batch.messages)
    threads: dict[str, list[str]] = {}
    for reply in sent_replies(mailbox):
        threads.setdefault(reply.in_reply_to, []).append(reply.subject)
        if reply.subject.startswith("Action needed") and "delivered" in reply.body:
            assert "Nothing new has been keyed: PI-" in reply.body, "the held invoice stays in Finance"
    for message, outcome_expected in zip(batch.messages, expected, strict=True):
        subjects = threads.get(str(message["Message-ID"]), [])
        if outcome_expected == "sender_not_allowed":
            assert subjects == [], "a supplier writing in directly gets no reply"
        elif outcome_expected != "duplicate_delivery":
            assert any(s.startswith(REPLY_SUBJECT[outcome_expected]) for s in subjects), (outcome_expected, subjects)
    steps = [(e["step"], e["outcome"]) for e in audit_events(settings.audit.path)]
    assert steps.count(("review", "approved")) == 2 and steps.count(("review", "rejected")) == 1



def _order_of(message) -> str:
    """The purchase order of a held invoice in the batch: Northern Print's is the undelivered leaflets'
    (sandbox.ledger_invoices.FAILING); the other two are Dales Grounds' orders."""
    return NOT_DELIVERED if "Northern Print" in str(message["Subject"]) else "PO10000x"


def test_finance_busy_throughout_is_a_system_fault_the_sender_is_told_of_and_nothing_is_keyed(
        tmp_path, prefect_api, monkeypatch):
    batch = invoice_mail(seed=6)
    message = batch.messages[batch.expected.index("created")]
    monkeypatch.setenv("CLERK_FINANCE_PASSWORD", PASSWORD)
    with FinanceServer(tmp_path / "finance.db", FinanceConfig(grid_delay_ms=0, error_rate=1.0, seed=1),
                       users={"clerk-bot": PASSWORD}) as finance:
        settings = settings_in(tmp_path)
        settings.applications["finance"] = settings.applications["finance"].model_copy(
            update={"url": finance.url, "retry_delay_s": 0, "retries": 1})
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        mailbox.deliver(message)
        with use_services(bootstrap(settings, mailbox=mailbox)):
            [result] = intake()
        invoices = finance.invoices()

    assert (result.outcome, result.code, result.folder) == ("system_error", "APP_UNAVAILABLE", "exceptions")
    assert [i for i in invoices if i["entered_by"] == "clerk-bot"] == []
    subjects = [reply.subject for reply in sent_replies(mailbox) if reply.in_reply_to == message["Message-ID"]]
    assert [s.split(":")[0] for s in subjects] == ["Received", "Delayed"]
