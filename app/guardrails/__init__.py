"""Guardrails: personal data and secrets in requests and answers, found and allowed, masked,
redacted or blocked by the policies of a call's alias, tenant and key.

    detectors.py       what is found, and where (folding.py: look-alikes read plainly)
    policy.py          an alias's, a tenant's and a key's policies made one call's rules
    guard.py           one request's texts under its rules: masked, restored, refused, counted
    streaming.py       a streamed answer's text, held back only where a value may still arrive

It knows texts, not any API's bodies: the providers' guard step (app/providers) walks those.
"""

from app.guardrails.detectors import Finding, find
from app.guardrails.guard import Guard, keeper
from app.guardrails.policy import Rules, client_policy, keeping_rules, rules_for
from app.guardrails.streaming import TextStream

__all__ = [
    "Finding", "Guard", "Rules", "TextStream", "client_policy", "find", "keeper",
    "keeping_rules", "rules_for",
]  # fmt: skip
