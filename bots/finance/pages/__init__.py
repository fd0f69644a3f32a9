"""Finance's screens, one page object each (bots.pages.Screen): the sign-in dialog, the invoices grid, the
New invoice dialog, the Invoice saved dialog and an invoice's own dialog."""
