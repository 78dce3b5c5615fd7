"""Reconcile at scale: 10,000 flows in a generated repo; cold apply, no-op re-apply, one-flow change.

Each step runs `chatflow apply` as a new process, as an operator (or CI) would, and reports its
wall time and peak memory (the child's max RSS). Baseline in the same run: the time git alone
takes to read every manifest blob (`git ls-tree` + `git cat-file --batch`), which any apply needs.

    python bench/reconcile.py [--flows 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}

ACCOUNT = """apiVersion: chatflow/v1
kind: Account
metadata: {{name: wa{i}}}
spec:
  channel: whatsapp
  credentials: {{accessToken: {{env: T}}, appSecret: {{env: S}}, verifyToken: {{env: V}}}}
  whatsapp: {{phoneNumberId: "{pid}"}}
"""


def flow(i: int, variant: str = "") -> str:
    nodes = ["    start: {type: start, next: q0}"]
    for j in range(6):
        nxt = f"q{j + 1}" if j < 5 else "h"
        nodes.append(f"""    q{j}:
      type: question
      text: "Question {j}{variant} for {{{{ contact.name }}}} in flow {i}?"
      buttons: [{{id: a, title: "Yes"}}, {{id: b, title: "No"}}]
      save_as: ans{j}
      timeout: {{after: 1h, next: done}}
      next: c{j}
    c{j}:
      type: condition
      branches:
        - {{when: "vars.ans{j} == 'a'", next: m{j}}}
      default: {nxt}
    m{j}: {{type: message, text: "You said yes to {j} ({{{{ vars.ans{j} }}}})", next: {nxt}}}""")
    nodes.append('    h: {type: http, url: "https://api.example.com/x/{{ vars.ans0 }}", save: {r: result}, next: done, on_failure: done}')
    nodes.append("    done: {type: end}")
    return (f"apiVersion: chatflow/v1\nkind: Flow\nmetadata: {{name: flow-{i}}}\nspec:\n  state: published\n"
            f"  trigger: {{type: whatsapp, account: wa{i % 10}, keywords: [kw{i}]}}\n  nodes:\n" + "\n".join(nodes) + "\n")


def fast_import(repo: Path, files: dict[str, str], message: str, parent: bool) -> None:
    """One commit on main holding `files` (inline blobs), through `git fast-import`."""
    chunks = [f"commit refs/heads/main\ncommitter bench <b@example.com> {int(time.time())} +0000\n"]
    msg = message.encode()
    chunks.append(f"data {len(msg)}\n{message}\n")
    if parent:
        chunks.append("from refs/heads/main^0\n")
    for path, text in files.items():
        data = text.encode()
        chunks.append(f"M 100644 inline {path}\ndata {len(data)}\n")
        chunks.append(text + "\n")
    stream = "".join(chunks).encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True, env=ENV)


def run_apply(repo: Path, state: Path) -> tuple[float, float, int, str]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "controller", "apply", "--repo", str(repo), "--state", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out = (proc.stdout.read() if proc.stdout else "").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, code, out[0] if out else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatflow-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        started = time.perf_counter()
        files = {"flows.d/accounts.yaml": "---\n".join(ACCOUNT.format(i=i, pid=1000 + i) for i in range(10))}
        files.update({f"flows.d/f{i // 1000:02d}/flow-{i}.yaml": flow(i) for i in range(args.flows)})
        fast_import(repo, files, "generated", parent=False)
        subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)
        print(f"generated {args.flows} flows ({sum(len(t) for t in files.values()) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        tree = subprocess.run(["git", "ls-tree", "-r", "HEAD", "--", "flows.d"], cwd=repo, capture_output=True, text=True, check=True).stdout
        blobs = "\n".join(line.split()[2] for line in tree.splitlines()) + "\n"
        subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=blobs.encode(), capture_output=True, check=True)
        baseline = time.perf_counter() - started
        print(f"baseline: git reads every manifest blob in {baseline:.2f} s")

        state = Path(tmp) / "state.db"
        rows = []
        for label, prepare, target in [
            ("cold apply", None, 30.0),
            ("no-op re-apply", None, 1.0),
            ("one-flow change", lambda: fast_import(repo, {f"flows.d/f00/flow-7.yaml": flow(7, " (v2)")}, "one flow", parent=True), 1.0),
        ]:
            if prepare:
                prepare()
            elapsed, rss, code, line = run_apply(repo, state)
            rows.append((label, elapsed, rss, code, target))
            print(f"{label:>16}: {elapsed:6.2f} s  peak {rss:6.0f} MB  exit {code}  "
                  f"target < {target:g} s {'ok' if elapsed < target and rss < 500 else 'MISSED'}  "
                  f"({elapsed / baseline:.1f}x git's read)  | {line}")


if __name__ == "__main__":
    main()
