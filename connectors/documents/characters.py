"""The characters of a value read from a form: invisible ones removed, and alphabets mixed in one value noticed.

Text copied from a web page, a PDF or a chat carries characters nobody sees: zero-width spaces and joiners,
a byte-order mark, soft hyphens, and the bidirectional controls (LRO, RLO, PDF, the isolates) that can
make text display in another order than it is stored. They split one name into two for every comparison
Clerk and the legacy application make (the applicant key, a search, a duplicate check), so every value
is cleaned by :func:`clean` before it is validated: composed to Unicode's NFC form and stripped of every
*format* character (general category Cf).

Letters from two alphabets in one value ("Smith" with a Cyrillic "і") look like one name and are two. That
is not the sender's mistake to be refused, nor a value to key unseen: :func:`mixed_scripts` names the
alphabets so that the item goes to a supervisor.
"""

from __future__ import annotations

import unicodedata

_EAST_ASIAN = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"})
"""Writing systems used together in one name (Japanese mixes kanji and kana): counted as one."""
_NOT_AN_ALPHABET = frozenset({"MODIFIER", "COMBINING"})
"""Letters of no alphabet in particular (the modifier apostrophe in O\u02bcBrien)."""
_WIDTHS = frozenset({"FULLWIDTH", "HALFWIDTH"})


def clean(text: str) -> str:
    """``text`` in NFC with every format character (category Cf) removed."""
    composed = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in composed if unicodedata.category(ch) != "Cf")


def alphabet(ch: str) -> str | None:
    """The alphabet (Unicode script, as the first word of the character's name) of a letter, or None for
    anything that is not a letter of a particular alphabet."""
    if not ch.isalpha():
        return None
    words = unicodedata.name(ch, "").split()
    if not words:
        return None
    if words[0] in _WIDTHS and len(words) > 1:
        words = words[1:]
    if words[0] in _NOT_AN_ALPHABET:
        return None
    return "CJK" if words[0] in _EAST_ASIAN else words[0]


def mixed_scripts(text: str) -> list[str]:
    """The alphabets of ``text``'s letters, in order of first use, when there is more than one ("Latin",
    "Cyrillic"); an empty list when its letters share one alphabet."""
    found: list[str] = []
    for ch in text:
        name = alphabet(ch)
        if name is not None and name.title() not in found:
            found.append(name.title())
    return found if len(found) > 1 else []
