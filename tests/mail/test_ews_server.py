"""The loopback EWS server itself, spoken to in raw SOAP: it must be as strict as Exchange where Clerk's
adapter relies on it, and say so plainly where it implements less."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import requests
from lxml import etree

from tests.ews_server.soap import ERRORS, SOAP, M, T
from tests.mail.backends.ews import PASSWORD, USER, ews_mailbox, ews_server

INBOX = '<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox>' \
        '</t:DistinguishedFolderId>'


def soap(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:m="{M}" xmlns:t="{T}">'
            f'<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{body}</s:Body>'
            f'</s:Envelope>').encode()


@pytest.fixture
def server(tmp_path):
    with ews_server(tmp_path, auth=("NTLM", "Basic"), minute_s=0.4, heartbeat_s=0.1) as running:
        yield running


def post(server, body: str, **kwargs) -> requests.Response:
    kwargs.setdefault("auth", (USER, PASSWORD))
    return requests.post(server.url, data=soap(body), verify=str(server.ca_file), timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8"}, **kwargs)


def fault_code(response: requests.Response) -> str:
    return etree.fromstring(response.content).findtext(f".//detail/{{{ERRORS}}}ResponseCode")


def subscribe(server) -> str:
    response = post(server, f'<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>{INBOX.format(server.mailbox)}'
                            '</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
                            '</m:StreamingSubscriptionRequest></m:Subscribe>')
    return etree.fromstring(response.content).findtext(f".//{{{M}}}SubscriptionId")


def test_an_operation_it_does_not_implement_is_a_soap_fault_naming_it(server):
    response = post(server, "<m:ResolveNames><m:UnresolvedEntry>priya</m:UnresolvedEntry></m:ResolveNames>")
    assert response.status_code == 500
    assert fault_code(response) == "ErrorSchemaValidation" and b"ResolveNames" in response.content


def test_requests_without_valid_credentials_get_401_and_the_offered_schemes(server):
    anonymous = post(server, "<m:GetFolder/>", auth=None)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'NTLM, Basic realm="loopback"'
    assert post(server, "<m:GetFolder/>", auth=(USER, "wrong")).status_code == 401
    assert server.operations() == [], "nothing was served"


def test_every_request_is_recorded_including_other_paths(server):
    response = requests.get(server.url.replace("/EWS/Exchange.asmx", "/autodiscover/autodiscover.xml"),
                            verify=str(server.ca_file), timeout=10)
    assert response.status_code == 404
    [recorded] = server.requests
    assert (recorded.method, recorded.path, recorded.status) == ("GET", "/autodiscover/autodiscover.xml", 404)


def test_server_busy_is_a_fault_with_back_off_milliseconds(server):
    server.busy(times=1, back_off_ms=750)
    busy = post(server, "<m:GetFolder/>")
    assert busy.status_code == 500 and fault_code(busy) == "ErrorServerBusy"
    value = etree.fromstring(busy.content).find(f".//detail/{{{T}}}MessageXml/{{{T}}}Value")
    assert (value.get("Name"), value.text) == ("BackOffMilliseconds", "750")
    assert fault_code(post(server, "<m:GetFolder/>")) != "ErrorServerBusy", "only the next request was busy"


def test_mail_from_outside_cannot_forge_exchange_organization_headers(server):
    forged = EmailMessage()
    forged["From"] = "priya.shah@council.example.gov.uk"
    forged["Subject"] = "Blue Badge forged"
    forged["X-MS-Exchange-Organization-AuthAs"] = "Internal"
    forged.set_content("form")
    server.deliver(forged, internal=False)
    server.deliver(forged)
    mailbox = ews_mailbox(server)
    outside, inside = mailbox.list_new()
    mailbox.close()
    assert outside.headers["X-MS-Exchange-Organization-AuthAs"] == "Anonymous"
    assert inside.headers["X-MS-Exchange-Organization-AuthAs"] == "Internal"


def test_send_item_refuses_a_stale_change_key(server):
    mailbox = ews_mailbox(server)
    mailbox.list_new()
    mailbox.close()
    created = post(server, '<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Draft'
                           '</t:Subject></t:Message></m:Items></m:CreateItem>')
    item_id = etree.fromstring(created.content).find(f".//{{{T}}}ItemId")
    post(server, f'<m:CreateAttachment><m:ParentItemId Id="{item_id.get("Id")}" ChangeKey="{item_id.get("ChangeKey")}"/>'
                 '<m:Attachments><t:FileAttachment><t:Name>a.txt</t:Name><t:Content>aGk=</t:Content>'
                 '</t:FileAttachment></m:Attachments></m:CreateAttachment>')
    sent = post(server, f'<m:SendItem SaveItemToFolder="false"><m:ItemIds><t:ItemId Id="{item_id.get("Id")}" '
                        f'ChangeKey="{item_id.get("ChangeKey")}"/></m:ItemIds></m:SendItem>')
    assert etree.fromstring(sent.content).findtext(f".//{{{M}}}ResponseCode") == "ErrorStaleObject"
    assert server.sent() == []


def test_a_streaming_response_pushes_notifications_then_closes_at_its_timeout(server):
    subscription = subscribe(server)
    documents: list[etree._Element] = []
    with post(server, f"<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{subscription}</t:SubscriptionId>"
                      "</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>",
              stream=True) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        buffer = b""
        for chunk in response.iter_content(chunk_size=None):
            buffer += chunk
            while b"</s:Envelope>" in buffer:
                document, _, buffer = buffer.partition(b"</s:Envelope>")
                documents.append(etree.fromstring(document + b"</s:Envelope>"))
                if len(documents) == 1:
                    message = EmailMessage()
                    message["Subject"] = "Blue Badge streamed"
                    message.set_content("form")
                    server.deliver(message)
    statuses = [d.findtext(f".//{{{M}}}ConnectionStatus") for d in documents]
    assert statuses[-1] == "Closed" and set(statuses[:-1]) == {"OK"} and len(statuses) >= 3
    events = [e.tag.split("}")[1] for d in documents for e in d.iterfind(f".//{{{M}}}Notification/*")
              if e.tag.endswith("Event")]
    assert events == ["NewMailEvent"], "only the subscribed event type, once"
