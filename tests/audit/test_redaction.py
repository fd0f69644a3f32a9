"""Personal data and secrets are masked before rendering, so the chain hashes only the redacted line."""

import json

import pytest

from connectors.audit import MASK, AuditTrail, redact, redact_text
from connectors.audit_verify import verify


@pytest.mark.parametrize(("text", "secret", "mask"), [
    ("NI number JT 12 34 56 C on the form", "JT 12 34 56 C", "[NI number]"),
    ("ni=AB123456D", "AB123456D", "[NI number]"),
    ("born 07/03/1958", "07/03/1958", "[date]"),
    ("born 7.3.58", "7.3.58", "[date]"),
    ("dob 1958-03-07", "1958-03-07", "[date]"),
    ("born on 7th March 1958", "7th March 1958", "[date]"),
    ("born 07 Mar 1958", "07 Mar 1958", "[date]"),
    ("write to ann.o'neill+badge@example.org today", "example.org", "[email]"),
    ("call 01632 960123", "01632 960123", "[phone]"),
    ("mobile 07700-900-123", "07700-900-123", "[phone]"),
    ("call +44 (0)1632 960123", "1632 960123", "[phone]"),
    ("call +447700900123", "7700900123", "[phone]"),
    ("header Authorization: Bearer abc.DEF-123_xyz~42", "abc.DEF-123_xyz~42", "Bearer ***"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjbGVyayJ9.c2lnbmF0dXJlLXZhbHVl in a message",
     "eyJzdWIiOiJjbGVyayJ9", "[token]"),
    ("login failed: password=hunter2 for clerk-bot", "hunter2", "password=***"),
    ("retry with PASSWORD: 'correct horse'", "correct horse", "PASSWORD:***"),
    ("GET /cases?access_token=s3cr3t&page=2", "s3cr3t", "access_token=***&page=2"),
    ("client_secret = abcdef123456", "abcdef123456", "client_secret=***"),
])
def test_redact_text_masks_personal_data_and_secrets(text, secret, mask):
    masked = redact_text(text)
    assert secret not in masked
    assert mask in masked


def test_identifiers_and_ordinary_words_are_left_alone():
    for text in ("acknowledgement", "BB-2026-000001", "CLK-0a1b2c3d4e", "Leeds LS1 4AB", "attempt 3 of 5"):
        assert redact_text(text) == text


def test_keys_decide_too():
    event = redact(None, "info", {
        "password": "hunter2", "api_key": 12345, "Cookie": "session=1", "session_id": "abc",
        "signing_key": "9f86d081884c7d659a2feaa0c55ad015", "hmac": "c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
        "key_count": 3, "keyed_as": "BB-2026-000001",
        "sender": "priya.shah@council.example.gov.uk", "reference": "CLK-1",
        "details": {"applicant": {"email": "ann@example.org", "token": "t"}, "notes": ["born 01/02/1950"]},
    })
    assert {event[key] for key in ("password", "api_key", "Cookie", "session_id", "signing_key", "hmac")} == {MASK}
    assert (event["key_count"], event["keyed_as"]) == (3, "BB-2026-000001")
    assert (event["sender"], event["reference"]) == ("priya.shah@council.example.gov.uk", "CLK-1")
    assert event["details"] == {"applicant": {"email": "[email]", "token": MASK}, "notes": ["born [date]"]}


def test_the_trail_holds_and_hashes_only_redacted_lines(tmp_path):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path)
    trail.bind(run="r", reference="CLK-1").__call__(
        "error", "business", message="NI JT 12 34 56 C, born 07/03/1958, ann@example.org, 01632 960123",
        detail="sent Bearer abcdefgh12345678 with password=hunter2", api_key="k-123")
    trail.close()
    text = path.read_text()
    for secret in ("JT 12 34 56 C", "07/03/1958", "ann@example.org", "01632 960123", "abcdefgh12345678", "hunter2",
                   "k-123"):
        assert secret not in text
    assert json.loads(text)["message"] == "NI [NI number], born [date], [email], [phone]"
    assert verify(path).ok
