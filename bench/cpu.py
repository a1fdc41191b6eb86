"""CPU per request of each system, from /proc, while wrk holds one connection to it.

    python -m bench.cpu [--seconds 5]

The figure behind "what costs what" in docs/benchmarks.md: with one connection the server's
CPU time per request is its cost, whatever else the shared machine is doing. Profile a
target further with `py-spy record -f raw -p <pid>` during the same load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench import measure, systems


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genai-cpu-") as folder:
        workdir = Path(folder)
        with (
            systems.mock_upstream(workdir) as mock,
            systems.platform(workdir, mock.url) as gp,
            systems.plain_langserve(workdir, mock.url) as ls,
            systems.bare_forwarder(workdir, mock.url) as floor,
        ):
            targets = [
                measure.chat_target("direct", mock),
                measure.chat_target("bare forwarder", floor),
                measure.chat_target("platform /v1", gp, "/v1/chat/completions"),
                measure.chain_target("platform /summarize", gp),
                measure.chain_target("plain LangServe", ls),
            ]
            for target in targets:
                measure.wrk(target, 1, 1)  # warm
                before = cpu_seconds(target.server.pid)
                result = measure.wrk(target, 1, args.seconds)
                spent = cpu_seconds(target.server.pid) - before
                per_request = spent / (result["rps"] * args.seconds) * 1000
                print(f"{target.label:22} p50 {result['p50']:6.2f} ms   "
                      f"server CPU {per_request:5.2f} ms/request")  # fmt: skip


if __name__ == "__main__":
    main()
