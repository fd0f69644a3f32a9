"""Casebook's HTML: server-rendered, 2000s council style (grey bars, Verdana, tables, frames).

Every function returns a complete document. Values are always escaped. Controls get unstable ids
from :class:`sandbox.casebook.forms.Controls`, and every control has a ``<label for>`` or button text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from urllib.parse import quote

from sandbox.casebook.forms import TOKEN_FIELD, Controls
from sandbox.casebook.validation import BADGE_TYPES, ELIGIBILITY, TITLES

COUNCIL = "Anytown Metropolitan Borough Council"
VERSION = "Casebook 4.2.1 (build 2007.11.3)"
BUSY_TEXT = "System busy, please try again"
EXPIRED_TEXT = "Your session has expired. Please log in again."
SAVE_CONFIRM = "Save this Blue Badge case?"

Get = Callable[[str, str], str]  # values.get: (key, default) -> value

STEPS = {1: "Applicant", 2: "Address", 3: "Eligibility and contact", 4: "Review"}

# Labels shared by the wizard, the review summary and the case view.
LABELS = {
    "case_reference": "Case reference",
    "status": "Status",
    "created_at": "Created",
    "title": "Title",
    "first_names": "First name(s)",
    "surname": "Surname",
    "date_of_birth": "Date of birth",
    "ni_number": "National Insurance number",
    "address_line_1": "Address line 1",
    "address_line_2": "Address line 2",
    "town": "Town",
    "postcode": "Postcode",
    "eligibility": "Reason for applying",
    "badge_type": "Badge type",
    "existing_badge_number": "Existing badge number",
    "phone": "Contact phone number",
    "email": "Contact email address",
    "notes": "Notes",
}


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def document(title: str, body: str, *, body_class: str = "frame") -> str:
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{_e(title)} - Casebook</title>
<link rel="stylesheet" type="text/css" href="/static/casebook.css">
<script type="text/javascript" src="/static/casebook.js"></script>
</head>
<body class="{body_class}">
{body}
</body>
</html>
"""


