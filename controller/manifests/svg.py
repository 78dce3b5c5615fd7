"""A flow as an SVG canvas: boxes with id, type and text, layered from start to end, labelled edges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from .layout import Layout, Placed, Point, Route, layout
from .mermaid import edges as flow_edges

BOX_WIDTH = 240.0
HEADER = 26.0
LINE = 16.0
DETAIL = 15.0
PAD = 9.0
CHAR = 7.0  # a generous average advance of a 12px sans-serif glyph: text never overflows its box
LABEL_CHAR = 6.2  # the same at 11px
MAX_LINES = 3
MAX_LABEL = 40
FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"

# (fill, stroke) per component type
_COLOURS = {
    "start": ("#e8f5e9", "#2e7d32"),
    "end": ("#eceff1", "#455a64"),
    "message": ("#e3f2fd", "#1565c0"),
    "send": ("#e3f2fd", "#1565c0"),
    "question": ("#ede7f6", "#5e35b1"),
    "condition": ("#fff8e1", "#b28704"),
    "split": ("#fff8e1", "#b28704"),
    "set": ("#f5f5f5", "#616161"),
    "http": ("#fff3e0", "#e65100"),
    "llm": ("#fff3e0", "#e65100"),
    "delay": ("#e0f7fa", "#00838f"),
    "handoff": ("#fce4ec", "#ad1457"),
    "goto": ("#f1f8e9", "#558b2f"),
    "start_flow": ("#f1f8e9", "#558b2f"),
}
_EDGE = "#546e7a"
_BACK = "#8e24aa"
_FAILURE = "#c62828"
_TIMEOUT = "#ef6c00"
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Box:
    """What a node shows: its id and type, a text and a detail line."""

    id: str
    type: str
    text: str
    detail: str

    @property
    def lines(self) -> list[str]:
        return _wrap(self.text, int((BOX_WIDTH - 2 * PAD) / CHAR), MAX_LINES)

    @property
    def height(self) -> float:
        return HEADER + LINE * len(self.lines) + (DETAIL if self.detail else 0.0) + (PAD if self.lines or self.detail else 0.0)


def describe(node_id: str, node: Mapping[str, Any]) -> Box:
    """The text and the detail line a node's box shows."""
    kind = str(node.get("type") or "?")
    text, detail = "", []
    if kind in ("message", "send", "question"):
        text = _content(node)
        if node.get("buttons"):
            detail.append(" · ".join(_button_title(b) for b in node["buttons"]))
        if isinstance(node.get("list"), Mapping):
            rows = sum(len(s.get("rows") or []) for s in node["list"].get("sections") or [])
            detail.append(f"list “{node['list'].get('button', '')}”: {rows} rows")
        if kind == "question":
            if node.get("expect") and node.get("expect") != "choice":
                detail.append(f"expects {node['expect']}")
            if node.get("save_as"):
                detail.append(f"saves {node['save_as']}")
        if kind == "send":
            detail.append(f"to {node.get('to', '')} via {node.get('account', '')}")
    elif kind == "set":
        values = node.get("values") or {}
        text = "; ".join(f"{k} = {v}" for k, v in values.items())
    elif kind == "http":
        text = f"{node.get('method', 'GET')} {node.get('url', '')}"
        if node.get("save"):
            detail.append("saves " + ", ".join(node["save"]))
    elif kind == "llm":
        text = str(node.get("prompt") or "")
        if node.get("save_as"):
            detail.append(f"saves {node['save_as']}")
    elif kind == "delay":
        text = f"wait {node.get('duration', '')}"
    elif kind == "handoff":
        text = str(node.get("note") or "hand over to a person")
        if node.get("timeout"):
            detail.append(f"released after {node['timeout']}")
    elif kind == "goto":
        text = f"jump to {node.get('target', '')}"
        detail.append(f"at most {node.get('max_jumps')} times")
    elif kind == "start_flow":
        text = f"start flow {node.get('flow', '')}"
    elif kind == "end":
        text = f"outcome: {node['outcome']}" if node.get("outcome") else ""
    return Box(node_id, kind, _clean(text), _clean(" · ".join(d for d in detail if d)))


