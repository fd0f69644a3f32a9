"""Clerk's ports and adapters: one module per external system (mail, documents, audit, ledger, settings)."""
