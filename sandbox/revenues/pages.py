"""Revenues' HTML: a 2001 frameset application (HTML 4.01, table layout, grey, function keys).

No ``<label for>`` anywhere: every form is a table whose label sits in its own cell (``td.lbl``) beside the
control. Controls have short, stable, upper-case names (``SURNAME``, ``MOVEOUT``); buttons have access keys,
which the function keys press (F10 the ``s`` button, F4 ``f``, Esc ``c``; F2 opens the search). Values are
always escaped.
"""

from __future__ import annotations

from datetime import date
from html import escape
from urllib.parse import urlencode

from sandbox.kit.values import uk_date

TITLE = "Revenues 2000 - Council Tax"
COUNCIL = "Northdale District Council"
VERSION = "Revenues 2000 release 7.3.2 (c) 2001"
BUSY_TEXT = "System busy"
EXPIRED_TEXT = "Your session has timed out. Please log on again."
KEYS = "F2 Search | F4 Find | F10 Save | Esc Cancel | Enter next field"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _date(iso: str | None) -> str:
    return uk_date(date.fromisoformat(iso)) if iso else ""


def document(title: str, body: str, *, css_class: str = "main") -> str:
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{_e(title)}</title>
<link rel="stylesheet" type="text/css" href="/static/revenues.css">
<script type="text/javascript" src="/static/revenues.js"></script>
</head>
<body class="{css_class}">
{body}
</body>
</html>
"""


def _errors(errors: list[str]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{_e(error)}</li>" for error in errors)
    return f'<div class="err" id="errors"><b>The following errors must be corrected:</b><ul>{items}</ul></div>'


def _message(text: str) -> str:
    return f'<div class="msg" id="message">{_e(text)}</div>' if text else ""


def _batch(until: str | None) -> str:
    if not until:
        return ""
    return (f'<div class="batch" id="batchBanner">Batch run in progress: the system is read-only until '
            f"{_e(until)}.</div>")  # fmt: skip


def _row(label: str, control: str) -> str:
    return f'<tr><td class="lbl">{_e(label)}</td><td>{control}</td></tr>'


def _text(name: str, value: str = "", *, size: int = 20, maxlength: int = 40, kind: str = "text") -> str:
    return (f'<input type="{kind}" name="{name}" value="{_e(value)}" size="{size}" '
            f'maxlength="{maxlength}">')  # fmt: skip


def _button(text: str, key: str, *, command: str = "", fkey: str = "") -> str:
    value = f' name="CMD" value="{_e(command)}"' if command else ""
    shown = f"{text} ({fkey})" if fkey else text
    return f'<button type="submit"{value} accesskey="{key}">{_e(shown)}</button>'


def _cancel(href: str) -> str:
    return f'<a class="btn" href="{_e(href)}" accesskey="c">Cancel (Esc)</a>'


def _form_table(rows: list[str]) -> str:
    return '<table class="form" border="0" cellspacing="2" cellpadding="2">' + "".join(rows) + "</table>"


def _grid(table_id: str, headings: list[str], rows: list[list[str]]) -> str:
    """A result table: ``rows`` are already-escaped cell contents."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="grid" id="{table_id}" border="1" cellspacing="0" cellpadding="3"><tr>{head}</tr>{body}</table>'


def name_of(account: dict) -> str:
    """``SMITH, John (Mr)``, as the tables show a name."""
    return f"{account['surname'].upper()}, {account['forenames']} ({account['title']})"


def address_of(row: dict) -> str:
    return ", ".join(part for part in (row["address_1"], row["address_2"], row["town"]) if part)


# --- Outside the frames -------------------------------------------------------------------------


