"""An answer's text as it streams: each piece is scanned as it arrives, holding back only the
end that a finding (or a placeholder to restore) could still need.

What is held back is the end of the text that could be the start of a value still arriving:
- the last run without whitespace (an address, a key, a token, a placeholder; at most
  `MAX_RUN` characters, past which it is let go as it is);
- before it, groups of digits or capitals joined by spaces, as cards, IBANs, phone numbers
  and SSNs are written, and a name that says a secret follows (`password: `);
- a private key's armour, from its BEGIN line until its END line.
Everything before that is final: no value can begin there and end in text not seen yet, so
a value split over any number of pieces is found whole, and the text around it flows on.
"""

from __future__ import annotations

import re

from app.guardrails.guard import Guard
from app.guardrails.secret_formats import ARMOUR_END, SECRET_NAMES

MAX_RUN = 16384
#: Groups of digits or capitals, each followed by a space (with a dash, a dot, a bracket...).
_GROUPS = re.compile(r"(?<!\S)(?:[+(]?[0-9A-Z][0-9A-Z).\-/]{0,7}[ \t]{1,2}){1,8}\Z")
#: A name that says a secret follows: `password: `, `api_key = "`...
_NAMED = re.compile(SECRET_NAMES + r"[\"']?\s{0,3}(?:[:=]\s{0,3}[\"']?)?\Z")
_BEGIN_ARMOUR = "-----BEGIN"
_SPACE = re.compile(r"\s")


class TextStream:
    """One channel of a streamed answer (a choice's content, a tool call's arguments) through
    its request's guard."""

    def __init__(self, guard: Guard, where: str) -> None:
        self._guard = guard
        self._where = where
        self._held = ""
        self._run = 0  # where the last run without whitespace begins in `_held`

    def feed(self, piece: str) -> str:
        """The text now final, as the client may see it (empty while all is held)."""
        if not piece:
            return ""
        start = len(self._held)
        self._held += piece
        spaces = [match.end() for match in _SPACE.finditer(piece)]
        if spaces:
            self._run = start + spaces[-1]
        cut = self._cut()
        if cut == 0:
            return ""
        final, self._held = self._held[:cut], self._held[cut:]
        self._run -= cut
        return self._guard.answer_text(final, self._where)

    def end(self) -> str:
        """The rest, once the channel has ended."""
        final, self._held, self._run = self._held, "", 0
        return self._guard.answer_text(final, self._where) if final else ""

    def _cut(self) -> int:
        """Where the held text stops being final (module doc)."""
        held = self._held
        cut = self._run if len(held) - self._run <= MAX_RUN else len(held)
        window = max(0, cut - 160)
        for pattern in (_GROUPS, _NAMED):
            before = pattern.search(held, window, cut)
            if before is not None:
                cut = before.start()
        armour = held.rfind(_BEGIN_ARMOUR, 0, cut)
        if armour != -1 and len(held) - armour <= MAX_RUN:
            end = ARMOUR_END.search(held, armour)
            if end is None or end.end() > cut:  # a key not yet whole is not cut
                cut = armour
        return cut
