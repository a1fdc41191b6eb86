"""The answer cache against the mock upstream, in one run: a hit's latency beside the bare
forwarder's (the floor of any proxy) and an uncached call's; throughput when half the requests
are hits; and a semantic lookup among 10,000 entries of one partition.

    python -m bench.cache [--quick]

A hit's overhead is counted as every overhead here is: its p50 less the upstream's own (asked
directly), since a hit stands in for the call to the upstream.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import measure, systems
from bench.measure import CHAT, Target, chat_target

ENDPOINT = "/v1/chat/completions"
HIT_GOAL = 1.5  # a hit's p50 overhead, over the bare forwarder's
FORWARDER = "bare forwarder"
HIT, UNCACHED = "platform /v1, a hit", "platform /v1, not cacheable"
FIXED = {**CHAT, "temperature": 0}  # a fixed answer: cached

#: Half the requests the one cached question, half a question never asked before (a seed of
#: its own), which is a miss, and stored.
_HALF_HITS = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}
local hit = {hit}
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format(nil, nil, nil, hit) end
  return wrk.format(nil, nil, nil, string.format({miss}, n))
end
"""


def _half_hits(server: systems.Server, seconds: int, connections: int = 32) -> float:
    """Requests per second with every other request a hit."""
    headers = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
                        for k, v in server.headers.items())  # fmt: skip
    miss = json.dumps({**FIXED, "seed": 0}).replace('"seed": 0', '"seed": %d')
    script_text = _HALF_HITS.format(headers=headers, hit=json.dumps(json.dumps(FIXED)),
                                    miss=json.dumps(miss))  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", script.name, server.url + ENDPOINT]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    if "Non-2xx" in out:
        raise RuntimeError(f"the half-hit workload had errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def semantic_lookup(entries: int, lookups: int = 200) -> dict[str, float]:
    """Milliseconds to embed a question (the embedded embedding model) and to find its
    nearest among `entries` vectors of one partition (app/cache/semantic.py), p50 each."""
    from app.cache.semantic import VectorIndex
    from app.providers.local_embedder import LocalEmbedder

    rng = np.random.default_rng(7)
    index = VectorIndex()
    for n in range(entries):
        vector = rng.standard_normal(384).astype(np.float32)
        index.add(f"{n:064d}", (vector / np.linalg.norm(vector)).tobytes())
    query = rng.standard_normal(384).astype(np.float32)
    index.nearest((query / np.linalg.norm(query)).tobytes(), 0.9)  # builds its matrix once
    searches = []
    for _ in range(lookups):
        started = time.perf_counter()
        index.nearest((query / np.linalg.norm(query)).tobytes(), 0.9)
        searches.append((time.perf_counter() - started) * 1000)
    embedder = LocalEmbedder.packaged()
    embeds = []
    for n in range(lookups // 4 + 1):
        started = time.perf_counter()
        plan = embedder.plan({"input": f"What is the capital of country number {n}?"})
        embedder.run(plan, [0])
        embeds.append((time.perf_counter() - started) * 1000)
    return {"entries": entries, "nearest_ms": statistics.median(searches),
            "embed_ms": statistics.median(embeds[1:])}  # fmt: skip


def measure_cache(workdir: Path, rounds: int, per_round: int, wrk_seconds: int,
                  entries: int) -> dict[str, Any]:  # fmt: skip
    with (
        systems.mock_upstream(workdir) as mock,
        systems.bare_forwarder(workdir, mock.url) as forwarder,
        systems.platform(workdir, mock.url, name="cache") as server,
    ):
        targets = [
            chat_target("direct", mock), chat_target(FORWARDER, forwarder),
            Target(HIT, server, ENDPOINT, FIXED), Target(UNCACHED, server, ENDPOINT, CHAT),
        ]  # fmt: skip
        latency = measure.sequential(targets, rounds, per_round, False)
        half = _half_hits(server, wrk_seconds)
        uncached = measure.wrk(targets[3], 32, wrk_seconds)["rps"]
    p50 = {label: figures["last_byte"]["p50"] for label, figures in latency.items()}
    floor, hit = p50[FORWARDER] - p50["direct"], p50[HIT] - p50["direct"]
    return {"p50_ms": p50, "forwarder_overhead_ms": floor, "hit_overhead_ms": hit,
            "hit_ratio_to_forwarder": hit / floor, "half_hits_rps": half,
            "uncached_rps": uncached, "semantic": semantic_lookup(entries)}  # fmt: skip


def report_lines(results: dict[str, Any]) -> list[str]:
    cache = results.get("cache")
    if not cache:
        return []
    p50, semantic = cache["p50_ms"], cache["semantic"]
    met = cache["hit_ratio_to_forwarder"] <= HIT_GOAL
    return [
        "## The answer cache",
        "",
        "Against the mock upstream, sequential, interleaved (`python -m bench.cache`); "
        "overhead is p50 less the upstream's own p50 (a hit stands in for the upstream call):",
        "",
        "| | p50 ms | overhead ms |",
        "|---|---|---|",
        *(
            f"| {label} | {value:.2f} | {value - p50['direct']:.2f} |"
            for label, value in p50.items()
        ),
        "",
        f"A hit's overhead is {cache['hit_ratio_to_forwarder']:.2f}x the bare forwarder's "
        f"(goal ≤ {HIT_GOAL}x: {'met' if met else '**missed**'}). At 32 connections, with "
        f"every other request a hit (the others new questions, stored): "
        f"**{cache['half_hits_rps']:.0f} req/s**, against {cache['uncached_rps']:.0f} req/s "
        "with none cacheable. A semantic lookup among "
        f"{semantic['entries']:,} entries of one partition: {semantic['nearest_ms']:.2f} ms to "
        f"find the nearest vector, after {semantic['embed_ms']:.2f} ms to embed the question "
        "(p50 each).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, per_round, seconds = (2, 20, 1) if args.quick else (5, 100, 5)
    with tempfile.TemporaryDirectory(prefix="genai-bench-") as folder:
        results = measure_cache(Path(folder), rounds, per_round, seconds, 10_000)
    print(json.dumps(results, indent=1))
    print("\n".join(report_lines({"cache": results})))


if __name__ == "__main__":
    main()
