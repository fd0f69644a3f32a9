"""The Finance (purchase ledger) bot: keys supplier invoices (bots/finance/bot.py, runbooks/supplier-invoice.md)."""
