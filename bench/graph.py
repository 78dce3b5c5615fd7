"""Drawing flows: time to render the SVG canvas of the example flows and of generated flows of growing size.

Baseline in the same run: the Mermaid text of the same flow (`manifests/mermaid.py`), which only
walks the nodes and edges once; the ratio says what the layout (layers, ordering, placement,
label spots) costs on top of that. Each figure is the median of several runs.

    python bench/graph.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from controller.manifests.catalog import load_root
from controller.manifests.mermaid import flowchart
from controller.manifests.revision import spec_json
from controller.manifests.svg import render

ROOT = Path(__file__).resolve().parents[1]


def generated(steps: int) -> dict[str, Any]:
    """A realistic long flow: per step a question with buttons and a timeout to the end, a condition
    and a message, an HTTP call with a failure path at the end."""
    nodes: dict[str, Any] = {"start": {"type": "start", "next": "q0"}}
    for j in range(steps):
        nxt = f"q{j + 1}" if j < steps - 1 else "h"
        nodes[f"q{j}"] = {"type": "question", "text": f"Question {j} for {{{{ contact.name }}}}?", "buttons": ["Yes", "No"],
                          "save_as": f"ans{j}", "timeout": {"after": "1h", "next": "done"}, "next": f"c{j}"}
        nodes[f"c{j}"] = {"type": "condition", "branches": [{"when": f"vars.ans{j} == 'Yes'", "next": f"m{j}"}], "default": nxt}
        nodes[f"m{j}"] = {"type": "message", "text": f"You said yes to {j}", "next": nxt}
    nodes["h"] = {"type": "http", "method": "GET", "url": "https://api.example.com/x", "next": "done", "on_failure": "done"}
    nodes["done"] = {"type": "end"}
    return nodes


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    catalog = load_root(ROOT / "flows.d")
    cases = [(name, json.loads(spec_json(flow))["nodes"]) for name, flow in sorted(catalog.flows.items())]
    cases += [(f"generated, {3 * s + 3} nodes", generated(s)) for s in (10, 33, 66)]
    print(f"{'flow':<28} {'nodes':>5} {'svg ms':>8} {'mermaid ms':>11} {'ratio':>7} {'svg KiB':>8}")
    for name, nodes in cases:
        svg = median_ms(lambda: render(nodes, name), args.repeat)
        mermaid = median_ms(lambda: flowchart(nodes), args.repeat)
        size = len(render(nodes, name).encode()) / 1024
        print(f"{name:<28} {len(nodes):>5} {svg:>8.2f} {mermaid:>11.3f} {svg / mermaid:>6.0f}x {size:>8.1f}")


if __name__ == "__main__":
    main()