def _summary(errors: list[str]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{_e(error)}</li>" for error in errors)
    return (
        '<div class="validation-summary" role="alert">'
        f"<p><b>Please correct the following:</b></p><ul>{items}</ul></div>"
    )


def _hidden(controls: Controls, **extra: object) -> str:
    fields = {TOKEN_FIELD: controls.token, **extra}
    return "".join(f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in fields.items())


def _button(controls: Controls, short: str, text: str, *, onclick: str = "", kind: str = "submit") -> str:
    click = f' onclick="{_e(onclick)}"' if onclick else ""
    return (
        f'<input type="{kind}" class="btn" id="{controls.id(short)}" name="{controls.name(short)}" '
        f'value="{_e(text)}"{click}>'
    )


def _star(required: bool) -> str:
    return ' <span class="req" title="Required">*</span>' if required else ""


def _text_row(
    c: Controls,
    short: str,
    label: str,
    value: str,
    *,
    required: bool = True,
    size: int = 30,
    hint: str = "",
    kind: str = "text",
) -> str:
    cid = c.id(short)
    described = f' aria-describedby="{cid}_hint"' if hint else ""
    hint_html = f' <span class="hint" id="{cid}_hint">{_e(hint)}</span>' if hint else ""
    return (
        f'<tr><th><label for="{cid}">{_e(label)}</label>{_star(required)}</th>'
        f'<td><input type="{kind}" id="{cid}" name="{c.name(short)}" value="{_e(value)}" size="{size}"'
        f"{described}>{hint_html}</td></tr>"
    )


def _select_row(
    c: Controls, short: str, label: str, options: list[tuple[str, str]], selected: str, *, required: bool = True
) -> str:
    cid = c.id(short)
    opts = ['<option value="">-- Select --</option>']
    for value, text in options:
        mark = " selected" if value == selected else ""
        opts.append(f'<option value="{_e(value)}"{mark}>{_e(text)}</option>')
    return (
        f'<tr><th><label for="{cid}">{_e(label)}</label>{_star(required)}</th>'
        f'<td><select id="{cid}" name="{c.name(short)}">{"".join(opts)}</select></td></tr>'
    )


def _table(rows: list[str]) -> str:
    return '<table class="form" cellspacing="0" cellpadding="3">' + "".join(rows) + "</table>"


# --- Login, shell, home, faults -------------------------------------------------------------------


def login_page(c: Controls, *, error: str = "", info: str = "") -> str:
    banner = ""
    if error:
        banner = f'<div class="validation-summary" role="alert">{_e(error)}</div>'
    elif info:
        banner = f'<div class="info" role="status">{_e(info)}</div>'
    fields = _table(
        [
            _text_row(c, "txtUserName", "User name", "", size=20),
            _text_row(c, "txtPassword", "Password", "", size=20, kind="password"),
        ]
    )
    body = f"""<div class="topbar"><span class="brand">Casebook</span><span class="council">{COUNCIL}</span></div>
<div class="login">
<h1>Casebook log in</h1>
{banner}
<form method="post" action="/login" target="_top" autocomplete="off">
{_hidden(c)}
{fields}
<p class="buttons">{_button(c, "btnLogin", "Log in")}</p>
</form>
<p class="small">Authorised users only. Activity on this system is monitored.<br>{VERSION}</p>
</div>"""
    return document("Log in", body, body_class="top")


def shell_page(user: str, *, motd: bool) -> str:
    today = datetime.now().strftime("%a %d %b %Y")
    popup = ""
    if motd:
        popup = """<div id="motdOverlay" class="overlay">
<div class="motd" role="dialog" aria-modal="true" aria-label="Message of the day">
<div class="motd-title">Message of the day</div>
<p>Casebook will be unavailable on Sunday between 02:00 and 06:00 for scheduled maintenance.</p>
<p>Please remember to lock your workstation (Ctrl+Alt+Del) when you leave your desk.</p>
<p class="buttons"><button type="button" class="btn"
 onclick="document.getElementById('motdOverlay').style.display='none';">OK</button></p>
</div></div>"""
    body = f"""<div class="topbar"><span class="brand">Casebook</span><span class="council">{COUNCIL}</span>
<span class="user">User: {_e(user)} | {today}</span></div>
<div class="shell">
<div class="nav" role="navigation" aria-label="Main menu">
<div class="nav-title">Menu</div>
<ul>
<li><a href="/home" target="content">Home</a></li>
<li><a href="/case/new?start=1" target="content">New Blue Badge case</a></li>
<li><a href="/search" target="content">Search cases</a></li>
<li><a href="/logout" target="_top">Log out</a></li>
</ul>
<div class="nav-foot">{VERSION}</div>
</div>
<div class="main"><iframe name="content" title="Casebook" src="/home" frameborder="0"></iframe></div>
</div>
{popup}"""
    return document("Casebook", body, body_class="top")


def home_page(user: str, case_count: int) -> str:
    body = f"""<h1>Home</h1>
<p>Welcome to Casebook, {_e(user)}.</p>
<table class="grid" cellspacing="0" cellpadding="3" aria-label="Summary">
<tr><th scope="row">Blue Badge cases on file</th><td>{case_count}</td></tr>
</table>
<p>Use the menu on the left to start a new Blue Badge case or to search for a case.</p>"""
    return document("Home", body)


def busy_page(retry_href: str) -> str:
    body = f"""<h1>{BUSY_TEXT}</h1>
<p class="error">The server could not complete your request at this time (error 503).</p>
<p>No changes have been saved. <a href="{_e(retry_href)}">Try again</a></p>"""
    return document("System busy", body)


def error_page() -> str:
    body = """<h1>Server Error</h1>
<p class="error">An unexpected error occurred. Please contact the IT Service Desk quoting the time.</p>"""
    return document("Server Error", body)


def not_found_page(path: str) -> str:
    body = f"<h1>Page not found</h1><p>The page {_e(path)} does not exist.</p>"
    return document("Page not found", body)


# --- New Blue Badge case ------------------------------------------------------------------------


def _step_header(step: int) -> str:
    crumbs = " &gt; ".join(f"<b>{n}. {_e(name)}</b>" if n == step else f"{n}. {_e(name)}" for n, name in STEPS.items())
    return f'<h1>New Blue Badge case</h1><p class="crumbs">{crumbs}</p><h2>Step {step} of 4: {STEPS[step]}</h2>'


def _applicant_step(c: Controls, v: Get) -> tuple[str, str]:
    rows = [
        _select_row(c, "ddlTitle", "Title", [(t, t) for t in TITLES], v("title", "")),
        _text_row(c, "txtFirstNames", "First name(s)", v("first_names", "")),
        _text_row(c, "txtSurname", "Surname", v("surname", "")),
        _text_row(c, "txtDob", "Date of birth", v("date_of_birth", ""), size=10, hint="DD/MM/YYYY"),
        _text_row(c, "txtNino", "National Insurance number", v("ni_number", ""), size=13,
                  hint="For example QQ 12 34 56 C"),
    ]  # fmt: skip
    return _table(rows), _button(c, "btnNext", "Next")


def _address_step(c: Controls, v: Get) -> tuple[str, str]:
    postcode, town, status, find = c.id("txtPostcode"), c.id("txtTown"), c.id("lblLookup"), c.id("btnFind")
    lookup = f"cbFindAddress('{postcode}', '{town}', '{status}', '{find}'); return false;"
    postcode_row = (
        f'<tr><th><label for="{postcode}">Postcode</label>{_star(True)}</th>'
        f'<td><input type="text" id="{postcode}" name="{c.name("txtPostcode")}" value="{_e(v("postcode", ""))}" '
        f'size="9" onchange="cbPostcodeChanged(\'{status}\')"> '
        f"{_button(c, 'btnFind', 'Find address', onclick=lookup, kind='button')} "
        f'<span class="lookup" id="{status}" role="status"></span></td></tr>'
    )
    rows = [
        postcode_row,
        _text_row(c, "txtAddress1", "Address line 1", v("address_line_1", ""), size=40),
        _text_row(c, "txtAddress2", "Address line 2", v("address_line_2", ""), size=40, required=False),
        _text_row(c, "txtTown", "Town", v("town", "")),
    ]
    return _table(rows), _button(c, "btnBack", "Back") + " " + _button(c, "btnNext", "Next")


def _eligibility_step(c: Controls, v: Get) -> tuple[str, str]:
    radios = "".join(
        f'<input type="radio" id="{c.id(f"rblBadgeType_{i}")}" name="{c.name("rblBadgeType")}" value="{kind}"'
        f'{" checked" if v("badge_type", "") == kind else ""}><label for="{c.id(f"rblBadgeType_{i}")}">{kind}</label> '
        for i, kind in enumerate(BADGE_TYPES)
    )
    notes = c.id("txtNotes")
    rows = [
        _select_row(c, "ddlReason", "Reason for applying", list(ELIGIBILITY.items()), v("eligibility", "")),
        f'<tr><th>Badge type{_star(True)}</th><td><fieldset class="radios"><legend>Badge type</legend>'
        f"{radios}</fieldset></td></tr>",
        _text_row(c, "txtBadgeNo", "Existing badge number", v("existing_badge_number", ""), required=False,
                  hint="Renewals only"),
        _text_row(c, "txtPhone", "Contact phone number", v("phone", ""), size=16),
        _text_row(c, "txtEmail", "Contact email address", v("email", ""), size=40),
        f'<tr><th><label for="{notes}">Notes</label></th><td><textarea id="{notes}" name="{c.name("txtNotes")}" '
        f'rows="4" cols="50">{_e(v("notes", ""))}</textarea></td></tr>',
    ]  # fmt: skip
    return _table(rows), _button(c, "btnBack", "Back") + " " + _button(c, "btnNext", "Next")


def _review_step(c: Controls, v: Get) -> tuple[str, str]:
    shown = {key: v(key, "") for key in LABELS}
    shown["eligibility"] = ELIGIBILITY.get(v("eligibility", ""), "")
    rows = "".join(
        f'<tr><th scope="row">{_e(label)}</th><td class="value">{_e(shown[key])}</td></tr>'
        for key, label in LABELS.items()
        if key not in ("case_reference", "status", "created_at")
    )
    fields = (
        "<p>Check the details below, then choose <b>Save case</b>.</p>"
        f'<table class="grid" cellspacing="0" cellpadding="3" aria-label="Check the details">{rows}</table>'
    )
    save = f"return confirm('{SAVE_CONFIRM}');"
    return fields, _button(c, "btnBack", "Back") + " " + _button(c, "btnSave", "Save case", onclick=save)


_STEP_FORMS = {1: _applicant_step, 2: _address_step, 3: _eligibility_step, 4: _review_step}


def new_case_step(step: int, c: Controls, values: dict[str, str], errors: list[str]) -> str:
    """Step ``step`` (1-4) of the wizard, showing ``values`` and any validation ``errors``."""
    fields, buttons = _STEP_FORMS[step](c, values.get)
    body = f"""{_step_header(step)}
{_summary(errors)}
<form method="post" action="/case/new">
{_hidden(c, __STEP=step)}
{fields}
<p class="buttons">{buttons}</p>
</form>"""
    return document(f"New Blue Badge case - step {step}", body)


def confirmation_page(reference: str) -> str:
    ref = _e(reference)
    body = f"""<h1>Case created</h1>
<p class="confirmation" role="status">Case <b>{ref}</b> has been created.</p>
<p><a href="/case/view?ref={quote(reference)}">View case {ref}</a> |
<a href="/case/new?start=1">Start another Blue Badge case</a></p>"""
    return document("Case created", body)


def case_view_page(case: dict) -> str:
    shown = dict(case)
    shown["created_at"] = _when(case.get("created_at", ""))
    rows = "".join(
        f'<tr><th scope="row">{_e(label)}</th><td class="value">{_e(shown.get(key, ""))}</td></tr>'
        for key, label in LABELS.items()
    )
    body = f"""<h1>Case details</h1>
<table class="grid details" cellspacing="0" cellpadding="3" aria-label="Case details">{rows}</table>
<p><a href="/search">Back to search</a></p>"""
    return document(f"Case {case.get('case_reference', '')}", body)


def case_missing_page(reference: str) -> str:
    body = f"""<h1>Case details</h1>
<div class="validation-summary" role="alert">No case was found with reference {_e(reference)}.</div>
<p><a href="/search">Back to search</a></p>"""
    return document("Case not found", body)


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return iso


# --- Search -------------------------------------------------------------------------------------


def search_page(c: Controls, values: dict[str, str], errors: list[str]) -> str:
    v = values.get
    by_reference = _table(
        [_text_row(c, "txtRef", "Case reference", v("reference", ""), required=False, size=16,
                   hint="For example BB-2007-000123")]
    )  # fmt: skip
    by_applicant = _table(
        [
            _text_row(c, "txtSurname", "Surname", v("surname", ""), required=False),
            _text_row(c, "txtDob", "Date of birth", v("date_of_birth", ""), required=False, size=10, hint="DD/MM/YYYY"),
        ]
    )
    by_notes = _table(
        [_text_row(c, "txtNotes", "Notes", v("notes", ""), required=False, size=40, hint="Notes contain this text")]
    )
    body = f"""<h1>Search cases</h1>
{_summary(errors)}
<form method="post" action="/search">
{_hidden(c)}
<fieldset><legend>By case reference</legend>
{by_reference}
<p class="buttons">{_button(c, "btnByRef", "Search by reference")}</p></fieldset>
<fieldset><legend>By applicant</legend>
{by_applicant}
<p class="buttons">{_button(c, "btnByName", "Search by name")}</p></fieldset>
<fieldset><legend>By notes</legend>
{by_notes}
<p class="buttons">{_button(c, "btnByNotes", "Search notes")}</p></fieldset>
</form>"""
    return document("Search cases", body)


def results_page(rows: list[dict], *, page: int, pages: int, total: int, described: str) -> str:
    if not rows:
        table = '<p class="empty">No cases found.</p>'
    else:
        lines = "".join(
            "<tr>"
            f'<td><a href="/case/view?ref={quote(row["case_reference"])}">{_e(row["case_reference"])}</a></td>'
            f"<td>{_e(row['surname'].upper())}, {_e(row['first_names'])}</td>"
            f"<td>{_e(row['date_of_birth'])}</td><td>{_e(row['status'])}</td>"
            f"<td>{_e(_when(row['created_at']))}</td>"
            "</tr>"
            for row in rows
        )
        table = (
            '<table class="grid results" cellspacing="0" cellpadding="3" aria-label="Search results">'
            '<tr><th scope="col">Case reference</th><th scope="col">Name</th><th scope="col">Date of birth</th>'
            f'<th scope="col">Status</th><th scope="col">Created</th></tr>{lines}</table>'
        )
    links = []
    if page > 1:
        links.append(f'<a href="/search/results?page={page - 1}">Previous page</a>')
    if page < pages:
        links.append(f'<a href="/search/results?page={page + 1}">Next page</a>')
    pager = f'<p class="pager">Page {page} of {pages} ({total} found) {" | ".join(links)}</p>' if rows else ""
    body = f"""<h1>Search results</h1>
<p>{_e(described)}</p>
{table}
{pager}
<p><a href="/search">New search</a></p>"""
    return document("Search results", body)
