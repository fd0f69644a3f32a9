"""A supplier invoice, as Clerk understands it once it has been read, and the checks made before paying it.

The arithmetic must hold to the penny (net + VAT = total) and the VAT must be one of the UK rates (0%, 5%
or 20% of the net amount, within a penny for rounding): an invoice that fails either goes back to the
supplier rather than into the ledger. Every message names the field as printed on invoices and says
what to do.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.errors import InvalidForm

LABELS: dict[str, str] = {
    "supplier": "Supplier",
    "invoice_number": "Invoice number",
    "invoice_date": "Invoice date",
    "po_number": "PO number",
    "net": "Net",
    "vat": "VAT",
    "total": "Total",
}

VAT_RATES = (Decimal("0"), Decimal("0.05"), Decimal("0.20"))
PENNY = Decimal("0.01")
OLDEST_YEARS = 6
"""Invoices older than this are past the limitation period for a debt and go to a person, not Clerk."""

_PO = re.compile(r"^PO[-/ ]?(\d{6})$", re.IGNORECASE)
_INVOICE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,29}$")
_MONEY = re.compile(r"^£?(\d{1,3}(,\d{3})*|\d+)(\.\d{1,2})?$")
_DATE_FORMATS = ("%d/%m/%Y", "%d %B %Y", "%d %b %Y")


def pounds(amount: Decimal) -> str:
    """£1,234.50"""
    return f"£{amount:,.2f}"


class SupplierInvoice(BaseModel):
    """A checked invoice. Build it with :func:`validate_invoice` to get messages staff can pass on."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    supplier: str = Field(title=LABELS["supplier"], min_length=1, max_length=100)
    invoice_number: str = Field(title=LABELS["invoice_number"])
    invoice_date: date = Field(title=LABELS["invoice_date"])
    po_number: str = Field(title=LABELS["po_number"])
    net: Decimal = Field(title=LABELS["net"])
    vat: Decimal = Field(title=LABELS["vat"])
    total: Decimal = Field(title=LABELS["total"])

    @field_validator("supplier", "invoice_number", "po_number", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return " ".join(str(value or "").split())

    @field_validator("invoice_number")
    @classmethod
    def _invoice_number(cls, value: str) -> str:
        if not value:
            raise ValueError("is missing. Please ask the supplier for an invoice that shows it.")
        if not _INVOICE_NUMBER.fullmatch(value):
            raise ValueError(f"'{value}' is not an invoice number (letters, digits, / - _ or ., up to 30)")
        return value

    @field_validator("po_number")
    @classmethod
    def _po_number(cls, value: str) -> str:
        match = _PO.fullmatch(value)
        if not match:
            raise ValueError(
                f"'{value}' is not one of our purchase order numbers (PO and six digits, like PO123456). "
                "Please ask the supplier to quote the PO number we gave them"
            )
        return f"PO{match.group(1)}"

    @field_validator("invoice_date", mode="before")
    @classmethod
    def _invoice_date(cls, value: object) -> date:
        if isinstance(value, date):
            return value
        text = " ".join(str(value or "").split())
        for layout in _DATE_FORMATS:
            try:
                return datetime.strptime(text, layout).date()
            except ValueError:
                continue
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            raise ValueError(f"'{text}' is not a real date")
        raise ValueError("must be a date written as DD/MM/YYYY or like 7 March 2024")

    @field_validator("invoice_date")
    @classmethod
    def _invoice_date_range(cls, issued: date) -> date:
        today = date.today()
        if issued > today:
            raise ValueError("is in the future")
        oldest = date(today.year - OLDEST_YEARS, today.month, min(today.day, 28 if today.month == 2 else 31))
        if issued < oldest:
            raise ValueError(f"is more than {OLDEST_YEARS} years ago; a person in Accounts Payable must deal with it")
        return issued

    @field_validator("net", "vat", "total", mode="before")
    @classmethod
    def _money(cls, value: object) -> Decimal:
        if isinstance(value, Decimal):
            return value
        text = str(value or "").replace(" ", "").removesuffix("GBP")
        if not _MONEY.fullmatch(text):
            raise ValueError("must be an amount in pounds and pence, like £1,234.56")
        try:
            return Decimal(text.lstrip("£").replace(",", "")).quantize(PENNY)
        except InvalidOperation:
            raise ValueError("must be an amount in pounds and pence, like £1,234.56") from None

    @model_validator(mode="after")
    def _arithmetic(self) -> SupplierInvoice:
        problems = arithmetic_problems(self.net, self.vat, self.total)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def vat_rate(self) -> Decimal:
        """The VAT rate charged (0, 0.05 or 0.20)."""
        return next(rate for rate in VAT_RATES if abs(self.net * rate - self.vat) <= PENNY)


def arithmetic_problems(net: Decimal, vat: Decimal, total: Decimal) -> list[str]:
    """Why the amounts do not add up, one sentence each (empty when they do)."""
    problems = []
    if net + vat != total:
        problems.append(
            f"Total: {pounds(total)} is not the net amount plus VAT ({pounds(net)} + {pounds(vat)} = "
            f"{pounds(net + vat)}). Please ask the supplier for a corrected invoice."
        )
    if not any(abs(net * rate - vat) <= PENNY for rate in VAT_RATES):
        problems.append(
            f"VAT: {pounds(vat)} is not 0%, 5% or 20% of the net amount {pounds(net)} (20% would be "
            f"{pounds((net * VAT_RATES[2]).quantize(PENNY))}). Please check the VAT with the supplier."
        )
    return problems


def _sentence(error: dict) -> list[str]:
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    loc = [str(part) for part in error.get("loc", ())]
    if not loc:  # the arithmetic rules: already whole sentences
        return message.split("\n")
    label = LABELS.get(loc[0], loc[0].replace("_", " ").capitalize())
    if error.get("type") == "missing":
        return [f"{label} is missing. Please ask the supplier for an invoice that shows it."]
    if error.get("type") == "string_too_short":
        return [f"{label} is empty. Please ask the supplier for an invoice that shows it."]
    if error.get("type") == "string_too_long":
        return [f"{label} is too long."]
    end = "" if message.endswith(".") else "."
    return [f"{label}: {message}{end}" if message.startswith("'") else f"{label} {message}{end}"]


def validate_invoice(fields: dict[str, object]) -> SupplierInvoice:
    """Build the invoice from the values read, or raise :class:`InvalidForm` listing every problem."""
    try:
        return SupplierInvoice.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    reasons = [sentence for error in errors for sentence in _sentence(error)]
    raise InvalidForm("The supplier invoice has problems.", reasons=reasons)
