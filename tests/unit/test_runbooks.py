"""Every error code Clerk can raise is explained in a runbook."""

import inspect
from pathlib import Path

import connectors.errors as errors
import connectors.ledger as ledger
import flows.prefect_server as prefect_server

ROOT = Path(__file__).resolve().parents[2]


def test_every_error_code_has_a_runbook_entry():
    text = "\n".join(path.read_text() for path in (ROOT / "runbooks").glob("*.md"))
    codes = {
        cls.code
        for module in (errors, ledger, prefect_server)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, errors.ClerkError) and cls.code not in {"CLERK", "BUSINESS", "SYSTEM"}
    }
    codes |= {"FORM_MULTIPLE", "UNEXPECTED", "EXTERNAL_SENDER"}  # codes given at the raise site
    missing = sorted(code for code in codes if f"**{code}**" not in text)
    assert not missing, f"error codes with no runbook entry: {missing}"
