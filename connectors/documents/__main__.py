"""``python -m connectors.documents FORM FILE``: try a form definition on a sample form.

For the Continuous Improvement team (``runbooks/forms.md``): prints how the file was read, every field's
value against its printed label (marking those a person must confirm, and boxes it could not read), what
a supervisor would be asked to look at, and the validation result. Exit
status 0 when valid, 1 when the form has problems, 2 when it cannot be read as that form at all. Use
sample forms, not live ones: the values are printed to the terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connectors.documents.extract import Kind, extract, validate
from connectors.documents.forms import load_form
from connectors.errors import ClerkError, InvalidForm

_KINDS: dict[str, Kind] = {".docx": "docx", ".xlsx": "xlsx"}


def main(argv: list[str] | None = None) -> int:
    """What Clerk reads from a sample file as a form, and whether it passes validation."""
    parser = argparse.ArgumentParser(prog="python -m connectors.documents", description=main.__doc__)
    parser.add_argument("form", help="a form name in config/forms (blue_badge) or the path of a definition file")
    parser.add_argument("file", type=Path, help="a sample form: .pdf, .docx or .xlsx")
    parser.add_argument("--no-ocr", action="store_true", help="treat scans as Clerk does without Tesseract")
    options = parser.parse_args(argv)
    try:
        definition = load_form(options.form)
        kind: Kind = _KINDS.get(options.file.suffix.lower(), "pdf")
        extracted = extract(options.file.read_bytes(), kind, definition, ocr=False if options.no_ocr else None)
    except (ClerkError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{definition.title}: read by {extracted.method}, {extracted.pages} page(s), "
          f"version {extracted.version or 'not printed'}")  # fmt: skip
    for key, spec in definition.fields.items():
        value = "(could not read)" if key in extracted.unreadable else repr(extracted.values.get(key, "(not found)"))
        confirm = "  [confirm]" if key in extracted.needs_confirmation else ""
        print(f"  {spec.label:<32} {value}{confirm}")
    for reason in extracted.review:
        print(f"  For a supervisor: {reason}")
    try:
        validate(definition, extracted.values, extracted.unreadable)
    except InvalidForm as exc:
        print("Not valid:")
        for reason in exc.reasons:
            print(f"  - {reason}")
        return 1
    print("Valid.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