def login_page(*, error: str = "", info: str = "") -> str:
    note = f'<div class="err" id="errors">{_e(error)}</div>' if error else _message(info)
    fields = _form_table([_row("User ID", _text("USERID", size=12, maxlength=12)),
                          _row("Password", _text("PASSWD", size=12, maxlength=20, kind="password"))])  # fmt: skip
    body = f"""<script type="text/javascript">rvBreakOutOfFrames();</script>
<div class="logon">
<div class="banner">{_e(TITLE)}</div>
<p class="council">{_e(COUNCIL)}</p>
{note}
<form method="post" action="/login" target="_top">
{fields}
<p>{_button("Log on", "l")}</p>
</form>
<p class="small">Unauthorised access is an offence under the Computer Misuse Act 1990.<br>{_e(VERSION)}</p>
</div>"""
    return document(f"{TITLE} - Log on", body, css_class="logon")


def frameset_page() -> str:
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Frameset//EN" "http://www.w3.org/TR/html4/frameset.dtd">
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{_e(TITLE)}</title>
</head>
<frameset rows="70,*" border="1">
<frame name="menu" src="/menu" title="Menu bar" scrolling="no" noresize>
<frameset cols="180,*">
<frame name="nav" src="/nav" title="Navigation">
<frame name="main" src="/main/welcome" title="Main">
</frameset>
<noframes><body>This application needs a browser that supports frames.</body></noframes>
</frameset>
</html>
"""


def menu_page(user: str, today: date, batch_until: str | None) -> str:
    body = f"""<table width="100%" border="0" cellspacing="0" cellpadding="2"><tr>
<td class="banner">{_e(TITLE)}</td>
<td align="right">User: {_e(user)} | {today:%d/%m/%Y} | <a href="/logout" target="_top" accesskey="q">Log off</a></td>
</tr><tr><td colspan="2" class="keys">{_e(KEYS)}</td></tr></table>
{_batch(batch_until)}"""
    return document("Menu", body, css_class="menu")


def nav_page() -> str:
    links = [("/main/welcome", "Welcome"), ("/main/search", "Account search (F2)"),
             ("/main/properties", "Property register")]  # fmt: skip
    items = "".join(f'<li><a href="{href}" target="main">{_e(text)}</a></li>' for href, text in links)
    body = f"""<p class="navtitle">Council Tax</p>
<ul class="nav">{items}<li><a href="/logout" target="_top">Log off</a></li></ul>
<p class="small">{_e(VERSION)}</p>"""
    return document("Navigation", body, css_class="nav")


# --- Faults -------------------------------------------------------------------------------------


def busy_page(retry_href: str) -> str:
    body = f"""<h2>{BUSY_TEXT}</h2>
<div class="err" id="errors">RV-503 The Revenues server is busy. No changes have been saved.</div>
<p><a href="{_e(retry_href)}">Try again</a></p>"""
    return document(BUSY_TEXT, body)


def batch_refused_page(until: str, back_href: str) -> str:
    body = f"""<h2>Batch run in progress</h2>
<div class="err" id="errors">RV-423 The overnight batch is running: the system is read-only until {_e(until)}.
No changes have been saved.</div>
<p><a href="{_e(back_href)}">Back</a></p>"""
    return document("Batch run in progress", body)


def error_page() -> str:
    body = """<h2>Application error</h2>