def render(nodes: Mapping[str, Mapping[str, Any]], title: str = "", id_prefix: str = "cf") -> str:
    """The SVG document of a flow's `nodes` (node id -> component, as in a revision's spec JSON)."""
    boxes = {nid: describe(nid, node) for nid, node in nodes.items()}
    edge_list = [(s, t, label) for s, t, label in flow_edges(nodes) if s in boxes and t in boxes]
    # The main path first: the depth-first search that finds loops follows it before detours.
    ranked = sorted(range(len(edge_list)), key=lambda i: (edge_list[i][0], _detour(edge_list[i][2])))
    ordered = [edge_list[i] for i in ranked]
    starts = [nid for nid, node in nodes.items() if node.get("type") == "start"]
    others = sorted(n for n in boxes if n not in starts)
    sizes = {nid: (BOX_WIDTH, boxes[nid].height) for nid in [*starts, *others]}
    drawing = layout(sizes, [(s, t) for s, t, _ in ordered], starts)
    return _svg(drawing, boxes, ordered, title, id_prefix)


def _detour(label: str) -> int:
    """Edges off the main path: failures, invalid answers, timeouts, jumps."""
    if label in ("failure", "invalid", "jump") or label.startswith("no reply in"):
        return 1
    return 0


def _kind(label: str) -> str:
    if label in ("failure", "invalid"):
        return "failure"
    if label.startswith("no reply in"):
        return "timeout"
    return "normal"


