"""Documents attached to emails: reading forms in every format staff send, and validating what they say.

``read_form(data, kind, form)`` is the entry point (``connectors.documents.extract``): a PDF form, a
printed PDF, a scan or a Word document becomes the process's validated model, driven by a form definition
in ``config/forms/``. ``read_blue_badge`` and ``read_form_fields`` are the original AcroForm-only readers,
kept for the flow until it moves over.
"""

from connectors.documents.extract import Extracted, extract, read_form
from connectors.documents.forms import FormDefinition, load_form, load_forms
from connectors.documents.pdf_form import read_blue_badge, read_form_fields

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
