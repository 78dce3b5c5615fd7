"""Commit-to-live latency: commit on the tracked branch -> `/status` shows the new revision.

Starts `chatflow serve` on a temp repository (poll interval 1 h, so only the ref watcher counts),
makes N commits that each change one flow, and polls /status every 5 ms for the new revision.
Baseline in the same run: the time `git commit` itself takes.

    python bench/commit_to_live.py [--commits 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.gitrepo import Repo, account, flow  # noqa: E402
from tests.server import Server  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatflow-c2l-") as tmp:
        repo = Repo(Path(tmp) / "repo")
        repo.write("flows.d/wa.yaml", account())
        repo.write("flows.d/faq.yaml", flow(text="v0"))
        repo.commit("start")
        latencies, commit_times = [], []
        with Server(repo.path, env={"CHATFLOW_POLL_INTERVAL": "1h"}) as server:
            for i in range(1, args.commits + 1):
                repo.write("flows.d/faq.yaml", flow(text=f"v{i}"))
                t0 = time.perf_counter()
                head = repo.commit(f"v{i}")
                t1 = time.perf_counter()
                server.wait_for(lambda: next(f for f in server.status()["flows"] if f["name"] == "faq")["commit"] == head,
                                timeout=30, what=f"commit {i} live")
                latencies.append(time.perf_counter() - t1)
                commit_times.append(t1 - t0)
        p50, p95 = pct(latencies, 0.5), pct(latencies, 0.95)
        print(f"commits: {args.commits}")
        print(f"commit -> live: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
              f"(targets: p50 < 1000 ms {'ok' if p50 < 1 else 'MISSED'}, p95 < 2000 ms {'ok' if p95 < 2 else 'MISSED'})")
        print(f"baseline: `git commit` itself p50 {statistics.median(commit_times) * 1000:.0f} ms; "
              f"latency / commit time = {p50 / statistics.median(commit_times):.1f}x")


if __name__ == "__main__":
    main()
