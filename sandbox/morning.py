"""A council's mixed morning of mail for `clerk demo`: Blue Badge applications, Council Tax changes of
address and supplier invoices, arriving interleaved as they would in one shared mailbox.

Each process's own generator says what should become of each of its emails; the morning keeps every
generator's order (a resend still arrives after its original) and shuffles only how the three interleave.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sandbox.mailgen import Batch, demo_batch


@dataclass
class Morning(Batch):
    """A :class:`Batch` that also knows which process each email is for (``process[i]``)."""

    process: list[str] = field(default_factory=list)

    def count(self, process: str) -> int:
        return self.process.count(process)


def process_batches(seed: int, blue_badge: int) -> dict[str, Batch]:
    """Each process's share of the morning, by process name."""
    from sandbox.council_tax_mail import council_tax_batch
    from sandbox.invoice_mail import invoice_mail

    return {"blue_badge": demo_batch(seed, valid=blue_badge),
            "council_tax_move": council_tax_batch(seed),
            "supplier_invoice": invoice_mail(seed)}


def mixed_morning(seed: int = 2026, blue_badge: int = 10) -> Morning:
    """Every process's emails in one delivery order: at each step the next email comes from a process
    chosen at random, weighted by how many it has left."""
    rng = random.Random(seed)
    left = {name: list(zip(batch.messages, batch.expected, strict=True))
            for name, batch in process_batches(seed, blue_badge).items()}
    morning = Morning()
    while any(left.values()):
        names = [name for name, emails in left.items() if emails]
        name = rng.choices(names, weights=[len(left[name]) for name in names])[0]
        message, expected = left[name].pop(0)
        morning.add(message, expected)
        morning.process.append(name)
    return morning
