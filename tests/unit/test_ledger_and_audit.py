import json

from connectors.audit import AuditTrail
from connectors.ledger import clerk_reference


def test_reference_is_stable_for_a_message_id_and_differs_between_ids():
    assert clerk_reference("<abc@council>") == clerk_reference(" abc@council ")
    assert clerk_reference("<abc@council>") != clerk_reference("<abd@council>")
    assert clerk_reference("<abc@council>").startswith("CLK-") and len(clerk_reference("x")) == 14


def test_audit_masks_personal_data_and_secrets_and_keeps_order(tmp_path):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path)
    item = trail.bind(run="r1", reference="CLK-A", process="blue_badge")
    item("parse", "ok", detail="NI JT 12 34 56 C, born 07/03/1958, ann@example.org, 01632 960123",
         password="hunter2", sender="priya.shah@council.example.gov.uk")
    item("key", "created", case_reference="BB-2026-000001")
    trail.close()
    AuditTrail(path).record("later", "ok")  # a new writer carries the sequence on
    text = path.read_text()
    for secret in ("JT 12 34 56 C", "07/03/1958", "ann@example.org", "01632 960123", "hunter2"):
        assert secret not in text
    events = [json.loads(line) for line in text.splitlines()]
    assert [event["seq"] for event in events] == [1, 2, 3]
    assert events[0]["sender"] == "priya.shah@council.example.gov.uk"
    assert events[1] | {"step": "key", "outcome": "created", "reference": "CLK-A"} == events[1]


def test_prefect_and_root_log_handlers_mask_messages_and_tracebacks():
    import io
    import logging

    from connectors.logs import RedactingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("clerk.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("Casebook refused NI number QQ 12 34 56 C for jo@example.org")
        except ValueError:
            logger.exception("keying %s failed, date of birth %s", "CLK-AAAAAAAAAA", "03/04/1951")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "CLK-AAAAAAAAAA" in written and "ValueError" in written
    for planted in ("QQ 12 34 56 C", "jo@example.org", "03/04/1951"):
        assert planted not in written
