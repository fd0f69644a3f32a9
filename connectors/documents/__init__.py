"""Documents attached to emails: reading forms in every format staff send, and validating what they say.

``read_form(data, kind, form)`` is the entry point (``connectors.documents.extract``): a PDF form, a
printed PDF, a scan, a Word document or an Excel workbook becomes the process's validated model, driven by a form definition
in ``config/forms/``. ``read_blue_badge`` and ``read_form_fields`` are the original AcroForm-only readers,
kept for the flow until it moves over.

The names below are imported on first use, not with the package: the readers pull in pypdf,
python-docx and openpyxl (most of a second), and the settings, ``clerk --help`` and ``clerk check-config`` only need
light modules of this package (``limits``, ``forms``).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.documents.extract import Extracted, extract, read_form
    from connectors.documents.forms import FormDefinition, load_form, load_forms
    from connectors.documents.pdf_form import read_blue_badge, read_form_fields

_HOME = {
    "Extracted": "extract",
    "extract": "extract",
    "read_form": "extract",
    "FormDefinition": "forms",
    "load_form": "forms",
    "load_forms": "forms",
    "read_blue_badge": "pdf_form",
    "read_form_fields": "pdf_form",
}

__all__ = [
    "Extracted",
    "FormDefinition",
    "extract",
    "load_form",
    "load_forms",
    "read_blue_badge",
    "read_form",
    "read_form_fields",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


class _Package(ModuleType):
    """``extract`` names both a submodule and the function it defines; the package's ``extract`` stays the
    function, as it was when this package imported its readers eagerly, whichever is imported first."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "extract" and isinstance(value, ModuleType):
            value = value.extract
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
