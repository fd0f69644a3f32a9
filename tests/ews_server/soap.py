"""SOAP plumbing for the loopback EWS server: namespaces, element builders, envelopes and faults.

Responses are shaped like Exchange 2016's (a ``ServerVersionInfo`` header, ``ResponseMessages`` with a
``ResponseClass`` and ``ResponseCode`` per item, faults with the EWS error code in ``detail``), because
exchangelib parses exactly those shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP, "m": M, "t": T}
_PREFIXES = {"s": SOAP, "m": M, "t": T, "e": ERRORS}

Element = etree._Element


class EwsError(Exception):
    """An EWS response code for one item of a request (answered as ``ResponseClass="Error"``)."""

    def __init__(self, code: str, text: str = "") -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text or code


class SoapFault(Exception):
    """A whole request failed: answered as a SOAP fault with HTTP 500, as Exchange does."""

    def __init__(self, code: str, text: str, back_off_ms: int | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.back_off_ms = back_off_ms


def qname(tag: str) -> str:
    """``"t:ItemId"`` -> ``"{types namespace}ItemId"``."""
    prefix, _, local = tag.partition(":")
    return f"{{{_PREFIXES[prefix]}}}{local}"


def el(tag: str, text: object = None, attrs: dict[str, object] | None = None, children: list[Element] | None = None,
       ) -> Element:
    element = etree.Element(qname(tag), nsmap=NSMAP)
    for key, value in (attrs or {}).items():
        if value is not None:
            element.set(key, _text(value))
    if text is not None:
        element.text = _text(text)
    for child in children or []:
        element.append(child)
    return element


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return ews_datetime(value)
    return str(value)


def ews_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(parent: Element, path: str) -> Element | None:
    return parent.find("/".join(qname(part) for part in path.split("/")))


def findall(parent: Element, path: str) -> list[Element]:
    return parent.findall("/".join(qname(part) for part in path.split("/")))


def text_of(parent: Element, path: str, default: str | None = None) -> str | None:
    found = find(parent, path)
    return found.text if found is not None and found.text is not None else default


def xs_bool(value: str | None) -> bool:
    """An xs:boolean: exchangelib writes ``1``/``0``, other clients ``true``/``false``."""
    return (value or "").strip() in ("true", "1")


def local_name(element: Element) -> str:
    return etree.QName(element).localname


@dataclass(frozen=True)
class Request:
    """One parsed SOAP request."""

    operation: str
    body: Element
    """The operation element (``m:GetItem``...)."""
    server_version: str | None
    impersonated: str | None
    """The primary SMTP address in ``ExchangeImpersonation``, when the client asked to act as a mailbox."""


def parse_request(data: bytes) -> Request:
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SoapFault("ErrorSchemaValidation", f"The request is not well-formed XML: {exc}") from None
    body = root.find(f"{{{SOAP}}}Body")
    if body is None or len(body) == 0:
        raise SoapFault("ErrorSchemaValidation", "The request has no SOAP Body.")
    operation = body[0]
    header = root.find(f"{{{SOAP}}}Header")
    version = impersonated = None
    if header is not None:
        requested = find(header, "t:RequestServerVersion")
        version = requested.get("Version") if requested is not None else None
        impersonated = text_of(header, "t:ExchangeImpersonation/t:ConnectingSID/t:PrimarySmtpAddress")
    return Request(local_name(operation), operation, version, impersonated)


def envelope(response: Element, build: tuple[int, int, int, int]) -> bytes:
    root = etree.Element(qname("s:Envelope"), nsmap=NSMAP)
    header = etree.SubElement(root, qname("s:Header"))
    major, minor, major_build, minor_build = build
    header.append(el("t:ServerVersionInfo", attrs={
        "MajorVersion": major, "MinorVersion": minor, "MajorBuildNumber": major_build,
        "MinorBuildNumber": minor_build, "Version": "V2017_07_11",
    }))
    etree.SubElement(root, qname("s:Body")).append(response)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def fault(code: str, text: str, back_off_ms: int | None = None) -> bytes:
    """A SOAP fault with the EWS code in ``detail`` (and ``BackOffMilliseconds`` for ErrorServerBusy)."""
    root = etree.Element(qname("s:Envelope"), nsmap={"s": SOAP})
    body = etree.SubElement(root, qname("s:Body"))
    soap_fault = etree.SubElement(body, qname("s:Fault"))
    code_element = etree.SubElement(soap_fault, "faultcode", nsmap={"a": T})
    code_element.text = f"a:{code}"
    etree.SubElement(soap_fault, "faultstring").text = text
    detail = etree.SubElement(soap_fault, "detail")
    etree.SubElement(detail, f"{{{ERRORS}}}ResponseCode", nsmap={"e": ERRORS}).text = code
    etree.SubElement(detail, f"{{{ERRORS}}}Message", nsmap={"e": ERRORS}).text = text
    if back_off_ms is not None:
        message_xml = etree.SubElement(detail, qname("t:MessageXml"), nsmap={"t": T})
        value = etree.SubElement(message_xml, qname("t:Value"))
        value.set("Name", "BackOffMilliseconds")
        value.text = str(back_off_ms)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def response_message(operation: str, children: list[Element] | None = None, *, error: EwsError | None = None,
                     ) -> Element:
    """``m:<operation>ResponseMessage``, a success with ``children`` or the error."""
    message = el(f"m:{operation}ResponseMessage", attrs={"ResponseClass": "Error" if error else "Success"})
    if error is not None:
        message.append(el("m:MessageText", error.text))
        message.append(el("m:ResponseCode", error.code))
        message.append(el("m:DescriptiveLinkKey", 0))
    else:
        message.append(el("m:ResponseCode", "NoError"))
    for child in children or []:
        message.append(child)
    return message


def response(operation: str, messages: list[Element]) -> Element:
    return el(f"m:{operation}Response", children=[el("m:ResponseMessages", children=messages)])
