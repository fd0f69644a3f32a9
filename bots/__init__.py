"""Clerk's bots: the browser runtime (runtime.py) and one package per legacy application (casebook/)."""
