"""Plans for people: terminal text and Markdown ready to post as a pull-request comment."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Callable

from controller.lifecycle.state import Action, Plan
from controller.manifests.mermaid import flowchart
from controller.reconcile.report import DesignDiff, design_diff

_DESIGN_ACTIONS = ("create", "revise", "publish")

OldSpec = Callable[[Action], "str | None"]


def _by_subject(plan: Plan) -> dict[tuple[str, str], list[Action]]:
    grouped: dict[tuple[str, str], list[Action]] = defaultdict(list)
    for a in plan.actions:
        grouped[(a.kind, a.name)].append(a)
    return grouped


def _diff_for(actions: list[Action], old_spec: OldSpec) -> tuple[DesignDiff | None, str | None]:
    design = next((a for a in actions if a.action in _DESIGN_ACTIONS and a.spec_json), None)
    if design is None:
        return None, None
    old = None if design.action == "create" else old_spec(design)
    return design_diff(old, design.spec_json), design.spec_json


def _diff_lines(diff: DesignDiff) -> list[str]:
    out = []
    for field, old, new in diff.fields:
        out.append(f"{field}: {json.dumps(old)} -> {json.dumps(new)}")
    if diff.added:
        out.append("nodes added: " + ", ".join(diff.added))
    if diff.removed:
        out.append("nodes removed: " + ", ".join(diff.removed))
    if diff.changed:
        out.append("nodes changed: " + ", ".join(diff.changed))
    return out


def text(plan: Plan, base: str, head: str, old_spec: OldSpec) -> str:
    lines = [f"plan {base[:12]}..{head[:12]}: {len(plan.actions)} action(s), {len(plan.blocked)} blocked, {len(plan.invalid)} invalid"]
    for (kind, name), actions in _by_subject(plan).items():
        lines.append(f"{kind.lower()} {name}:")
        for a in actions:
            lines.append(f"  {a.action:<15} {a.detail}")
        diff, _ = _diff_for(actions, old_spec)
        if diff is not None and actions[0].action != "create":
            lines.extend(f"    {line}" for line in _diff_lines(diff))
    for b in plan.blocked:
        lines.append(f"BLOCKED {b.kind.lower()} {b.name} ({b.reason}): {b.message}")
    for item in plan.invalid:
        lines.append(f"INVALID {item.kind.lower()} {item.name}:")
        lines.extend(f"  {d}" for d in item.diagnostics if d.is_error)
    if not plan.actions and not plan.blocked and not plan.invalid:
        lines.append("nothing to do: the store matches the manifests")
    return "\n".join(lines)


def markdown(plan: Plan, base: str, head: str, old_spec: OldSpec) -> str:
    grouped = _by_subject(plan)
    verdict = "✅ ready to merge" if plan.ok else "⛔ blocked or invalid: merging would not apply everything"
    out = [
        f"### chatflow plan `{base[:12]}` → `{head[:12]}`",
        "",
        verdict,
        "",
        "| | count |",
        "|---|---|",
        f"| actions | {len(plan.actions)} |",
        f"| blocked | {len(plan.blocked)} |",
        f"| invalid | {len(plan.invalid)} |",
        "",
    ]
    if grouped:
        out += ["| kind | name | actions |", "|---|---|---|"]
        for (kind, name), actions in grouped.items():
            out.append(f"| {kind} | `{name}` | {', '.join(a.action for a in actions)} |")
        out.append("")
    for (kind, name), actions in grouped.items():
        out.append(f"#### {kind} `{name}`")
        out.append("")
        for a in actions:
            out.append(f"- **{a.action}**: {_md(a.detail)}")
        diff, spec = _diff_for(actions, old_spec)
        if diff is not None and spec is not None:
            if actions[0].action != "create":
                out.extend(f"- {_md(line)}" for line in _diff_lines(diff))
            nodes = json.loads(spec).get("nodes", {})
            marks = {n: "added" for n in diff.added} | {n: "changed" for n in diff.changed}
            if actions[0].action == "create":
                marks = {}
            old_nodes: dict[str, Any] = {}
            if diff.removed:
                old = old_spec(next(a for a in actions if a.action in _DESIGN_ACTIONS))
                old_nodes = {n: v for n, v in (json.loads(old).get("nodes", {}) if old else {}).items() if n in diff.removed}
            out += ["", "```mermaid", flowchart(nodes, marks, old_nodes), "```"]
        out.append("")
    if plan.blocked:
        out += ["#### Blocked", ""]
        out += [f"- {b.kind} `{b.name}` **{b.reason}**: {_md(b.message)}" for b in plan.blocked]
        out.append("")
    if plan.invalid:
        out += ["#### Invalid", ""]
        for item in plan.invalid:
            for d in item.diagnostics:
                if d.is_error:
                    out.append(f"- {item.kind} `{item.name}`: `{d.path}:{d.line}:{d.column}` {d.code} {_md(d.message)}"
                               + (f" (hint: {_md(d.hint)})" if d.hint else ""))
        out.append("")
    if not grouped and not plan.blocked and not plan.invalid:
        out += ["Nothing to do: merging changes no flow.", ""]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")
