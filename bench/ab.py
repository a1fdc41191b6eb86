"""This tree's /v1 against another commit's, alone on the machine: sequential p50 overhead
over the mock upstream, whole and to the first byte, the two interleaved round by round.

    python -m bench.ab <commit> [--rounds N]

For checking a figure of `make bench` against the previous head without the rest of the run's
load: a quick A/B, not a report (it writes nothing).
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import measure, previous_head, systems
from bench.measure import chat_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("commit")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genai-ab-") as folder, ExitStack() as stack:
        workdir = Path(folder)
        commit, tree = stack.enter_context(previous_head.worktree(workdir, args.commit))
        mock = stack.enter_context(systems.mock_upstream(workdir))
        this = stack.enter_context(systems.platform(workdir, mock.url, name="this"))
        other = stack.enter_context(systems.platform(workdir, mock.url, name="other", root=tree))
        v1 = "/v1/chat/completions"
        targets = [chat_target("direct", mock), chat_target("this tree", this, v1),
                   chat_target(commit, other, v1)]  # fmt: skip
        for stream, key in ((False, "last_byte"), (True, "first_byte")):
            asked = [target.streaming() if stream else target for target in targets]
            latency = measure.sequential(asked, args.rounds, 100, stream)
            floor = latency["direct"][key]["p50"]
            figures = ", ".join(
                f"{label} {seen[key]['p50'] - floor:.3f} ms"
                for label, seen in latency.items() if label != "direct"
            )  # fmt: skip
            print(f"{'streamed, first byte' if stream else 'whole'}: {figures}")


if __name__ == "__main__":
    main()
