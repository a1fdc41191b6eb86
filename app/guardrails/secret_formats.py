"""What a secret looks like: the formats providers document for their keys and tokens, private
keys, JWTs, passwords in URLs, and a value given to a name that says it is secret.

Each format is a regular expression on folded text (folding.py) whose group `value` (or the
whole match) is the secret; every quantifier is bounded, so none can backtrack for long. A
private key is found by its armour lines, with `str.find` (one pass, whatever the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Names that say the value given to them is a secret.
SECRET_NAMES = (
    r"(?i:(?<![a-z])(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|password|"
    r"passwd|pwd|aws_?secret_?(?:access_?)?key))"
)


@dataclass(frozen=True)
class Format:
    """What a secret is, its pattern, and text one must hold for the pattern to be tried (in
    lower case when `any_case`): most texts hold none, and a scan skips the pattern."""

    kind: str
    pattern: re.Pattern[str]
    anchors: tuple[str, ...]
    any_case: bool = False

    def may_occur(self, text: str, lowered: str) -> bool:
        within = lowered if self.any_case else text
        return any(anchor in within for anchor in self.anchors)


FORMATS: tuple[Format, ...] = tuple(
    Format(kind, re.compile(pattern), anchors, any_case)
    for kind, pattern, anchors, any_case in (
        ("an Anthropic API key", r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,200}", ("sk-ant-",), False),
        ("an OpenAI API key",
         r"(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}", ("sk-",), False),
        ("an AWS access key ID", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Z0-9])",
         ("AKIA", "ASIA", "ABIA", "ACCA"), False),
        ("an AWS secret access key",
         r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
         r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", ("aws",), True),
        ("a GitHub token", r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), False),
        ("a GitLab token", r"(?<!\w)glpat-[A-Za-z0-9_-]{20,64}", ("glpat-",), False),
        ("a Slack token", r"(?<!\w)xox[abposr]-[A-Za-z0-9-]{10,250}", ("xox",), False),
        ("a Slack webhook",
         r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,16}/B[A-Z0-9]{6,16}/[A-Za-z0-9]{16,64}",
         ("hooks.slack.com",), False),
        ("a Google API key", r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])", ("AIza",), False),
        ("a Stripe key", r"(?<!\w)(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,99}",
         ("_live_", "_test_"), False),
        ("a Hugging Face token", r"(?<!\w)hf_[A-Za-z0-9]{30,40}(?!\w)", ("hf_",), False),
        ("an npm token", r"(?<!\w)npm_[A-Za-z0-9]{36}(?!\w)", ("npm_",), False),
        ("a JWT", r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,4096}\."
                  r"[A-Za-z0-9_-]{8,4096}", ("eyJ",), False),
        ("a password in a URL",
         r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@]{0,128}:(?P<value>[^\s@/]{1,128})@",
         ("://",), False),
        ("a secret given by name",
         SECRET_NAMES + r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
         r"(?![<*]|\$\{|\{\{|%\()(?P<value>[^\s\"',;]{8,256})",  # not `<token>`, `${X}`...
         ("key", "secret", "token", "pass", "pwd"), True),
    )
)  # fmt: skip

_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
ARMOUR_END = re.compile(r"-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_ARMOURED = re.compile(r"(?:\s{0,4}[A-Za-z0-9+/=]{16,128}){0,256}")  # one cut off before END


def private_keys(text: str) -> Iterator[tuple[int, int]]:
    """The spans of private keys in `text`, armour lines included: to the END line, or, for
    one cut off, to the end of its base64."""
    at, end, ends = 0, None, True
    while (begin := _BEGIN.search(text, at)) is not None:
        if ends and (end is None or end.start() < begin.end()):
            end = ARMOUR_END.search(text, begin.end())  # each END line is looked for once
            ends = end is not None
        if end is not None and end.start() - begin.end() <= 16384:
            yield begin.start(), end.end()
            at = end.end()
        else:
            body = _ARMOURED.match(text, begin.end())
            stop = body.end() if body else begin.end()
            yield begin.start(), stop
            at = stop