<div class="err" id="errors">RV-500 An unexpected error occurred. Please contact the IT Service Desk.</div>"""
    return document("Application error", body)


def not_found_page(path: str) -> str:
    return document("Not found", f"<h2>Not found</h2><p>There is no screen {_e(path)}.</p>")


# --- Main frame ---------------------------------------------------------------------------------


def welcome_page(user: str, counts: dict[str, int], batch_until: str | None) -> str:
    rows = "".join(f"<tr><td class=\"lbl\">{_e(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    body = f"""<h2>Welcome</h2>
{_batch(batch_until)}
<p>Logged on as {_e(user)}. Press F2 to search for an account.</p>
<table class="form" id="summary" border="0">{rows}</table>"""
    return document("Welcome", body)


def search_page(values: dict[str, str], errors: list[str]) -> str:
    v = values.get
    rows = [
        _row("Account number", _text("ACCTNO", v("ACCTNO", ""), size=10, maxlength=8)),
        _row("Surname", _text("SURNAME", v("SURNAME", ""), size=25)),
        _row("Forename", _text("FORENAME", v("FORENAME", ""), size=25)),
        _row("Postcode", _text("PCODE", v("PCODE", ""), size=9, maxlength=8)),
        _row("Address", _text("ADDRESS", v("ADDRESS", ""), size=30)),
        _row("Notes contain", _text("NOTES", v("NOTES", ""), size=30, maxlength=60)),
    ]
    body = f"""<h2>Account search</h2>
{_errors(errors)}
<form method="get" action="/main/results">
{_form_table(rows)}
<p>{_button("Search", "s", fkey="F10")}</p>
</form>
<p class="small">Surname and forename match from the start; address and notes match anywhere; a postcode
may be the first half only (ND1).</p>"""
    return document("Account search", body)


def results_page(rows: list[dict], *, criteria: dict[str, str], page: int, pages: int, total: int) -> str:
    if not rows:
        table = '<p class="msg" id="message">No accounts found.</p>'
    else:
        cells = [
            [f'<a href="/main/account?acct={_e(r["account_no"])}">{_e(r["account_no"])}</a>', _e(name_of(r)),
             _e(address_of(r)), _e(r["postcode"]), _e(_date(r["start_date"])), _e(r["status"])]
            for r in rows
        ]  # fmt: skip
        table = _grid("results", ["Account", "Name", "Property address", "Postcode", "Liable from", "Status"], cells)
    links = []
    if page > 1:
        links.append(f'<a href="/main/results?{_e(urlencode({**criteria, "page": page - 1}))}" accesskey="p">Previous page</a>')
    if page < pages:
        links.append(f'<a href="/main/results?{_e(urlencode({**criteria, "page": page + 1}))}" accesskey="n">Next page</a>')
    pager = f'<p class="pager" id="pager">Page {page} of {pages} ({total} accounts found) {" | ".join(links)}</p>'
    body = f"""<h2>Search results</h2>
{table}
{pager if rows else ""}
<p><a href="/main/search">New search (F2)</a></p>"""
    return document("Search results", body)


def account_page(account: dict, liabilities: list[dict], *, message: str = "") -> str:
    acct = account["account_no"]
    details = _form_table([
        _row("Account number", _e(acct)),
        _row("Name", _e(f"{account['title']} {account['forenames']} {account['surname']}")),
        _row("Status", _e(account["status"])),
        _row("Property", _e(f"{account['property_ref']} {address_of(account)} {account['postcode']}")),
    ]).replace('class="form"', 'class="form" id="account"', 1)  # fmt: skip
    cells = [
        [_e(li["ref"]), _e(li["property_ref"]), _e(li["address"]), _e(li["postcode"]), _e(li["band"]),
         _e(_date(li["start_date"])), _e(_date(li["end_date"])), "Live" if li["end_date"] is None else "Ended"]
        for li in liabilities
    ]  # fmt: skip
    grid = _grid("liabilities", ["Liability", "Property", "Address", "Postcode", "Band", "From", "To", "Status"], cells)
    body = f"""<h2>Council Tax account {_e(acct)}</h2>
{_message(message)}
{details}
<h3>Liabilities</h3>
{grid}
<h3>Notes</h3>
<pre id="notes">{_e(account["notes"])}</pre>
<p><a class="btn" href="/main/move?acct={_e(acct)}" accesskey="m">Change of address</a>
<a class="btn" href="/main/notes?acct={_e(acct)}" accesskey="o">Add note</a>
<a class="btn" href="/main/search">New search (F2)</a></p>"""
    return document(f"Account {acct}", body)


def account_missing_page(account_no: str) -> str:
    body = f"""<h2>Council Tax account</h2>
