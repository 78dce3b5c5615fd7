"""Validation speed: N generated flows, `chatflow validate`'s code path beside the bare C YAML parse.

    python bench/validate.py [--flows 1000] [--nodes 20] [--repeat 3] [--keep DIR]

Generates N realistic flows (questions with buttons, conditions, an http lookup with a secret
header, templates, a set, a delay, a handoff) plus their accounts in a temporary manifest root,
then measures, in the same run and on the same files:

- parse: ruamel.yaml's C safe loader alone reading and parsing every file (the baseline), and
- validate: what `chatflow validate` runs (discover, read, parse, build the models, every
  semantic rule, sort the diagnostics), as it runs (parsing in a pool of processes when there
  are many files and CPUs) and in one process,

each the best of --repeat runs, wall-clock and CPU seconds (CPU time barely moves when other
programs load the machine; wall time does), and prints them with their ratio. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.cli.manifests_cmd import load_with  # noqa: E402  (the function `chatflow validate` calls)
from controller.manifests import loader  # noqa: E402
from controller.manifests.loader import discover  # noqa: E402

ACCOUNTS = 4


def account(i: int) -> str:
    return f"""\
apiVersion: chatflow/v1
kind: Account
metadata: {{name: shop-{i}}}
spec:
  channel: whatsapp
  phoneNumber: "+1555000{i:04d}"
  credentials:
    accessToken: {{env: SHOP_{i}_TOKEN}}
    appSecret: {{env: SHOP_{i}_APP_SECRET}}
    verifyToken: {{env: SHOP_{i}_VERIFY}}
  whatsapp: {{phoneNumberId: "10654035224{i:04d}", businessAccountId: "10229012934{i:04d}"}}
"""


def flow(i: int, nodes: int) -> str:
    """One published WhatsApp flow of `nodes` nodes (at least 14): a menu, a lookup, answers, a loop."""
    extra = max(0, nodes - 14)
    faq = "".join(
        f"""    faq_{k}:
      type: message
      text: "Answer {k} for {{{{ contact.name | default('you', true) }}}}: see https://shop.example/help/{k}"
      next: {"faq_" + str(k + 1) if k + 1 < extra else "more"}
"""
        for k in range(extra)
    )
    first_faq = "faq_0" if extra else "more"
    return f"""\
# yaml-language-server: $schema=../schemas/chatflow.schema.json
apiVersion: chatflow/v1
kind: Flow
metadata:
  name: order-desk-{i}
  displayName: Order desk {i}
  labels: {{team: support, shard: "{i % 10}"}}
spec:
  state: published
  trigger:
    type: whatsapp
    account: shop-{i % ACCOUNTS}
    keywords: [order{i}, status{i}]
  logging: true
  expireAfter: 1d
  variables:
    tries: {{type: number, default: 0}}
  nodes:
    start: {{type: start, next: menu}}
    menu:
      type: question
      text: "Hi {{{{ contact.name }}}}! What do you need?"
      buttons: [{{id: track, title: Track my order}}, {{id: faq, title: Questions}}, {{id: agent, title: Talk to a person}}]
      save_as: choice
      timeout: {{after: 1h, next: bye}}
      next: route
    route:
      type: condition
      branches:
        - {{when: "vars.choice == 'track'", next: ask_order}}
        - {{when: "vars.choice == 'faq'", next: {first_faq}}}
      default: agent
    ask_order:
      type: question
      text: Send me your order number.
      expect: number
      save_as: order_id
      invalid_text: "Digits only, please."
      on_invalid: agent
      next: lookup
    lookup:
      type: http
      method: GET
      url: "https://orders.example.com/api/orders/{{{{ vars.order_id }}}}"
      headers: {{Authorization: {{env: ORDERS_TOKEN}}, Accept: application/json}}
      timeout: 5s
      save: {{status: status, eta: delivery.eta, items: "length(items)"}}
      next: found
      on_failure: count
    found:
      type: condition
      branches:
        - {{when: "vars.status is blank", next: count}}
      default: tell
    tell: {{type: message, text: "Order {{{{ vars.order_id }}}} is {{{{ vars.status | lower }}}} ({{{{ vars.items }}}} items, ETA {{{{ vars.eta }}}}).", next: more}}
    count: {{type: set, values: {{tries: "(vars.tries | number) + 1"}}, next: retry}}
    retry:
      type: condition
      branches:
        - {{when: "vars.tries | number < 3", next: wait}}
      default: agent
    wait: {{type: delay, duration: 30s, next: ask_order}}
{faq}    more:
      type: question
      text: Anything else?
      buttons: [{{id: "yes", title: "Yes"}}, {{id: "no", title: "No, thanks"}}]
      save_as: again
      next: again
    again:
      type: condition
      branches:
        - {{when: "vars.again == 'yes'", next: menu}}
      default: bye
    agent: {{type: handoff, note: "order help for {{{{ contact.phone }}}}", timeout: 4h, next: bye}}
    bye: {{type: end, outcome: done}}
