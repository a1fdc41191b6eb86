"""How policies combine into a call's rules, what a guard does with them, and the errors a
bad policy gets."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from app.errors import BadRequest
from app.guardrails import Guard, client_policy, rules_for
from app.settings import GuardrailPolicy


def policy(**fields) -> GuardrailPolicy:
    return GuardrailPolicy(**fields)


def test_a_keys_policy_overrides_its_tenants_category_by_category():
    tenant = policy(request={"email": "block", "card": "mask"})
    key = policy(request={"email": "mask"})
    assert client_policy(tenant, key).request == {"email": "mask", "card": "mask"}
    assert client_policy(tenant, None) is tenant and client_policy(None, key) is key


def test_an_alias_policy_is_a_floor_the_client_can_raise_but_not_lower():
    floor = policy(request={"secret": "block", "email": "mask"})
    rules = rules_for(floor, policy(request={"secret": "allow", "email": "block", "ip": "redact"}))
    assert rules.request == {"secret": "block", "email": "block", "ip": "redact"}


def test_a_dry_run_keeps_the_floor_and_only_counts_the_rest():
    floor = policy(request={"secret": "block"})
    rules = rules_for(floor, policy(request={"email": "mask", "secret": "mask"}, dry_run=True))
    assert (rules.request, rules.trial_request) == ({"secret": "block"}, {"email": "mask"})
    counts: Counter[str] = Counter()
    guard = Guard(rules, counts)
    assert guard.request_text("to a@example.com", "m") == "to a@example.com"
    assert counts == {"request.email.dry_run_mask": 1}


def test_no_rules_when_no_policy_acts():
    assert rules_for(None, None) is None
    assert rules_for(policy(request={"email": "allow"}), policy()) is None


def test_the_same_value_gets_the_same_placeholder_and_redaction_keeps_none():
    rules = rules_for(None, policy(request={"email": "mask", "ip": "redact"}))
    guard = Guard(rules, Counter())
    text = "a@example.com, b@example.com, a@example.com at 10.0.0.1"
    masked = guard.request_text(text, "m")
    assert masked == "[EMAIL_1], [EMAIL_2], [EMAIL_1] at [IP]"
    assert guard.restore("[EMAIL_2] [IP] [EMAIL_9]") == "b@example.com [IP] [EMAIL_9]"


def test_a_blocked_request_names_the_category_and_place_never_the_value():
    guard = Guard(rules_for(None, policy(request={"card": "block"})), Counter())
    with pytest.raises(BadRequest) as refused:
        guard.request_text("pay 4111 1111 1111 1111", "messages[3].content")
    assert refused.value.param == "messages[3].content"
    assert "'card'" in refused.value.message and "4111" not in refused.value.message


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"request": {"emails": "mask"}}, "unknown category 'emails'"),
        ({"response": {"email": "mask"}}, "mask is for requests only"),
        ({"request": {"email": "hide"}}, "Input should be 'allow', 'mask', 'redact' or 'block'"),
        ({"patterns": {"email": "x+"}}, "'email' is a built-in category"),
        ({"patterns": {"ref": "(?=x)y"}}, "not a valid RE2 pattern"),
        ({"patterns": {"ref": "x*"}}, "matches the empty text"),
        ({"patterns": {"Bad Name": "x"}}, "String should match pattern"),
    ],
)
def test_a_bad_policy_is_refused_with_what_to_fix(fields, says):
    with pytest.raises(ValidationError) as refused:
        GuardrailPolicy(**fields)
    assert says in str(refused.value)