<div class="err" id="errors">Account {_e(account_no)} does not exist.</div>
<p><a href="/main/search">New search (F2)</a></p>"""
    return document("Account not found", body)


def move_page(
    account: dict,
    current: dict | None,
    values: dict[str, str],
    options: list[dict] | None,
    errors: list[str],
    *,
    batch_until: str | None,
) -> str:
    """The change-of-address screen. ``options``: the register's properties at the postcode last found
    (None before Find); the ``NEWPROP`` list offers them."""
    v = values.get
    acct = account["account_no"]
    liable = (f"{current['property_ref']} {current['address']} {current['postcode']} (liable from "
              f"{_date(current['start_date'])})") if current else "None: the account is closed"  # fmt: skip
    chosen = v("NEWPROP", "")
    if options is None:
        choices = '<option value="">-- enter the new postcode and press Find --</option>'
    elif not options:
        choices = '<option value="">-- no properties at this postcode --</option>'
    else:
        choices = '<option value="">-- choose the property --</option>' + "".join(
            f'<option value="{_e(p["ref"])}"{" selected" if p["ref"] == chosen else ""}>'
            f'{_e(p["ref"])} {_e(address_of(p))} {_e(p["postcode"])}</option>'
            for p in options
        )
    find = _button("Find", "f", command="Find", fkey="F4")
    rows = [
        _row("Account number", _e(acct)),
        _row("Name", _e(f"{account['title']} {account['forenames']} {account['surname']}")),
        _row("Current property", _e(liable)),
        _row("Move-out date", _text("MOVEOUT", v("MOVEOUT", ""), size=10, maxlength=10) + " DD/MM/YYYY"),
        _row("New postcode", _text("NEWPCODE", v("NEWPCODE", ""), size=9, maxlength=8) + " " + find),
        _row("New property", f'<select name="NEWPROP">{choices}</select>'),
        _row("Move-in date", _text("MOVEIN", v("MOVEIN", ""), size=10, maxlength=10) + " DD/MM/YYYY"),
        _row("Note", _text("NOTE", v("NOTE", ""), size=50, maxlength=200)),
    ]
    body = f"""<h2>Change of address</h2>
{_batch(batch_until)}
{_errors(errors)}
<form method="post" action="/main/move">
<input type="hidden" name="ACCTNO" value="{_e(acct)}">
{_form_table(rows)}
<p>{_button("Save", "s", command="Save", fkey="F10")} {_cancel(f"/main/account?acct={acct}")}</p>
</form>
<p class="small">The move-out date is the last day the account is liable for the current property.</p>"""
    return document("Change of address", body)


def notes_page(account: dict, values: dict[str, str], errors: list[str], *, batch_until: str | None) -> str:
    acct = account["account_no"]
    rows = [_row("Account number", _e(acct)), _row("Note", _text("NOTE", values.get("NOTE", ""), size=50, maxlength=200))]
    body = f"""<h2>Add note</h2>
{_batch(batch_until)}
{_errors(errors)}
<form method="post" action="/main/notes">
<input type="hidden" name="ACCTNO" value="{_e(acct)}">
{_form_table(rows)}
<p>{_button("Save", "s", command="Save", fkey="F10")} {_cancel(f"/main/account?acct={acct}")}</p>
</form>"""
    return document("Add note", body)


def properties_page(rows: list[dict] | None, values: dict[str, str], errors: list[str]) -> str:
    v = values.get
    form = _form_table([_row("Postcode", _text("PCODE", v("PCODE", ""), size=9, maxlength=8)),
                        _row("Address", _text("ADDRESS", v("ADDRESS", ""), size=30))])  # fmt: skip
    if rows is None:
        table = ""
    elif not rows:
        table = '<p class="msg" id="message">No properties found.</p>'
    else:
        cells = [[_e(p["ref"]), _e(address_of(p)), _e(p["postcode"]), _e(p["band"]), _e(p["occupier"] or "Empty")]
                 for p in rows]  # fmt: skip
        table = _grid("properties", ["Property", "Address", "Postcode", "Band", "Liable account(s)"], cells)
    body = f"""<h2>Property register</h2>
{_errors(errors)}
<form method="get" action="/main/properties">
<input type="hidden" name="find" value="1">
{form}
<p>{_button("Search", "s", fkey="F10")}</p>
</form>
{table}"""
    return document("Property register", body)
