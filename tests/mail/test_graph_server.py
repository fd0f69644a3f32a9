"""The loopback Graph server answers like Graph where Clerk depends on it, and refuses what it does not do.

These tests talk to it with plain httpx (no msal, no adapter), so a server bug cannot hide behind an
adapter bug that cancels it out.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest

from tests.graph_server import GraphServer

STAFF = "priya.shah@council.example.gov.uk"


def email(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = STAFF
    message["To"] = "bluebadge@council.example.gov.uk"
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@council.example.gov.uk>"
    message.set_content(f"Body of {subject}")
    return message


@pytest.fixture
def server(tmp_path) -> Iterator[GraphServer]:
    with GraphServer(tmp_path) as running:
        yield running


@pytest.fixture
def http(server) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca_file), timeout=5) as client:
        yield client


def token(server: GraphServer, http: httpx.Client, secret: str | None = None) -> httpx.Response:
    return http.post(server.token_url, data={
        "grant_type": "client_credentials", "client_id": server.client_id,
        "client_secret": secret or server.client_secret, "scope": "https://graph.microsoft.com/.default"})


@pytest.fixture
def graph(server, http) -> httpx.Client:
    """The client with a valid bearer token, based at ``/users/{mailbox}``."""
    http.headers["Authorization"] = f"Bearer {token(server, http).json()['access_token']}"
    http.base_url = f"{server.graph_url}/users/{server.mailbox}"
    return http


def test_the_tenant_publishes_its_token_endpoint_and_refuses_a_wrong_secret(server, http):
    config = http.get(f"{server.authority}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == server.token_url
    refused = token(server, http, secret="not-the-secret")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "not-the-secret" not in refused.text
    assert token(server, http).json()["token_type"] == "Bearer"


def test_graph_wants_a_current_bearer_token_on_every_call(server, http):
    url = f"{server.graph_url}/users/{server.mailbox}/mailFolders"
    assert http.get(url).status_code == 401
    good = {"Authorization": f"Bearer {token(server, http).json()['access_token']}"}
    assert http.get(url, headers=good).status_code == 200
    server.expire_tokens()
    expired = http.get(url, headers=good)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_unknown_endpoints_and_queries_are_refused_in_graphs_error_shape(graph):
    unknown = graph.get("/calendar/events")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "BadRequest"
    too_complex = graph.get("/mailFolders/inbox/messages",
                            params={"$filter": "isRead eq false", "$orderby": "receivedDateTime asc"})
    assert too_complex.json()["error"]["code"] == "InefficientFilter"
    no_such_field = graph.get("/mailFolders/inbox/messages", params={"$select": "id,colour"})
    assert no_such_field.status_code == 400


def test_a_moved_message_has_a_new_id_and_the_old_one_is_gone(server, graph):
    old = server.deliver(email("Blue Badge 1"))
    folder = graph.post("/mailFolders", json={"displayName": "Processing"}).json()
    moved = graph.post(f"/messages/{old}/move", json={"destinationId": folder["id"]})
    assert moved.status_code == 201 and moved.json()["id"] != old
    again = graph.post(f"/messages/{old}/move", json={"destinationId": folder["id"]})
    assert again.status_code == 404 and again.json()["error"]["code"] == "ErrorItemNotFound"
    assert graph.post("/mailFolders", json={"displayName": "processing"}).json()["error"]["code"] == "ErrorFolderExists"
    assert server.folder_subjects("Processing") == ["Blue Badge 1"]


def test_lists_page_with_next_links_and_keep_internet_headers_only_when_selected(server, graph):
    for n in range(5):
        server.deliver(email(f"Blue Badge {n}"))
    params = {"$filter": "receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false",
              "$orderby": "receivedDateTime asc", "$top": "2"}
    subjects, url, query = [], "/mailFolders/inbox/messages", params
    while url:
        page = graph.get(url, params=query).json()
        subjects += [item["subject"] for item in page["value"]]
        assert "internetMessageHeaders" not in page["value"][0]
        url, query = page.get("@odata.nextLink"), None
    assert subjects == [f"Blue Badge {n}" for n in range(5)]
    selected = graph.get("/mailFolders/inbox/messages", params={"$select": "internetMessageHeaders", "$top": "1"})
    headers = {h["name"]: h["value"] for h in selected.json()["value"][0]["internetMessageHeaders"]}
    assert headers["From"] == STAFF


def test_delta_reports_arrivals_and_removals_and_a_forgotten_token_is_gone(server, graph):
    server.deliver(email("before"))
    first = graph.get("/mailFolders/inbox/messages/delta", params={"$select": "id,isRead"}).json()
    assert len(first["value"]) == 1 and "@odata.deltaLink" in first
    arrived = server.deliver(email("after"))
    graph.post(f"/messages/{first['value'][0]['id']}/move", json={"destinationId": "deleteditems"})
    changes = graph.get(first["@odata.deltaLink"]).json()
    assert {item["id"] for item in changes["value"] if "@removed" not in item} == {arrived}
    assert [item["id"] for item in changes["value"] if "@removed" in item] == [first["value"][0]["id"]]
    assert graph.get(changes["@odata.deltaLink"]).json()["value"] == []
    server.invalidate_delta_tokens()
    gone = graph.get(changes["@odata.deltaLink"])
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"


def test_replies_and_sent_mail_are_recorded_as_mime(server, graph):
    original = server.deliver(email("Blue Badge reply"))
    graph.post(f"/messages/{original}/reply", json={"comment": "Thanks"})
    assert graph.post(f"/messages/{original}/reply", json={"comment": "x", "message": {"body": {
        "contentType": "Text", "content": "y"}}}).status_code == 400
    graph.post("/sendMail", json={"message": {"subject": "Report", "body": {"contentType": "Text", "content": "Hi"},
                                              "toRecipients": [{"emailAddress": {"address": "boss@council.example.gov.uk"}}]}})
    reply, report = server.sent_messages()
    assert reply["In-Reply-To"] == "<Blue-Badge-reply@council.example.gov.uk>" and reply["To"] == STAFF
    assert reply["Subject"] == "RE: Blue Badge reply" and "Thanks" in reply.get_content()
    assert report["From"].addresses[0].addr_spec == server.mailbox and report["Subject"] == "Report"
    assert server.folder_subjects("sentitems") == ["RE: Blue Badge reply", "Report"]


def test_injected_throttling_answers_429_with_retry_after_then_recovers(server, graph):
    server.throttle(2, retry_after=3)
    busy = [graph.get("/mailFolders") for _ in range(2)]
    assert [(r.status_code, r.headers["Retry-After"]) for r in busy] == [(429, "3"), (429, "3")]
    assert graph.get("/mailFolders").status_code == 200


def test_a_restart_keeps_the_port_and_the_mailbox_and_cuts_open_connections(server, graph):
    server.deliver(email("kept"))
    url = server.url
    assert graph.get("/mailFolders/inbox/messages").status_code == 200  # a kept-alive connection now exists
    server.restart()
    assert server.url == url
    assert [item["subject"] for item in graph.get("/mailFolders/inbox/messages").json()["value"]] == ["kept"]
    server.stop()
    with pytest.raises(httpx.ConnectError):
        graph.get("/mailFolders")
