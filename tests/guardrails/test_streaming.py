"""A streamed answer's text through its guard: however its pieces fall, the client gets what
the whole answer would give, and text with nothing pending flows on at once."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from app.errors import BadRequest
from app.guardrails import Guard, TextStream, rules_for
from app.settings import GuardrailPolicy

ANSWERS = [
    "Sure [EMAIL_1], here: AKIAIOSFODNN7EXAMPLE and 4111 1111 1111 1111 or +1 415 555 2671, "
    "IBAN GB82 WEST 1234 5698 7654 32 ok. password: hunter2hunter2 done [EMAIL_2].",
    "ssn 123-45-6789 ip 10.1.2.3 at postgres://u:verysecret@h/x\n-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    "\nbye eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "Call (212) 555-0100 or 4111-1111-1111-1111 and api_key = 'abcd1234efgh5678'",
]
REDACTS = GuardrailPolicy(
    request={"email": "mask"},
    response={c: "redact" for c in ("secret", "card", "iban", "phone", "ssn", "ip")},
)


def guard() -> Guard:
    masked = Guard(rules_for(None, REDACTS), Counter(), ["a forged [EMAIL_1]"])
    assert masked.request_text("write to jane@example.com", "m") == "write to [EMAIL_2]"
    return masked


def streamed(guard: Guard, pieces: list[str]) -> str:
    stream = TextStream(guard, "choices[0].delta.content")
    return "".join(stream.feed(piece) for piece in pieces) + stream.end()


@pytest.mark.parametrize("answer", ANSWERS, ids=["pii", "keys", "named"])
def test_any_split_of_an_answer_streams_what_the_whole_answer_gives(answer):
    chance = random.Random(answer)  # seeded: the same splits every run
    whole = guard().answer_text(answer, "x")
    assert "[EMAIL_1]" in whole or "[EMAIL_1]" not in answer  # the forged one stays as written
    for _ in range(300):
        cuts = sorted(chance.sample(range(1, len(answer)), chance.randint(1, 40)))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
        assert streamed(guard(), pieces) == whole, pieces


def test_text_with_nothing_pending_flows_on_at_once():
    stream = TextStream(guard(), "content")
    assert stream.feed("The capital of France is ") == "The capital of France is "
    assert stream.feed("Par") == ""  # a word could be the start of an address
    assert stream.feed("is. It is") == "Paris. It "
    assert stream.end() == "is"


def test_a_blocked_value_raises_when_its_end_arrives():
    refuses = Guard(rules_for(None, GuardrailPolicy(response={"secret": "block"})), Counter())
    stream = TextStream(refuses, "choices[0].delta.content")
    assert stream.feed("Here it is: AKIAIOSF") == "Here it is: "
    with pytest.raises(BadRequest) as refused:
        stream.feed("ODNN7EXAMPLE now")
    assert refused.value.code == "guardrail_blocked"
    assert refused.value.param == "choices[0].delta.content"
    assert "AKIA" not in refused.value.message


def test_an_overlong_run_is_let_go_rather_than_held_for_ever():
    stream = TextStream(guard(), "content")
    run = "x" * 20_000
    assert stream.feed(run) == run
