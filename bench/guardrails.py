"""The guardrails, in one run: precision and recall on the labelled set the tests ship, what a
scan costs per KB (and a hostile megabyte), and time to the first token of a /v1 stream with
a masking and redacting policy beside the same stream without one.

    python -m bench.guardrails [--quick]

Time to first token is measured as every streamed figure here is: p50 to the first byte,
less the upstream's own, for an alias with a policy and one without, on one platform.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from app.guardrails import find
from app.settings import CATEGORIES
from bench import measure, systems
from bench.measure import SUMMARY_TEXT, Target

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "guardrails" / "labelled.jsonl"
TTFT_GOAL = 1.2  # a guarded stream's time to first token, over an unguarded one's
HELD = ("card", "iban", "email", "secret")  # held to 0.95 recall and precision
POLICY = {
    "request": {"email": "mask", "card": "mask", "iban": "mask", "secret": "mask"},
    "response": {"secret": "redact", "card": "redact", "phone": "redact"},
}
PROMPT = f"{SUMMARY_TEXT} Reply to jane.doe@example.com; the card is 4111 1111 1111 1111."
PLAIN, GUARDED = "platform /v1, no policy", "platform /v1, mask and redact"


def labelled_scores(path: Path = LABELLED) -> dict[str, dict[str, float]]:
    """Recall and precision per category: each snippet scanned for its own category, a
    finding right when its text is the labelled value."""
    right, missed, wrong, snippets = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        row = json.loads(line)
        text, category = row["text"], row["category"]
        snippets[category] += 1
        got = [text[f.start : f.end] for f in find(text, [category])]
        right[category] += sum(value in got for value in row["values"])
        missed[category] += sum(value not in got for value in row["values"])
        wrong[category] += sum(value not in row["values"] for value in got)
    return {
        category: {
            "snippets": snippets[category],
            "recall": right[category] / max(right[category] + missed[category], 1),
            "precision": right[category] / max(right[category] + wrong[category], 1),
        }
        for category in CATEGORIES
    }


def _scan_ms(text: str, categories: list[str], times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        find(text, categories)
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def scan_cost(times: int) -> dict[str, float]:
    """Milliseconds per KB of prose with a value now and then, every category and all but
    phone numbers (libphonenumber is most of the cost); and seconds for a megabyte of
    candidates (addresses, cards and keys back to back)."""
    prose = (SUMMARY_TEXT + " Mail a.b@example.com. ") * 400
    kb = len(prose) / 1024
    dense = "mail a.b@example.com card 4111111111111111 key AKIAIOSFODNN7EXAMPLE call " \
            "+1 415 555 2671. "  # fmt: skip
    megabyte = dense * (1_000_000 // len(dense))
    started = time.perf_counter()
    find(megabyte, list(CATEGORIES))
    hostile = time.perf_counter() - started
    without_phone = [category for category in CATEGORIES if category != "phone"]
    return {
        "ms_per_kb_all": _scan_ms(prose, list(CATEGORIES), times) / kb,
        "ms_per_kb_without_phone": _scan_ms(prose, without_phone, times) / kb,
        "hostile_megabyte_s": hostile,
    }


def _config(workdir: Path, upstream: str) -> Path:
    deployment = {"provider": "openai-compatible", "base_url": upstream, "model": "mock"}
    models = {"mock": deployment, "guarded": {**deployment, "guardrails": POLICY}}
    path = workdir / "platform-guardrails.yaml"
    path.write_text(yaml.safe_dump({"models": models, "default_model": "mock"}))
    return path


def time_to_first_token(workdir: Path, rounds: int, per_round: int) -> dict[str, Any]:
    with systems.mock_upstream(workdir) as mock:
        config = _config(workdir, mock.url)
        with systems.platform(workdir, None, name="guardrails", config=config) as server:
            asked = [{"role": "user", "content": PROMPT}]
            targets = [
                Target("direct", mock, "/chat/completions", {"model": "mock", "messages": asked}),
                Target(PLAIN, server, "/v1/chat/completions", {"model": "mock", "messages": asked}),
                Target(GUARDED, server, "/v1/chat/completions",
                       {"model": "guarded", "messages": asked}),
            ]  # fmt: skip
            latency = measure.sequential([t.streaming() for t in targets], rounds, per_round, True)
    first = {label: figures["first_byte"]["p50"] for label, figures in latency.items()}
    plain, guarded = first[PLAIN] - first["direct"], first[GUARDED] - first["direct"]
    return {"first_byte_p50_ms": first, "plain_overhead_ms": plain,
            "guarded_overhead_ms": guarded, "ratio": guarded / plain}  # fmt: skip


def measure_guardrails(workdir: Path, rounds: int, per_round: int, scans: int) -> dict[str, Any]:
    return {"labelled": labelled_scores(), "scan": scan_cost(scans),
            "ttft": time_to_first_token(workdir, rounds, per_round)}  # fmt: skip


def goal_rows(results: dict[str, Any]) -> list[str]:
    guard = results.get("guardrails")
    if not guard:
        return []
    ratio = guard["ttft"]["ratio"]
    held = [guard["labelled"][category] for category in HELD]
    least = min(min(scored["recall"], scored["precision"]) for scored in held)
    return [
        f"| a /v1 stream's time to first token with a guardrail policy | ≤ {TTFT_GOAL}x "
        f"without | {ratio:.2f}x | {'met' if ratio <= TTFT_GOAL else '**missed**'} |",
        f"| guardrails' recall and precision on cards, IBANs, e-mails, secrets | ≥ 0.95 | "
        f"{least:.3f} at least | {'met' if least >= 0.95 else '**missed**'} |",
    ]


def report_lines(results: dict[str, Any]) -> list[str]:
    guard = results.get("guardrails")
    if not guard:
        return []
    ttft, scan, labelled = guard["ttft"], guard["scan"], guard["labelled"]
    met = ttft["ratio"] <= TTFT_GOAL
    return [
        "## Guardrails",
        "",
        f"Precision and recall on the labelled set the tests ship ({LABELLED.name}: "
        "positives and near misses of every category, each snippet scanned for its own "
        "category; the set was written beside the detectors, so read it as a regression set "
        "more than an independent estimate):",
        "",
        "| category | snippets | recall | precision |",
        "|---|---|---|---|",
        *(
            f"| {category} | {v['snippets']} | {v['recall']:.3f} | {v['precision']:.3f} |"
            for category, v in labelled.items()
        ),
        "",
        f"A scan costs **{scan['ms_per_kb_all']:.3f} ms per KB** of prose with every "
        f"category ({scan['ms_per_kb_without_phone']:.3f} ms without phone numbers). A "
        "megabyte of candidates back to back (addresses, cards, keys and phone numbers, "
        f"libphonenumber the most of it) takes {scan['hostile_megabyte_s']:.2f} s; a request "
        "with more than 64 KB of text is scanned beside the event loop, not on it.",
        "",
        "Time to the first byte of a `/v1` stream, p50, over the upstream's own, on one "
        "platform: an alias whose policy masks the prompt's e-mail and card and redacts the "
        f"answer's secrets, cards and phone numbers adds {ttft['guarded_overhead_ms']:.2f} ms, "
        f"against {ttft['plain_overhead_ms']:.2f} ms for the same request to an alias with "
        f"none: **{ttft['ratio']:.2f}x** (goal ≤ {TTFT_GOAL}x: "
        f"{'met' if met else '**missed**'}).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, per_round, scans = (2, 20, 3) if args.quick else (5, 100, 15)
    with tempfile.TemporaryDirectory(prefix="genai-bench-") as folder:
        results = measure_guardrails(Path(folder), rounds, per_round, scans)
    print(json.dumps(results, indent=1))
    print("\n".join(report_lines({"guardrails": results})))


if __name__ == "__main__":
    main()
