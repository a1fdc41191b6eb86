"""Finding personal data and secrets in a text: where each is, and what it is.

- email: a bounded pattern for `local@domain.tld`;
- phone: Google's libphonenumber (`phonenumbers`), numbers valid for their country in any
  format people write them in (without a `+country` prefix, as written in `PHONE_REGION`);
- card: 13 to 19 digits (or groups spaced or dashed) with a card network's prefix and a
  valid Luhn check digit (`python-stdnum`);
- iban: a country code, check digits and an account, of the country's length and with a
  valid mod-97 checksum (`python-stdnum`);
- ssn: US Social Security numbers written `AAA-GG-SSSS` (or spaced), in the ranges ever
  issued (`python-stdnum`);
- ip: IPv4 and IPv6 addresses (`ipaddress`);
- secret: provider keys and tokens, private keys, JWTs, passwords in URLs
  (secret_formats.py).

A policy's own patterns are RE2 expressions, matched in time linear in the text, so no
pattern a tenant writes can make a scan run long. Every detector reads the folded text
(folding.py), and a finding's span is the original's. Person names are not detected: no
named-entity model that ships offline is good enough to trust here (docs/architecture.md).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stdnum import iban, luhn
from stdnum.us import ssn

from app.guardrails.folding import fold
from app.guardrails.secret_formats import FORMATS, private_keys

PHONE_REGION = "US"


@dataclass(frozen=True)
class Finding:
    """A value of `category` at [start, end) of the text; `kind` says what it is, in words
    that never quote it."""

    category: str
    start: int
    end: int
    kind: str


Spans = Iterator[tuple[int, int, str]]  # start, end and kind, in the folded text

# Each pattern begins with the characters a value can begin with, and only then looks behind
# (that the value does not begin inside a longer run): a pattern that begins with a look-behind
# is tried at every position of the text, one that begins with a class is skipped to where the
# class matches, several times faster on prose.

_EMAIL = re.compile(
    r"[A-Za-z0-9](?<![\w.%+-][A-Za-z0-9])[A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?\.){1,8}(?!(?:png|jpe?g|gif|svg|webp|bmp|ico)(?![\w-]))[A-Za-z]{2,24}(?![\w-])"
)  # an image's name at a pixel density (`logo@2x.png`) is no address
_CARD = re.compile(
    r"\d(?<![\d-]\d)(?:\d{12,18}|\d{3}(?P<sep>[ -])\d{2,6}(?:(?P=sep)\d{1,6}){1,4})(?![\d-])"
)
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3(?:0[0-5]|[689])|6(?:011|5|4[4-9]|2)|35")
_IBAN = re.compile(
    r"[A-Za-z](?<![A-Za-z0-9][A-Za-z])[A-Za-z]\d{2}(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])"
)
_SSN = re.compile(r"\d(?<![\d-]\d)\d{2}(?P<sep>[- ])\d{2}(?P=sep)\d{4}(?![\d-])")
_IPV4 = re.compile(r"\d(?<![\d.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\.?\d)")
#: Seven digits close together, the fewest a phone number has (`555 0100` is too few).
_SEVEN_DIGITS = re.compile(r"\d(?:\D{0,4}\d){6}")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def _emails(text: str) -> Spans:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        yield match.start(), match.end(), "an e-mail address"


def _cards(text: str) -> Spans:
    for match in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn.is_valid(digits):
            yield match.start(), match.end(), "a payment card number"


def _ibans(text: str) -> Spans:
    for match in _IBAN.finditer(text):
        candidate = match.group()
        # a run of letters and digits may end in a word the account is not part of
        for end in range(len(candidate), 14, -1):
            if candidate[end - 1] != " " and iban.is_valid(candidate[:end].upper()):
                yield match.start(), match.start() + end, "an IBAN"
                break


def _ssns(text: str) -> Spans:
    for match in _SSN.finditer(text):
        if ssn.is_valid(match.group().replace(" ", "-")):
            yield match.start(), match.end(), "a US Social Security number"


def _ips(text: str) -> Spans:
    for pattern in (_IPV4, _IPV6) if ":" in text else (_IPV4,):
        for match in pattern.finditer(text):
            try:
                ipaddress.ip_address(match.group())
            except ValueError:
                continue
            yield match.start(), match.end(), "an IP address"


def _phones(text: str) -> Spans:
    if not _SEVEN_DIGITS.search(text):
        return  # no number a phone's could be: libphonenumber is not asked
    import phonenumbers  # its metadata loads on first use: only policies that look pay

    for match in phonenumbers.PhoneNumberMatcher(text, PHONE_REGION):
        yield match.start, match.end, "a phone number"


def _secrets(text: str) -> Spans:
    lowered = text.lower()
    for secret in FORMATS:
        if not secret.may_occur(text, lowered):
            continue
        group = "value" if "value" in secret.pattern.groupindex else 0
        for match in secret.pattern.finditer(text):
            if len(set(match.group(group))) > 2:  # not `xxxxxxxx`, a value held back
                yield match.start(group), match.end(group), secret.kind
    for start, end in private_keys(text):
        yield start, end, "a private key"


DETECTORS: Mapping[str, Callable[[str], Spans]] = {
    "secret": _secrets, "card": _cards, "iban": _ibans, "ssn": _ssns, "email": _emails,
    "phone": _phones, "ip": _ips,
}  # fmt: skip
#: Where two findings overlap, the one whose category comes first is kept.
_PRIORITY = {category: rank for rank, category in enumerate(DETECTORS)}


def find(
    text: str, categories: Collection[str], patterns: Mapping[str, Any] | None = None
) -> list[Finding]:
    """The findings of `categories` in `text`, in order and not overlapping; `patterns` are a
    policy's own (compiled RE2 patterns by category name)."""
    if not text:
        return []
    folded = fold(text)
    found: list[tuple[int, int, int, str, str]] = []  # rank, start, end, category, kind
    for category in categories:
        detector = DETECTORS.get(category)
        if detector is not None:
            rank = _PRIORITY[category]
            found.extend((rank, start, end, category, kind)
                         for start, end, kind in detector(folded.text))  # fmt: skip
        elif patterns and category in patterns:
            for match in patterns[category].finditer(folded.text):
                if match.end() > match.start():
                    found.append((len(_PRIORITY), match.start(), match.end(), category,
                                  f"a match of the pattern {category!r}"))  # fmt: skip
    kept: list[Finding] = []
    taken: list[tuple[int, int]] = []  # spans kept so far, in order
    for _, start, end, category, kind in sorted(found, key=lambda f: (f[0], f[1], f[1] - f[2])):
        place = bisect.bisect(taken, (start, end))
        if (place and taken[place - 1][1] > start) or (
            place < len(taken) and taken[place][0] < end
        ):
            continue  # it overlaps one that comes first
        taken.insert(place, (start, end))
        kept.append(Finding(category, *folded.span(start, end), kind))
    kept.sort(key=lambda finding: finding.start)
    return kept
