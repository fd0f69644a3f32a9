"""Revenues: a simulated 2001 Council Tax system, for building and testing bots.

A different style from Casebook: a real ``<frameset>``, forms laid out in tables with each label in its
own cell (no ``<label for>``), function keys, and a date-effective change of address with business rules.

    with RevenuesServer(tmp_path / "revenues.db", RevenuesConfig(batch_window="01:00-03:00")) as revenues:
        ...  # point a browser at revenues.url, log on as clerk-bot / revenues

**Log on** at ``/``: ``USERID``, ``PASSWD``, button "Log on" (the form targets ``_top``). Logged on, ``/``
is a frameset of three named frames: ``menu`` (top: user, date, key legend, "Log off", the batch banner),
``nav`` (left: Welcome, Account search (F2), Property register, Log off) and ``main`` (every screen).

**Keys** (``static/revenues.js``, in every frame): F2 opens the account search in ``main``; F4 presses
the ``accesskey="f"`` button (Find), F10 the ``accesskey="s"`` one (Save, or Search), Esc the
``accesskey="c"`` link (Cancel). Enter never submits: it moves to the next field, and from the last field
to the first button (where Enter presses it).

**Screens** of the ``main`` frame, each with an ``<h2>`` heading; errors in ``div#errors`` (one ``<li>``
each), confirmations in ``div#message``:

* *Account search* (``/main/search``, a GET form to ``/main/results``): ``ACCTNO`` (8 digits, exact),
  ``SURNAME`` and ``FORENAME`` (from the start), ``PCODE`` (a whole postcode, or its first half),
  ``ADDRESS`` (anywhere in the first two lines), ``NOTES`` (anywhere in the notes). Several accounts may
  match: *Search results* is ``table#results`` (Account (a link), Name ``SURNAME, Forename (Title)``,
  Property address, Postcode, Liable from, Status Live/Closed), ordered by surname, forename and account,
  a page at a time (``p#pager``: "Page 1 of 2 (4 accounts found)", links with access keys ``n``/``p``).
* *Council Tax account NNNNNNNN* (``/main/account?acct=``), the read-back: ``table#account`` (label and
  value cells), ``table#liabilities`` (Liability, Property, Address, Postcode, Band, From, To, Status),
  ``pre#notes``, and links "Change of address" and "Add note".
* *Change of address* (``/main/move?acct=``, posted to ``/main/move`` with hidden ``ACCTNO``):
  ``MOVEOUT`` (the last day liable, DD/MM/YYYY), ``NEWPCODE`` and the "Find (F4)" button (``CMD=Find``,
  fills the ``NEWPROP`` list with the register's properties at that postcode: option text
  ``P10020 9 Oak Avenue, Westgate, Northdale ND3 1EF``), ``MOVEIN``, ``NOTE`` (appended to the account's
  notes: where a bot keeps its reference), "Save (F10)" (``CMD=Save``). Saved, it redirects to the
  account with "Change of address saved. Liability L000003 ended 01/03/2025; new liability L000016 at
  ... from 02/03/2025." The rules and their messages are in :mod:`sandbox.revenues.rules`; a save and its
  note are one transaction, and saving the same move again is refused (the account has already moved).
* *Add note* (``/main/notes?acct=``): ``NOTE``; lines are stored as ``DD/MM/YYYY HH:MM user: text``.
* *Property register* (``/main/properties``): ``table#properties`` (Property, Address, Postcode, Band,
  Liable account(s) or "Empty").

**Faults**: "System busy" (HTTP 503, ``RV-503``) at ``error_rate``, decided first so a busy save saves
nothing; ``latency_ms`` on every answer; an idle session (``session_timeout_s``) sends any screen to
``/?expired=1`` ("Your session has timed out. Please log on again."), whose script reloads the whole window
out of the frames; during ``batch_window`` every screen shows ``div#batchBanner`` and a save is refused
with HTTP 503 and ``RV-423 The overnight batch is running: the system is read-only until HH:MM.``.

**Seeded records**: :mod:`sandbox.revenues.fixtures` (accounts, properties, liabilities and the
near-duplicates). :meth:`RevenuesServer.accounts` and :meth:`RevenuesServer.liabilities` read the store.
"""

from sandbox.revenues.config import RevenuesConfig
from sandbox.revenues.server import RevenuesServer, serve

__all__ = ["RevenuesConfig", "RevenuesServer", "serve"]
