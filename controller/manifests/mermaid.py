"""A flow as a Mermaid flowchart: nodes with type and text, edges labelled with branch conditions."""

from __future__ import annotations

import re
from typing import Any, Mapping

_SHAPES = {
    "start": ('(["', '"])'),
    "end": ('(["', '"])'),
    "condition": ('{"', '"}'),
    "question": ('[/"', '"/]'),
    "goto": ('(("', '"))'),
}
_CLASSES = "classDef added fill:#dfd,stroke:#393;\nclassDef changed fill:#ffd,stroke:#c90;\nclassDef removed fill:#fdd,stroke:#c33,stroke-dasharray: 4 2;"


def _label(node_id: str, node: Mapping[str, Any]) -> str:
    kind = node.get("type", "?")
    text = node.get("text") or node.get("note") or node.get("prompt") or node.get("url") or node.get("flow") or ""
    if isinstance(node.get("template"), Mapping):
        text = f"template {node['template'].get('name', '')}"
    if isinstance(node.get("media"), Mapping):
        text = f"{node['media'].get('kind', 'media')}: {node['media'].get('caption') or node['media'].get('url', '')}"
    text = str(text).replace("\n", " ")
    if len(text) > 60:
        text = text[:57] + "..."
    body = f"{node_id}<br/><i>{kind}</i>" + (f"<br/>{text}" if text else "")
    return body.replace('"', "#quot;")


def _edge_label(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > 40:
        text = text[:37] + "..."
    return text.replace('"', "#quot;").replace("|", "#124;")


def edges(nodes: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(from, to, label) for every way out of every node."""
    out: list[tuple[str, str, str]] = []
    for nid, node in nodes.items():
        kind = node.get("type")
        for i, branch in enumerate(node.get("branches") or []):
            label = branch.get("when") if kind == "condition" else f"weight {branch.get('weight')}"
            out.append((nid, branch.get("next"), str(label)))
        timeout = node.get("timeout")
        if isinstance(timeout, Mapping) and timeout.get("next"):
            out.append((nid, timeout["next"], f"no reply in {timeout.get('after')}"))
        labels = {"default": "else", "on_failure": "failure", "on_invalid": "invalid", "target": "jump"}
        for field in ("next", "default", "on_failure", "on_invalid", "target"):
            target = node.get(field)
            if isinstance(target, str):
                label = labels.get(field, "")
                if kind == "goto" and field == "next":
                    label = f"after {node.get('max_jumps')} jumps"
                out.append((nid, target, label))
    return out


def flowchart(nodes: Mapping[str, Mapping[str, Any]], marks: Mapping[str, str] | None = None,
              removed: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Mermaid text. `marks` maps node id -> added|changed; `removed` nodes are drawn dashed."""
    ids = {nid: f"n{i}" for i, nid in enumerate([*nodes, *(removed or {})])}
    lines = ["flowchart TD"]
    for source in (nodes, removed or {}):
        for nid, node in source.items():
            left, right = _SHAPES.get(str(node.get("type")), ('["', '"]'))
            lines.append(f"  {ids[nid]}{left}{_label(nid, node)}{right}")
    for src, dst, label in edges(nodes):
        if dst not in ids:
            continue
        arrow = f" -->|\"{_edge_label(label)}\"| " if label else " --> "
        lines.append(f"  {ids[src]}{arrow}{ids[dst]}")
    styled = dict(marks or {})
    styled.update({nid: "removed" for nid in (removed or {})})
    if styled:
        lines.extend("  " + line for line in _CLASSES.splitlines())
        for nid, mark in styled.items():
            if nid in ids:
                lines.append(f"  class {ids[nid]} {mark};")
    return "\n".join(lines)