def _svg(drawing: Layout, boxes: Mapping[str, Box], edges: Sequence[tuple[str, str, str]], title: str, prefix: str) -> str:
    width, height = _num(drawing.width), _num(drawing.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label={_attr("flow " + title if title else "flow")} font-family={_attr(FONT)} font-size="12">',
        f"<title>{_text(title or 'flow')}</title>",
        "<defs>",
    ]
    for name, colour in (("arrow", _EDGE), ("back", _BACK), ("failure", _FAILURE), ("timeout", _TIMEOUT)):
        out.append(f'<marker id="{prefix}-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                   f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')
    out += ["</defs>", f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    nodes = list(drawing.nodes.values())
    taken: list[tuple[float, float, float, float]] = [(p.x, p.y, p.x + p.width, p.bottom) for p in nodes]
    out.append('<g class="cf-edges">')
    for route in sorted(drawing.routes, key=lambda r: r.index):
        label = edges[route.index][2]
        out.append(_edge(route, label, prefix, taken))
    out.append("</g>")
    out.append('<g class="cf-nodes">')
    for placed in sorted(nodes, key=lambda p: (p.layer, p.x)):
        out.append(_node(placed, boxes[placed.id]))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _node(p: Placed, box: Box) -> str:
    fill, stroke = _COLOURS.get(box.type, ("#ffffff", "#424242"))
    radius = 16 if box.type in ("start", "end") else 7
    tooltip = f"{box.id} ({box.type})" + (f": {box.text}" if box.text else "") + (f" — {box.detail}" if box.detail else "")
    out = [
        f'<g class="cf-node" data-node={_attr(box.id)} data-type={_attr(box.type)} data-layer="{p.layer}">',
        f"<title>{_text(tooltip)}</title>",
        f'<rect x="{_num(p.x)}" y="{_num(p.y)}" width="{_num(p.width)}" height="{_num(p.height)}" rx="{radius}" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>',
        f'<text class="cf-id" x="{_num(p.x + PAD)}" y="{_num(p.y + 17)}" font-size="13" font-weight="bold" fill="#212121">{_text(_fit(box.id, 22))}</text>',
        f'<text class="cf-type" x="{_num(p.x + p.width - PAD)}" y="{_num(p.y + 17)}" font-size="11" text-anchor="end" fill="{stroke}">{_text(box.type)}</text>',
    ]
    y = p.y + HEADER + 11
    for line in box.lines:
        out.append(f'<text class="cf-text" x="{_num(p.x + PAD)}" y="{_num(y)}" fill="#212121">{_text(line)}</text>')
        y += LINE
    if box.detail:
        detail = _fit(box.detail, int((BOX_WIDTH - 2 * PAD) / LABEL_CHAR))
        out.append(f'<text class="cf-detail" x="{_num(p.x + PAD)}" y="{_num(y)}" font-size="11" font-style="italic" fill="#616161">{_text(detail)}</text>')
    out.append("</g>")
    return "\n".join(out)


def _edge(route: Route, label: str, prefix: str, taken: list[tuple[float, float, float, float]]) -> str:
    kind = _kind(label)
    colour = _BACK if route.back else {"failure": _FAILURE, "timeout": _TIMEOUT}.get(kind, _EDGE)
    marker = "back" if route.back else {"failure": "failure", "timeout": "timeout"}.get(kind, "arrow")
    dash = ' stroke-dasharray="6 4"' if route.back else ""
    if route.self_loop:
        (x, y1), (_, y2) = route.points
        d = f"M{_num(x)},{_num(y1)} C{_num(x + 34)},{_num(y1 - 8)} {_num(x + 34)},{_num(y2 + 8)} {_num(x + 2)},{_num(y2)}"
    else:
        d = _path(route.points)
    attrs = (f'class="cf-edge{" cf-back" if route.back else ""}" data-from={_attr(route.source)} data-to={_attr(route.target)} '
             f'data-back="{"true" if route.back else "false"}" data-label={_attr(label)}')
    out = [f"<g {attrs}>", f"<title>{_text(f'{route.source} → {route.target}' + (f': {label}' if label else ''))}</title>",
           f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.5"{dash} marker-end="url(#{prefix}-{marker})"/>']
    if label:
        shown = _fit(_clean(label), MAX_LABEL)
        w, h = len(shown) * LABEL_CHAR + 8, 16.0
        cx, cy = _label_spot(route, w, h, taken)
        taken.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        out.append(f'<rect x="{_num(cx - w / 2)}" y="{_num(cy - h / 2)}" width="{_num(w)}" height="{_num(h)}" rx="3" '
                   f'fill="#ffffff" fill-opacity="0.92" stroke="{colour}" stroke-opacity="0.35"/>')
        out.append(f'<text class="cf-label" x="{_num(cx)}" y="{_num(cy + 4)}" font-size="11" text-anchor="middle" fill="{colour}">{_text(shown)}</text>')
    out.append("</g>")
    return "\n".join(out)


def _path(points: Sequence[Point]) -> str:
    """Smooth curves with vertical tangents between consecutive points (straight when aligned)."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{_num(x0)},{_num(y0)}"]
    px, py = x0, y0
    for x, y in rest:
        if abs(x - px) < 6:  # nearly aligned: a straight stroke reads better than a tiny wiggle
            d.append(f"L{_num(x)},{_num(y)}")
        else:
            my = (py + y) / 2
            d.append(f"C{_num(px)},{_num(my)} {_num(x)},{_num(my)} {_num(x)},{_num(y)}")
        px, py = x, y
    return " ".join(d)


def _bezier(a: Point, b: Point, t: float) -> Point:
    (x0, y0), (x3, y3) = a, b
    my = (y0 + y3) / 2
    u = 1 - t
    x = u ** 3 * x0 + 3 * u * u * t * x0 + 3 * u * t * t * x3 + t ** 3 * x3
    y = u ** 3 * y0 + 3 * u * u * t * my + 3 * u * t * t * my + t ** 3 * y3
    return x, y


def _label_spot(route: Route, w: float, h: float, taken: list[tuple[float, float, float, float]]) -> Point:
    """On the edge's first stretch, where the label covers the least of the boxes and labels
    already drawn (first free spot wins, so the choice is deterministic)."""
    if route.self_loop:
        (x, y1), (_, y2) = route.points
        return x + 30 + w / 2, (y1 + y2) / 2
    a, b = route.points[0], route.points[1]
    best, best_cost = _bezier(a, b, 0.5), float("inf")
    for t in (0.5, 0.35, 0.65, 0.22, 0.78):
        cx, cy = _bezier(a, b, t)
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        cost = sum(_overlap(box, other) for other in taken)
        if cost == 0:
            return cx, cy
        if cost < best_cost:
            best, best_cost = (cx, cy), cost
    return best


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _content(node: Mapping[str, Any]) -> str:
    if isinstance(node.get("template"), Mapping):
        t = node["template"]
        return f"template {t.get('name', '')} ({t.get('language', '')})"
    if isinstance(node.get("media"), Mapping):
        m = node["media"]
        return f"{m.get('kind', 'media')}: {m.get('caption') or m.get('url', '')}"
    return str(node.get("text") or "")


def _button_title(button: Any) -> str:
    if isinstance(button, Mapping):
        return f"[{button.get('title', button.get('id', ''))}]"
    return f"[{button}]"


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", _INVALID_XML.sub("", str(text))).strip()


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)].rstrip() + "…"


def _wrap(text: str, width: int, lines: int) -> list[str]:
    words = text.split()
    out: list[str] = []
    current = ""
    for word in words:
        while len(word) > width:  # a long URL or expression breaks anywhere
            room = width - len(current) - (1 if current else 0)
            if room < 8:
                out.append(current)
                current = ""
                room = width
            current = f"{current} {word[:room]}" if current else word[:room]
            word = word[room:]
            out.append(current)
            current = ""
        if not word:
            continue
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        out.append(current)
    if len(out) > lines:
        last = out[lines - 1]
        out = out[:lines]
        out[-1] = (last if len(last) < width else last[: width - 1].rstrip()) + "…"
    return out


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(value: str) -> str:
    return escape(_INVALID_XML.sub("", value))


def _attr(value: str) -> str:
    return quoteattr(_INVALID_XML.sub("", value))
