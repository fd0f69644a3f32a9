"""Revenues' screens, one page object each (the frameset's ``main`` frame, the log-on page)."""
