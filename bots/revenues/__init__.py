"""The Revenues bot: keys Council Tax changes of address into Revenues (bots/revenues/bot.py)."""
