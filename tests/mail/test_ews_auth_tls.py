"""Signing in (NTLM, Basic, OAuth2 client credentials), trusting the server's certificate, and keeping
passwords and mail out of logs and error messages."""

from __future__ import annotations

import base64
import logging
from email.message import EmailMessage

import pytest

from connectors.errors import MailboxUnavailable
from connectors.mail.ews import EwsOAuth
from tests.ews_server import TOKEN_PATH
from tests.loopback_tls import make_certificates
from tests.mail.backends.ews import PASSWORD, USER, ews_mailbox, ews_server

CLIENT_ID = "9f1c-clerk-app"
CLIENT_SECRET = "app-Secret-Value-42"
PRIVATE = "Applicant's medical evidence: private"


def message(subject: str = "Blue Badge") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "priya.shah@council.example.gov.uk"
    msg["To"] = "bluebadge@council.example.gov.uk"
    msg["Subject"] = subject
    msg.set_content(PRIVATE)
    return msg


def auth_headers(server) -> set[str]:
    return {r.headers.get("Authorization", "").split(" ")[0] for r in server.requests if r.operation}


def test_ntlm_over_tls_with_a_channel_binding(tmp_path):
    with ews_server(tmp_path, auth=("NTLM",)) as server:
        mailbox = ews_mailbox(server)
        server.deliver(message())
        assert [email.subject for email in mailbox.list_new()] == ["Blue Badge"]
        mailbox.close()
    assert server.auth.channel_bindings is not None, "the acceptor checked the client's tls-server-end-point"
    assert {"NTLM"} <= auth_headers(server) and "Basic" not in auth_headers(server)
    assert {r.user for r in server.requests if r.status == 200} == {USER}


def test_ntlm_with_a_user_principal_name(tmp_path):
    upn = "svc-clerk@council.example.gov.uk"
    with ews_server(tmp_path, auth=("NTLM",), users={upn: PASSWORD}) as server:
        mailbox = ews_mailbox(server, username=upn)
        assert mailbox.list_new() == []
        mailbox.close()
    assert {r.user for r in server.requests if r.status == 200} == {upn}


@pytest.mark.parametrize("auth_type, scheme", [("NTLM", "NTLM"), ("basic", "Basic")])
def test_a_wrong_password_is_a_clear_error_naming_the_account(tmp_path, auth_type, scheme):
    with ews_server(tmp_path, auth=(scheme,)) as server:
        mailbox = ews_mailbox(server, auth_type=auth_type, password="not-the-password")
        with pytest.raises(MailboxUnavailable) as raised:
            mailbox.list_new()
        mailbox.close()
    text = raised.value.message
    assert USER in text and "sign-in" in text and auth_type in text
    assert "not-the-password" not in str(raised.value)
    assert all(r.status == 401 for r in server.requests), "nothing was served to a wrong password"


def test_basic_auth_sends_the_account_on_every_request(tmp_path):
    with ews_server(tmp_path, auth=("Basic",)) as server:
        mailbox = ews_mailbox(server, auth_type="basic")
        server.deliver(message())
        mailbox.claim(mailbox.list_new()[0])
        mailbox.close()
    served = [r for r in server.requests if r.status == 200]
    assert served and all(r.headers["Authorization"].startswith("Basic ") for r in served)
    credentials = base64.b64decode(served[0].headers["Authorization"][6:]).decode()
    assert credentials == f"{USER}:{PASSWORD}"


def test_a_client_that_offers_a_scheme_the_server_refuses_cannot_sign_in(tmp_path):
    with ews_server(tmp_path, auth=("NTLM",)) as server:
        mailbox = ews_mailbox(server, auth_type="basic")
        with pytest.raises(MailboxUnavailable, match="refused the sign-in"):
            mailbox.list_new()
        mailbox.close()


def oauth_server(tmp_path):
    return ews_server(tmp_path, auth=("Bearer",), oauth_clients={CLIENT_ID: CLIENT_SECRET})


def test_oauth2_client_credentials_from_a_configurable_token_endpoint(tmp_path):
    with oauth_server(tmp_path) as server:
        oauth = EwsOAuth(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_url=server.token_url)
        mailbox = ews_mailbox(server, auth_type="OAuth2", oauth=oauth, username="", password="")
        server.deliver(message())
        mailbox.claim(mailbox.list_new()[0])
        mailbox.close()
    tokens = [r for r in server.requests if r.path == TOKEN_PATH]
    assert len(tokens) == 1 and tokens[0].status == 200 and tokens[0].user == CLIENT_ID
    served = [r for r in server.requests if r.operation]
    assert served and all(r.headers["Authorization"].startswith("Bearer ") for r in served)
    assert all(f"<t:PrimarySmtpAddress>{server.mailbox}</t:PrimarySmtpAddress>" in r.body for r in served), (
        "an app-only token opens the mailbox by impersonation")
    assert CLIENT_SECRET not in repr(oauth)


def test_oauth2_with_a_wrong_secret_names_the_client(tmp_path):
    with oauth_server(tmp_path) as server:
        oauth = EwsOAuth(client_id=CLIENT_ID, client_secret="wrong", token_url=server.token_url)
        mailbox = ews_mailbox(server, auth_type="OAuth2", oauth=oauth)
        with pytest.raises(MailboxUnavailable) as raised:
            mailbox.list_new()
        mailbox.close()
    assert CLIENT_ID in raised.value.message and "wrong" not in raised.value.message.replace("wrong_", "")
    assert not [r for r in server.requests if r.operation and r.status == 200]


def test_the_microsoft_token_endpoint_is_the_default_for_a_tenant():
    assert EwsOAuth(client_id="c", client_secret="s", tenant_id="t-1").endpoint == (
        "https://login.microsoftonline.com/t-1/oauth2/v2.0/token")


def test_a_server_certificate_from_an_unknown_ca_is_refused(tmp_path):
    other_ca = make_certificates(tmp_path / "other").ca_file
    with ews_server(tmp_path) as server:
        for ca_file in (None, str(other_ca)):
            mailbox = ews_mailbox(server, ca_file=ca_file)
            with pytest.raises(MailboxUnavailable, match="not trusted"):
                mailbox.list_new()
            mailbox.close()
        assert not [r for r in server.requests if r.operation], "no request got past the TLS handshake"


def test_ca_file_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(make_certificates(tmp_path / "other").ca_file))
    with ews_server(tmp_path) as server:
        mailbox = ews_mailbox(server)
        assert mailbox.list_new() == []
        mailbox.close()


def test_no_password_secret_or_mail_content_reaches_the_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with oauth_server(tmp_path) as server:
        server.deliver(message("Blue Badge logged"))
        oauth = EwsOAuth(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_url=server.token_url)
        mailbox = ews_mailbox(server, auth_type="OAuth2", oauth=oauth)
        claimed = mailbox.claim(mailbox.list_new()[0])
        mailbox.reply(claimed, "Re: Blue Badge", PRIVATE)
        server.stop()
        with pytest.raises(MailboxUnavailable) as raised:
            mailbox.list_new()
        mailbox.close()
    with ews_server(tmp_path / "ntlm") as server:
        mailbox = ews_mailbox(server, password="Wrong-" + PASSWORD)
        with pytest.raises(MailboxUnavailable):
            mailbox.list_new()
        mailbox.close()
    logged = caplog.text + str(raised.value)
    for secret in (PASSWORD, CLIENT_SECRET, PRIVATE, "<s:Envelope", "Authorization"):
        assert secret not in logged
