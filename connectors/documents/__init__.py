"""Documents attached to emails: reading the Blue Badge application form and validating what it says."""

from connectors.documents.pdf_form import read_blue_badge, read_form_fields

__all__ = ["read_blue_badge", "read_form_fields"]
