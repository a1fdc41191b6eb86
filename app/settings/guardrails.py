"""A guardrail policy: what is done with personal data and secrets found in a request or an
answer, by category and direction. An alias, a tenant and a key may each have one (how they
combine: app/guardrails/policy.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

#: What the detectors find (app/guardrails/detectors.py); a policy's own patterns add more.
CATEGORIES = ("email", "phone", "card", "iban", "ssn", "ip", "secret")
#: allow: passes unchanged; mask: a typed placeholder goes to the provider and the original is
#: put back in the answer the client sees (requests only); redact: the placeholder stays;
#: block: the request (or the answer) is refused, naming the category and where it was.
Action = Literal["allow", "mask", "redact", "block"]
PatternName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
#: A pattern a tenant writes: RE2's syntax, matched in time linear in the text.
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class GuardrailPolicy(BaseModel):
    """Actions by category, for requests (before any provider sees them) and answers (before
    any client sees them); a category left out is allowed."""

    model_config = {"extra": "forbid"}

    request: dict[str, Action] = Field(
        default_factory=dict, description="By category (email, phone, card, iban, ssn, ip, "
        "secret, or a pattern's name): what is done with it in a request."
    )  # fmt: skip
    response: dict[str, Action] = Field(
        default_factory=dict, description="The same for answers; `mask` is for requests only "
        "(an answer's own finding has no original to put back): use `redact`."
    )  # fmt: skip
    patterns: dict[PatternName, Pattern] = Field(
        default_factory=dict, description="Categories of its own: name -> RE2 pattern, e.g. "
        "`order_ref: 'ORD-[0-9]{8}'`."
    )  # fmt: skip
    dry_run: bool = Field(
        False, description="Count what the policy would do without doing it (an alias's own "
        "policy is still applied)."
    )  # fmt: skip
    store_masked: bool = Field(
        False, description="What the server keeps of a conversation (/chat's sessions, kept "
        "/v1/responses) holds what this policy masks or redacts in requests as placeholders "
        "(`[EMAIL]`), never the originals."
    )  # fmt: skip

    @model_validator(mode="after")
    def _known_categories(self) -> GuardrailPolicy:
        clash = set(self.patterns) & set(CATEGORIES)
        if clash:
            raise ValueError(f"patterns: {sorted(clash)[0]!r} is a built-in category; rename it")
        known = {*CATEGORIES, *self.patterns}
        for direction, actions in (("request", self.request), ("response", self.response)):
            for category in actions:
                if category not in known:
                    raise ValueError(
                        f"{direction}: unknown category {category!r}; use one of "
                        f"{', '.join(CATEGORIES)} or a name in patterns"
                    )
        masked = [category for category, action in self.response.items() if action == "mask"]
        if masked:
            raise ValueError(f"response.{masked[0]}: mask is for requests only; use redact")
        for name, pattern in self.patterns.items():
            problem = pattern_problem(pattern)
            if problem:
                raise ValueError(f"patterns.{name}: {problem}")
        return self

    @property
    def acts(self) -> bool:
        """Whether it does (or, in a dry run, would do) anything."""
        return any(
            action != "allow" for actions in (self.request, self.response)
            for action in actions.values()
        )  # fmt: skip


class ModerationSpec(BaseModel):
    """A moderation deployment asked about every request of an alias before its provider is:
    its verdict blocks the request, or flags it (counted, and let through)."""

    model_config = {"extra": "forbid"}

    model: str = Field(description="The alias of a deployment that serves /v1/moderations.")
    action: Literal["block", "flag"] = Field(
        "block", description="block: a flagged request is a 400 guardrail_blocked naming what "
        "was flagged; flag: it is counted on its ledger row and let through."
    )  # fmt: skip


def pattern_problem(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None."""
    import re2  # only a policy with patterns of its own pays for it

    try:
        compiled = re2.compile(pattern)
    except re2.error as exc:
        return f"not a valid RE2 pattern ({exc}); RE2 has no look-arounds or back-references"
    if compiled.search(""):
        return "matches the empty text; make it match at least one character"
    return None
