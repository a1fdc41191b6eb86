"""`make bench`: every system against the same mock upstream, in one run, on this machine.

    python -m bench.run [--quick] [--out docs]

Writes docs/benchmarks.md, docs/benchmarks.json and the plots in docs/img/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    batches,
    cache,
    cold_start,
    embeddings,
    guardrails,
    hedging,
    mcp,
    measure,
    previous_head,
    report,
    systems,
)
from bench.measure import Target, chain_target, chat_target

CONNECTIONS = (8, 32, 128)
MODEL_PROMPT = "Write a short story about a robot who learns to paint."


@dataclass(frozen=True)
class Plan:
    """How long each measurement runs (--quick: a smoke run of the whole harness)."""

    rounds: int = 5
    per_round: int = 100
    wrk_seconds: int = 5
    streams: int = 1000
    model_rounds: int = 9
    cold_starts: int = 7
    hedged_requests: int = 200
    embedding_rounds: int = 7
    batch_lines: int = 10_000
    batch_requests: int = 1000
    cache_entries: int = 10_000
    guardrail_scans: int = 15

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            rounds=2, per_round=10, wrk_seconds=1, streams=100, model_rounds=1, cold_starts=2,
            hedged_requests=20, embedding_rounds=1, batch_lines=200, batch_requests=50,
            cache_entries=1000, guardrail_scans=3,
        )  # fmt: skip


def _targets(direct: systems.Server, gp: systems.Server, ls: systems.Server,
             ll: systems.Server) -> list[Target]:  # fmt: skip
    return [
        chat_target("direct", direct),
        chat_target("platform /v1", gp, "/v1/chat/completions"),
        chain_target("platform /summarize", gp),
        chain_target("plain LangServe", ls),
        chat_target("LiteLLM", ll, "/v1/chat/completions"),
    ]


def _throughput(targets: list[Target], plan: Plan) -> dict[str, dict[int, dict]]:
    return {t.label: {c: measure.wrk(t, c, plan.wrk_seconds) for c in CONNECTIONS} for t in targets}


def _previous_targets(stack: ExitStack, workdir: Path, upstream: str,
                      previous: Path | None) -> list[Target]:  # fmt: skip
    if previous is None:
        return []
    server = stack.enter_context(
        systems.platform(workdir, upstream, name="previous", root=previous)
    )
    return [
        chat_target(previous_head.V1, server, "/v1/chat/completions"),
        chain_target(previous_head.CHAIN, server),
    ]


def overhead_and_throughput(
    workdir: Path, plan: Plan, results: dict[str, Any], previous: Path | None
) -> None:
    with systems.mock_upstream(workdir) as mock, ExitStack() as stack:
        gp = stack.enter_context(systems.platform(workdir, mock.url))
        ls = stack.enter_context(systems.plain_langserve(workdir, mock.url))
        ll = stack.enter_context(systems.litellm(workdir, mock.url))
        floor = chat_target(report.FORWARDER, stack.enter_context(systems.bare_forwarder(
            workdir, mock.url)))  # fmt: skip
        targets = [
            *_targets(mock, gp, ls, ll), floor,
            *_previous_targets(stack, workdir, mock.url, previous),
        ]  # fmt: skip
        dialects = stack.enter_context(systems.platform(workdir, mock.url, name="dialects"))
        timed = [*targets, *measure.dialect_targets(dialects)]  # each dialect: latency only
        print("sequential latency…", flush=True)
        results["sequential"] = measure.sequential(timed, plan.rounds, plan.per_round, False)
        streaming = [t.streaming() for t in timed]
        results["streaming"] = measure.sequential(streaming, plan.rounds, plan.per_round, True)
        print("throughput, one worker…", flush=True)
        results["throughput"] = {"1": _throughput(targets, plan)}
    with systems.mock_upstream(workdir) as mock, ExitStack() as stack:
        gp = stack.enter_context(systems.platform(workdir, mock.url, workers=2))
        ls = stack.enter_context(systems.plain_langserve(workdir, mock.url, workers=2))
        ll = stack.enter_context(systems.litellm(workdir, mock.url, workers=2))
        print("throughput, two workers…", flush=True)
        results["throughput"]["2"] = _throughput(_targets(mock, gp, ls, ll)[1:], plan)


def open_streams(workdir: Path, plan: Plan, results: dict[str, Any]) -> None:
    """Streams that last ~10 s (20 chunks 500 ms apart), `plan.streams` of them at once."""
    results["streams"] = {"count": plan.streams}
    with systems.mock_upstream(workdir, chunks=20, delay_ms=500) as slow:
        for label, start, path in (
            ("platform /v1", lambda: systems.platform(workdir, slow.url, name="streams"), "v1"),
            ("platform /summarize", lambda: systems.platform(workdir, slow.url, name="streams"),
             "chain"),
            ("plain LangServe", lambda: systems.plain_langserve(workdir, slow.url), "chain"),
            ("LiteLLM", lambda: systems.litellm(workdir, slow.url), "v1"),
        ):  # fmt: skip
            print(f"{plan.streams} open streams: {label}…", flush=True)
            with start() as server:
                target = (
                    chat_target(label, server, "/v1/chat/completions")
                    if path == "v1"
                    else chain_target(label, server)
                )
                results["streams"][label] = measure.open_streams(target, plan.streams)


def embedded_model(workdir: Path, plan: Plan, results: dict[str, Any]) -> None:
    body = {"model": "local", "messages": [{"role": "user", "content": MODEL_PROMPT}],
            "max_tokens": 128, "temperature": 0}  # fmt: skip
    print("embedded model tokens/s…", flush=True)
    with (
        systems.llama_direct(workdir) as direct,
        systems.platform(workdir, None, name="local") as gp,
    ):
        gp.headers["Cache-Control"] = "no-store"  # the model's tokens/s, not the cache's
        targets = [
            Target("llama.cpp server direct", direct, "/chat/completions", body),
            Target("platform /v1", gp, "/v1/chat/completions", body),
        ]
        results["model"] = measure.tokens_per_second(targets, plan.model_rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", type=Path, default=systems.ROOT / "docs")
    parser.add_argument(
        "--previous", default=None, metavar="REF",
        help="the commit to measure beside this tree (default: the newest commit that wrote "
        "docs/benchmarks.json; 'none' for no comparison)",
    )  # fmt: skip
    args = parser.parse_args()
    plan = Plan.quick() if args.quick else Plan()
    systems.ensure_litellm()
    results: dict[str, Any] = {"machine": report.machine_facts(), "plan": plan.__dict__}
    results["machine"]["litellm"] = systems.litellm_version()
    with tempfile.TemporaryDirectory(prefix="genai-bench-") as folder, ExitStack() as stack:
        workdir = Path(folder)
        previous = None
        if args.previous != "none":
            ref = args.previous or previous_head.last_measured()
            commit, previous = stack.enter_context(previous_head.worktree(workdir, ref))
            results["previous_head"] = commit
        overhead_and_throughput(workdir, plan, results, previous)
        print("cold start…", flush=True)
        with systems.mock_upstream(workdir) as mock:
            results["cold_start"] = cold_start.measure(
                workdir, mock.url, plan.cold_starts, previous
            )
        print("hedging…", flush=True)
        results["hedging"] = hedging.measure(workdir, plan.hedged_requests)
        print("embeddings…", flush=True)
        results["embeddings"] = embeddings.measure(workdir, plan.embedding_rounds)
        print("batches…", flush=True)
        results["batches"] = batches.measure(workdir, plan.batch_lines, plan.batch_requests)
        print("answer cache…", flush=True)
        results["cache"] = cache.measure_cache(
            workdir, plan.rounds, plan.per_round, plan.wrk_seconds, plan.cache_entries
        )
        print("guardrails…", flush=True)
        results["guardrails"] = guardrails.measure_guardrails(
            workdir, plan.rounds, plan.per_round, plan.guardrail_scans
        )
        print("mcp…", flush=True)
        results["mcp"] = mcp.tool_call_overhead(workdir, plan.rounds, plan.per_round)
        open_streams(workdir, plan, results)
        embedded_model(workdir, plan, results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks.json").write_text(json.dumps(results, indent=1))
    report.write(results, args.out, quick=args.quick)
    print(f"wrote {args.out / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
