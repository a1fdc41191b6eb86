"""Text as the detectors read it: look-alikes folded to what they look like, invisible
characters dropped, each character mapped back to where it came from.

A value written in full-width digits or letters (and other compatibility forms), other
scripts' digits, a few Cyrillic and Greek letters that look Latin, or with zero-width
characters inside it, is found as if written plainly; what is replaced is the original text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

#: Letters of other scripts that pass for Latin ones in an address or a key's prefix: the
#: Cyrillic and Greek letters (escaped here) in the first string, what they look like in the
#: second.
_LOOK_ALIKES = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0445\u0443\u0455\u0456\u0458"
    "\u04bb\u043a\u043c\u0442\u0432\u043d\u0410\u0412\u0415\u041a"
    "\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0405\u0406\u0408"
    "\u03bf\u03b1\u03b5\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5\u0391"
    "\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1"
    "\u03a4\u03a7\u03a5",
    "aeopcxysijhkmtbhABEKMHOPCTXSIJoaeikvptuABEZHIKMNOPTXY",
)


@dataclass(frozen=True)
class Folded:
    """`text` folded; `origin[i]` is where its character i comes from in the original text
    (None: the text is its own fold)."""

    text: str
    origin: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's span of the folded span [start, end)."""
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if unicodedata.category(char) == "Cf":  # zero-width spaces, joiners, soft hyphens
        return ""
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1 and not folded.isascii():
        digit = unicodedata.decimal(folded, None)
        if digit is not None:
            return str(digit)
        folded = folded.translate(_LOOK_ALIKES)
    return folded


def fold(text: str) -> Folded:
    """`text` as the detectors read it (module doc). ASCII text is its own fold."""
    if text.isascii():
        return Folded(text)
    parts: list[str] = []
    origin: list[int] = []
    for place, char in enumerate(text):
        folded = char if char.isascii() else _fold_char(char)
        parts.append(folded)
        origin.extend([place] * len(folded))
    return Folded("".join(parts), origin)
