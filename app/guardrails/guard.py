"""One request's texts under its rules: what a provider may see, and what its client may.

A request's text (`Guard.request_text`) has each finding of the request's rules allowed,
masked (`[EMAIL_1]`, kept in this guard alone), redacted (`[EMAIL]`) or refused. An answer's
text (`Guard.answer_text`) has the answer's own findings redacted or refused, then the masked
originals put back. The originals are this request's: a placeholder a client writes itself
is never given out (a number a request's text already holds is not used), and no other
request's guard is ever asked. What was done is counted by direction, category and action,
never with the value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from app.errors import BadRequest
from app.guardrails.detectors import Finding, find
from app.guardrails.policy import Rules, keeping_rules
from app.settings import GuardrailPolicy

_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]{0,40}_\d{1,6}\]")


def blocked(direction: str, finding: Finding, where: str) -> BadRequest:
    """The refusal of a request (or an answer) holding `finding` at `where`: it names the
    category and the place, never the value."""
    whose = "The request" if direction == "request" else "The model's answer"
    fix = (
        "take it out, or ask an admin for a policy that masks it" if direction == "request"
        else "ask again without asking for it, or ask an admin for a policy that redacts it"
    )  # fmt: skip
    return BadRequest(
        f"{whose} holds {finding.kind} (guardrail category '{finding.category}') in {where}, "
        f"which its guardrail policy blocks: {fix}.",
        param=where, code="guardrail_blocked",
    )  # fmt: skip


class Guard:
    """A request's calls to one alias under its rules (module doc); `counts` are shared
    with the request's account."""

    def __init__(self, rules: Rules, counts: Counter[str], texts: Iterable[str] = ()) -> None:
        self.rules = rules
        self.counts = counts
        self._asked = rules.looks_for("request")
        self._answered = rules.looks_for("response")
        #: Placeholders the request's own texts hold: not ours to give.
        self._forged = {match for text in texts for match in _PLACEHOLDER.findall(text)}
        self._originals: dict[str, str] = {}
        self._given: dict[tuple[str, str], str] = {}
        self._numbers: Counter[str] = Counter()

    @property
    def masks(self) -> bool:
        return bool(self._originals)

    @property
    def scans_answers(self) -> bool:
        return bool(self._answered) or self.masks

    def request_text(self, text: str, where: str) -> str:
        """`text` as the provider may see it; refused if it holds what is blocked."""
        if not self._asked:
            return text
        return self._apply("request", text, find(text, self._asked, self.rules.patterns), where)

    def answer_text(self, text: str, where: str) -> str:
        """`text` of an answer as its client may see it (module doc)."""
        if self._answered:
            found = find(text, self._answered, self.rules.patterns)
            text = self._apply("response", text, found, where)
        return self.restore(text) if self._originals else text

    def restore(self, text: str) -> str:
        """`text` with this request's masked originals put back."""
        return _PLACEHOLDER.sub(lambda m: self._originals.get(m.group(), m.group()), text)

    def _apply(self, direction: str, text: str, found: list[Finding], where: str) -> str:
        if not found:
            return text
        acts = self.rules.request if direction == "request" else self.rules.response
        trial = self.rules.trial_request if direction == "request" else self.rules.trial_response
        parts: list[str] = []
        at = 0
        for finding in found:
            category = finding.category
            if category in trial:
                self.counts[f"{direction}.{category}.dry_run_{trial[category]}"] += 1
            action = acts.get(category, "allow")
            if action == "allow":
                continue
            self.counts[f"{direction}.{category}.{action}"] += 1
            if action == "block":
                raise blocked(direction, finding, where)
            original = text[finding.start : finding.end]
            parts += (text[at : finding.start], self._placeholder(category, original, action))
            at = finding.end
        return "".join((*parts, text[at:])) if parts else text

    def _placeholder(self, category: str, original: str, action: str) -> str:
        if action == "redact":
            return f"[{category.upper()}]"
        given = self._given.get((category, original))
        if given is None:
            while True:
                self._numbers[category] += 1
                given = f"[{category.upper()}_{self._numbers[category]}]"
                if given not in self._forged:
                    break
            self._given[category, original] = given
            self._originals[given] = original
        return given


def keeper(client: GuardrailPolicy | None) -> Callable[[str], str] | None:
    """How a text is kept on the server under a client's policy: with what it masks or
    redacts in requests as placeholders when it says `store_masked`; None: as sent. What is
    kept is not what was sent: it is counted nowhere."""
    rules = keeping_rules(client)
    if rules is None:
        return None
    guard = Guard(rules, Counter())
    return lambda text: guard.request_text(text, "kept")
