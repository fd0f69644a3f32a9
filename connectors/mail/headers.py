"""Strict readings of the headers the sender check relies on: ``From``/``Sender`` and ``Authentication-Results``.

Mail programs are forgiving about addresses, and a spoofer counts on it. These readers are not: a header
that could be read two ways is :class:`Unreadable`, with a sentence saying why.

An address header (``From``, ``Sender``) must hold one mailbox, ``[display name] <local@domain>`` or a
bare ``local@domain``, and:

* the address is **plain ASCII**: a dot-atom local part (no quotes, no second ``@``, no stray dots) and a
  domain of letters, digits and hyphens, two labels or more, no trailing dot. No look-alike character
  (the Kelvin sign ``K`` that ``str.lower()`` turns into ``k``, full-width or mathematical letters, the
  long s, Cyrillic homoglyphs) can then pass for an ASCII letter, whatever case folding or Unicode
  normalisation anyone applies later; and no RFC 2047 encoded word can stand in for an address;
* comments ``( ... )``, groups (``staff: ...;``), lists (``a, b``), routes and domain literals are refused;
* the display name may be any Unicode (``Zoë Ó Briain``, RFC 2047 encoded or raw UTF-8), but if it holds
  an ``@`` (after NFKC, so a full-width ``＠`` counts too) it must be the address itself: a name that is
  another address is the classic way to show one sender while being another.

``Authentication-Results`` (RFC 8601) is read as its authserv-id and its results, comments removed, so a
comment such as ``(dmarc=pass ...)`` is never taken for a result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import decode_header, make_header

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is folding white space; anything else is not text
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ATOM_STOP = ' \t"<>(),;:[]\\'
_TOKEN = re.compile(r'(?:[^\s"]+|"(?:[^"\\]|\\.)*")+')
_EQUALS = re.compile(r'("(?:[^"\\]|\\.)*")|\s*=\s*')


class Unreadable(ValueError):
    """The header cannot be read one way only. The message completes a sentence: "The From line ..."."""


@dataclass(frozen=True)
class Mailbox:
    name: str
    """The display name, decoded ('' when there is none)."""
    address: str
    """Plain ASCII, lower-case."""


@dataclass(frozen=True)
class MethodResult:
    method: str
    """Lower-case, without a version: ``dmarc``, ``spf``, ``dkim``."""
    result: str
    """Lower-case: ``pass``, ``fail``, ``none``..."""
    properties: dict[str, str] = field(default_factory=dict)
    """``ptype.property`` (lower-case) to its value as written: ``{"header.from": "nhs.net"}``."""


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    """Lower-case; ``''`` when the header starts with a result (Exchange Online writes it so)."""
    results: tuple[MethodResult, ...]


def plain_address(text: str) -> str:
    """``local@domain`` as Clerk accepts an address (see the module docstring), lower-cased."""
    if not text:
        raise Unreadable("has no email address")
    if not text.isascii():
        raise Unreadable("has an address with characters that are not plain ASCII letters (look-alike characters)")
    if "=?" in text:
        raise Unreadable("has an address written as an encoded word")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise Unreadable("has no complete email address")
    if not _LOCAL_PART.fullmatch(local):
        raise Unreadable("has an address whose part before the @ is not plain "
                         "(quotes, spaces, a second @ or stray dots)")
    labels = domain.lower().split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Unreadable("has an address whose domain is not a plain domain name")
    if len(local) > 64 or len(text) > 254:
        raise Unreadable("has an address longer than an email address can be")
    return f"{local.lower()}@{domain.lower()}"  # ASCII only by now: lower() changes A-Z and nothing else


def mailbox(value: str) -> Mailbox:
    """The one mailbox an address header holds, or :class:`Unreadable`."""
    text = _FOLD.sub("", value).strip(" \t")
    if _CONTROL.search(text):
        raise Unreadable("has control characters in it")
    words: list[tuple[bool, str]] = []  # the display name's words: (quoted, text)
    angle: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t":
            i += 1
        elif angle is not None:
            raise Unreadable("has more after the address in < >")
        elif char == '"':
            word, i = _quoted(text, i)
            words.append((True, word))
        elif char == "<":
            end = text.find(">", i)
            if end < 0:
                raise Unreadable("has an address with no closing >")
            angle, i = text[i + 1:end].strip(" \t"), end + 1
        elif char == "(":
            raise Unreadable("has a comment in round brackets")
        elif char in ",;:":
            raise Unreadable("has more than one address, or a group of addresses")
        elif char in "[]\\>":
            raise Unreadable(f"has a character an address line cannot hold ({char})")
        else:
            end = i
            while end < len(text) and text[end] not in _ATOM_STOP:
                end += 1
            words.append((False, text[i:end]))
            i = end
    if angle is None:
        if len(words) == 1 and not words[0][0]:
            return Mailbox("", plain_address(words[0][1]))
        raise Unreadable("is empty" if not words else "has no address that can be read as one (a name without an "
                                                       "address, or a quoted address)")
    if "<" in angle:
        raise Unreadable("has an address inside another address")
    address = plain_address(angle)
    name = _display_name(words)
    shown = unicodedata.normalize("NFKC", name)
    if "@" in shown and shown.strip(" \t'\"").casefold() != address:
        raise Unreadable("shows another email address as the sender's name")
    return Mailbox(name, address)


def authentication_results(value: str) -> AuthenticationResults:
    """One ``Authentication-Results`` header read by RFC 8601, or :class:`Unreadable`."""
    text = _without_comments(_FOLD.sub("", value))
    if _CONTROL.search(text):
        raise Unreadable("has control characters in it")
    parts = _split(text, ";")
    head = parts[0].split()
    if not head:
        raise Unreadable("has no authserv-id")
    if "=" in head[0]:
        authserv_id, given = "", parts
    elif len(head) > 2 or (len(head) == 2 and not head[1].isdigit()):
        raise Unreadable("does not start with one authserv-id")
    elif not head[0].isascii():
        raise Unreadable("has an authserv-id with characters that are not plain ASCII")
    else:
        authserv_id, given = head[0].lower(), parts[1:]
    results = []
    for part in given:
        tokens = _TOKEN.findall(_EQUALS.sub(lambda match: match.group(1) or "=", part))
        if not tokens or tokens == ["none"]:
            continue
        method, equals, result = tokens[0].partition("=")
        if not equals or not method or not result:
            raise Unreadable("has a result that is not method=result")
        properties: dict[str, str] = {}
        for token in tokens[1:]:
            key, equals, property_value = token.partition("=")
            if not equals or key.lower() in properties:
                raise Unreadable("has a property that is missing its value or given twice")
            properties[key.lower()] = _unquoted(property_value)
        results.append(MethodResult(method.partition("/")[0].lower(), result.lower(), properties))
    return AuthenticationResults(authserv_id, tuple(results))


# --- helpers -------------------------------------------------------------------------------------------
def _quoted(text: str, start: int) -> tuple[str, int]:
    """The content of the quoted string at ``text[start]`` (escapes undone) and the index after it."""
    out = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise Unreadable("has a quotation mark that is never closed")


def _unquoted(value: str) -> str:
    return _quoted(value, 0)[0] if value.startswith('"') else value


def _display_name(words: list[tuple[bool, str]]) -> str:
    decoded = []
    for _, word in words:
        if "=?" not in word:
            decoded.append(word)
            continue
        try:  # RFC 2047 words; some mailers put them inside quotes too, so those are decoded as well
            decoded.append(str(make_header(decode_header(word))))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            raise Unreadable("has a name that cannot be decoded") from None
    name = " ".join(decoded)
    if _CONTROL.search(name):
        raise Unreadable("has a name with control characters in it")
    return name


def _without_comments(text: str) -> str:
    """``text`` with its RFC 5322 comments (nested, escaped) replaced by a space; quoted strings kept."""
    out: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and (quoted or depth) and i + 1 < len(text):
            if not depth:
                out.append(text[i:i + 2])
            i += 2
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")":
            if not depth:
                raise Unreadable("has a ) with no (")
            depth -= 1
            if not depth:
                out.append(" ")
        elif not depth:
            quoted = char == '"'
            out.append(char)
        i += 1
    if depth or quoted:
        raise Unreadable("has a comment or a quotation that is never closed")
    return "".join(out)


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside quoted strings."""
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and quoted and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts
