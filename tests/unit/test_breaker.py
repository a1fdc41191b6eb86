"""The circuit breaker's states, on a clock the test moves."""

from __future__ import annotations

from app.providers.breaker import CircuitBreakers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_lets_one_trial_through_after_cooldown():
    clock = Clock()
    breakers = CircuitBreakers(threshold=3, cooldown=30, clock=clock)
    for _ in range(2):
        breakers.failed("d")
    assert breakers.state("d") == "closed" and breakers.allow("d")
    breakers.failed("d")
    assert breakers.state("d") == "open" and not breakers.allow("d")
    assert breakers.retry_after("d") == 30
    clock.now = 31
    assert breakers.state("d") == "half_open"
    assert breakers.allow("d")  # the one trial
    assert not breakers.allow("d")  # nobody else meanwhile
    breakers.failed("d")  # the trial failed: open again for a full cool-down
    assert breakers.state("d") == "open"
    clock.now = 62
    assert breakers.allow("d")
    breakers.succeeded("d")
    assert breakers.state("d") == "closed" and breakers.allow("d")


def test_a_success_resets_the_count_and_an_abandoned_trial_frees_the_slot():
    clock = Clock()
    breakers = CircuitBreakers(threshold=2, cooldown=10, clock=clock)
    breakers.failed("d")
    breakers.succeeded("d")
    breakers.failed("d")
    assert breakers.state("d") == "closed"
    breakers.failed("d")
    clock.now = 11
    assert breakers.allow("d")
    breakers.abandoned("d")  # e.g. the client left during the trial
    assert breakers.allow("d")