"""


def generate(root: Path, flows: int, nodes: int) -> None:
    (root / "accounts").mkdir(parents=True)
    (root / "accounts" / "shops.yaml").write_text("---\n".join(account(i) for i in range(ACCOUNTS)))
    for i in range(flows):
        shard = root / f"team-{i % 10}"
        shard.mkdir(exist_ok=True)
        (shard / f"order-desk-{i}.yaml").write_text(flow(i, nodes))


def parse_only(files: list[Path]) -> int:
    yaml = YAML(typ="safe", pure=False)
    count = 0
    for path in files:
        count += sum(1 for _ in yaml.load_all(path.read_bytes().decode("utf-8")))
    return count


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the parsing pool)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best(fn, repeat: int) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of the fastest of `repeat` runs."""
    runs, result = [], None
    for _ in range(repeat):
        cpu, start = _cpu(), time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - start, _cpu() - cpu))
    wall, cpu = min(runs)
    return wall, cpu, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="chatflow-bench-"))
    root = base / "flows.d"
    try:
        if root.exists():
            shutil.rmtree(root)
        generate(root, args.flows, args.nodes)
        files = discover(root)
        size = sum(p.stat().st_size for p in files)
        load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"

        parse_s, parse_cpu, documents = best(lambda: parse_only(files), args.repeat)
        validate_s, validate_cpu, (catalog, _) = best(lambda: load_with(root, []), args.repeat)
        workers = loader._worker_count(len(files))  # what `chatflow validate` chose just now
        automatic = loader._worker_count
        loader._worker_count = lambda files: 1  # the same, parsing in this one process
        serial_s, serial_cpu, _ = best(lambda: load_with(root, []), args.repeat)
        cpus = len(os.sched_getaffinity(0))
        loader._worker_count = lambda files: cpus  # the same, a parsing process per CPU whatever the load
        pooled_s, pooled_cpu, _ = best(lambda: load_with(root, []), args.repeat)
        loader._worker_count = automatic

        errors = [d for d in catalog.diagnostics if d.is_error]
        if errors or len(catalog.flows) != args.flows:
            raise SystemExit(f"generated flows did not validate: {errors[:3]}")
        nodes = statistics.mean(len(f.spec.nodes) for f in catalog.flows.values())

        cli_start = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "controller", "validate", "--root", str(root), "--repo", str(base)],
                             capture_output=True, text=True, cwd=base)
        cli_s = time.perf_counter() - cli_start

        n = len(files)
        print(f"flows.d: {args.flows} flows x {nodes:.0f} nodes + {ACCOUNTS} accounts, "
              f"{n} files, {documents} documents, {size / 1024:.0f} KiB; cpus: {os.cpu_count()}, "
              f"load average before: {load_before}")
        print(f"{'':34}{'wall':>9}{'cpu':>9}{'wall/file':>12}")
        for label, wall, cpu in (
            ("parse (C safe loader alone)", parse_s, parse_cpu),
            (f"validate (as run: {workers} process{'es' if workers != 1 else ''})", validate_s, validate_cpu),
            ("validate, 1 process", serial_s, serial_cpu),
            (f"validate, {cpus} parsing processes", pooled_s, pooled_cpu),
        ):
            print(f"{label:34}{wall:8.3f}s{cpu:8.3f}s{wall / n * 1e3:9.2f} ms")
        print(f"ratio validate / parse: {validate_s / parse_s:.2f} (wall), {serial_cpu / parse_cpu:.2f} (cpu, 1 process)")
        print(f"`chatflow validate` as a process: {cli_s:.3f}s wall, exit {cli.returncode} (interpreter start-up included; one run)")
        print(f"best of {args.repeat} runs; diagnostics: {len(catalog.diagnostics)} ({len(errors)} errors)")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
