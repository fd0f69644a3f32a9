"""The records every new Revenues database starts with: Northdale's property register and its Council Tax accounts.

The demo, the tests and the document generators rely on these exact records. All are made up; ``ND`` is
not a real postcode area.

Near-duplicates, on purpose (the right account is picked by account number and property address):

* Three **John Smiths**: 60010011 at 14 Park Road (live), 60010029 at 88 Park Road (live, same street) and
  60010045, who lived at 14 Park Road before (closed). **Jane Smith** (60010037) lives in Church Street.
* **Two people at one address**: David Hughes (60010079) and Grace Okafor (60010087) are both liable at
  5 Albert Terrace, ND2 3HS.
* **One building, several flats**: Flat 1 and Flat 2, 22 Station Road (ND1 2XY) are occupied; Flat 3 is empty.
* **Look-alike empty properties**: 9 Oak Avenue (ND3 1EF) and 9 Oak Close (ND3 1EG).
* **An empty property with history**: 12 Mill Lane (P10007), Imran Hussain's until 31/03/2019 (a move into it
  that starts on or before that date overlaps his liability and is refused).
* **An account with two liabilities**: Rhys Evans (60010142), Flat 2, 22 Station Road then 2 Chapel Lane.

:data:`VACANT` lists the properties nobody is liable for: the targets of a change of address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

TOWN = "Northdale"


@dataclass(frozen=True)
class Property:
    ref: str  # P and five digits
    address_1: str
    address_2: str  # the locality
    postcode: str
    band: str  # Council Tax band, A-H
    town: str = TOWN

    @property
    def address(self) -> str:
        """One line, as the result tables show it: ``14 Park Road, Eastfield, Northdale``."""
        return ", ".join(part for part in (self.address_1, self.address_2, self.town) if part)


@dataclass(frozen=True)
class Account:
    account_no: str  # eight digits
    title: str
    forenames: str
    surname: str
    notes: str = ""


@dataclass(frozen=True)
class Liability:
    """``account_no`` is liable for ``property_ref`` from ``start`` to ``end`` inclusive (None: still liable)."""

    ref: str  # L and six digits
    account_no: str
    property_ref: str
    start: date
    end: date | None = None


PROPERTIES: tuple[Property, ...] = (
    Property("P10001", "14 Park Road", "Eastfield", "ND1 4AB", "C"),
    Property("P10002", "88 Park Road", "Eastfield", "ND1 4AD", "D"),
    Property("P10003", "3 Church Street", "Millbrook", "ND2 7QT", "B"),
    Property("P10004", "Flat 1, 22 Station Road", "Eastfield", "ND1 2XY", "A"),
    Property("P10005", "Flat 2, 22 Station Road", "Eastfield", "ND1 2XY", "A"),
    Property("P10006", "5 Albert Terrace", "Millbrook", "ND2 3HS", "B"),
    Property("P10007", "12 Mill Lane", "Millbrook", "ND2 5LP", "C"),
    Property("P10008", "The Willows, Moor Lane", "Westgate", "ND3 9RR", "F"),
    Property("P10009", "41 Victoria Street", "Westgate", "ND3 4JD", "C"),
    Property("P10010", "7 Highfield Close", "Westgate", "ND3 6PL", "E"),
    Property("P10011", "19 Queens Road", "Eastfield", "ND1 8WN", "B"),
    Property("P10012", "2 Chapel Lane", "Millbrook", "ND2 1BE", "D"),
    # Empty: nobody is liable today.
    Property("P10020", "9 Oak Avenue", "Westgate", "ND3 1EF", "C"),
    Property("P10021", "9 Oak Close", "Westgate", "ND3 1EG", "C"),
    Property("P10022", "Flat 3, 22 Station Road", "Eastfield", "ND1 2XY", "A"),
    Property("P10023", "27 Windsor Drive", "Eastfield", "ND1 6TU", "D"),
    Property("P10024", "6 Manor Way", "Millbrook", "ND2 8NB", "C"),
    Property("P10025", "101 Park Road", "Eastfield", "ND1 4AF", "C"),
    Property("P10026", "Rose Cottage, Mill Lane", "Millbrook", "ND2 5LR", "E"),
    Property("P10027", "15 The Crescent", "Westgate", "ND3 2AW", "B"),
    Property("P10028", "33 Station Road", "Eastfield", "ND1 2YA", "B"),
    Property("P10029", "Flat 4, 8 Queens Road", "Eastfield", "ND1 8WP", "A"),
    Property("P10030", "50 Victoria Street", "Westgate", "ND3 4JE", "C"),
    Property("P10031", "4 Albert Terrace", "Millbrook", "ND2 3HS", "B"),
    Property("P10032", "68 Church Street", "Millbrook", "ND2 7QU", "C"),
    Property("P10033", "11 Mill Lane", "Millbrook", "ND2 5LP", "C"),
)

ACCOUNTS: tuple[Account, ...] = (
    Account("60010011", "Mr", "John", "Smith", "Single person discount from 01/04/2016."),
    Account("60010029", "Mr", "John", "Smith"),
    Account("60010037", "Mrs", "Jane", "Smith"),
    Account("60010045", "Mr", "John", "Smith", "Moved away. Final bill paid 02/05/2016."),
    Account("60010053", "Mrs", "Aisha", "Khan"),
    Account("60010061", "Mr", "Tomasz", "Nowak"),
    Account("60010079", "Mr", "David", "Hughes", "Joint occupiers with 60010087."),
    Account("60010087", "Miss", "Grace", "Okafor", "Joint occupiers with 60010079."),
    Account("60010095", "Mr", "Imran", "Hussain", "Account closed 31/03/2019."),
    Account("60010100", "Ms", "Priya", "Patel"),
    Account("60010118", "Mr", "Piotr", "Kowalski"),
    Account("60010126", "Mrs", "Margaret", "Holroyd", "Direct Debit on the 15th."),
    Account("60010134", "Mr", "Sean", "O'Brien"),
    Account("60010142", "Mr", "Rhys", "Evans"),
)

LIABILITIES: tuple[Liability, ...] = (
    Liability("L000001", "60010045", "P10001", date(2009, 6, 1), date(2016, 3, 31)),
    Liability("L000002", "60010011", "P10001", date(2016, 4, 1)),
    Liability("L000003", "60010029", "P10002", date(2019, 9, 12)),
    Liability("L000004", "60010037", "P10003", date(2018, 6, 1)),
    Liability("L000005", "60010053", "P10004", date(2021, 1, 15)),
    Liability("L000006", "60010142", "P10005", date(2016, 2, 1), date(2019, 1, 6)),
    Liability("L000007", "60010061", "P10005", date(2022, 8, 1)),
    Liability("L000008", "60010079", "P10006", date(2017, 2, 1)),
    Liability("L000009", "60010087", "P10006", date(2017, 2, 1)),
    Liability("L000010", "60010095", "P10007", date(2012, 4, 1), date(2019, 3, 31)),
    Liability("L000011", "60010100", "P10008", date(2015, 10, 1)),
    Liability("L000012", "60010118", "P10009", date(2020, 11, 16)),
    Liability("L000013", "60010126", "P10010", date(2014, 5, 1)),
    Liability("L000014", "60010134", "P10011", date(2023, 3, 1)),
    Liability("L000015", "60010142", "P10012", date(2019, 1, 7)),
)

_occupied = {liability.property_ref for liability in LIABILITIES if liability.end is None}
VACANT: tuple[Property, ...] = tuple(p for p in PROPERTIES if p.ref not in _occupied)
"""Properties nobody is liable for (12 Mill Lane among them, with its past liability)."""
LIVE: tuple[Account, ...] = tuple(
    a for a in ACCOUNTS if any(li.account_no == a.account_no and li.end is None for li in LIABILITIES)
)
"""Accounts with a current liability: the residents who can move."""


def property_by_ref(ref: str) -> Property:
    return next(p for p in PROPERTIES if p.ref == ref)


def current_property(account_no: str) -> Property:
    """The property a live account is liable for today."""
    ref = next(li.property_ref for li in LIABILITIES if li.account_no == account_no and li.end is None)
    return property_by_ref(ref)
