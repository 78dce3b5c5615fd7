"""The SVG canvas of a flow: well-formed, every node and edge label drawn, layered top-down, deterministic."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from controller.manifests.catalog import load_root
from controller.manifests.mermaid import edges
from controller.manifests.revision import spec_json
from controller.manifests.svg import BOX_WIDTH, CHAR, MAX_LINES, PAD, render

from ..conftest import EXAMPLES

SVG = "{http://www.w3.org/2000/svg}"
CATALOG = load_root(EXAMPLES, EXAMPLES.parent)
FLOWS = sorted(CATALOG.flows)


def nodes_of(name: str) -> dict:
    return json.loads(spec_json(CATALOG.flows[name]))["nodes"]


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def texts(element: ET.Element, cls: str | None = None) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text") if cls is None or t.get("class") == cls]


def rect(element: ET.Element) -> tuple[float, float, float, float]:
    r = element.find(f"{SVG}rect")
    assert r is not None
    x, y = float(r.get("x")), float(r.get("y"))
    return x, y, x + float(r.get("width")), y + float(r.get("height"))


def overlaps(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def test_the_examples_are_bundled():
    assert {"order-status", "instagram-faq", "viber-appointments", "reengagement"} <= set(FLOWS)


@pytest.mark.parametrize("name", FLOWS)
def test_every_node_is_a_box_with_its_id_type_and_text(name):
    nodes = nodes_of(name)
    root = ET.fromstring(render(nodes, name))
    assert root.tag == f"{SVG}svg"
    drawn = {g.get("data-node"): g for g in groups(root, "cf-node")}
    assert set(drawn) == set(nodes)
    for nid, node in nodes.items():
        assert texts(drawn[nid], "cf-id") == [nid] and texts(drawn[nid], "cf-type") == [node["type"]]
        assert drawn[nid].get("data-type") == node["type"]
        if node.get("text"):
            words = " ".join(texts(drawn[nid], "cf-text")).replace("…", "").split()
            assert words and " ".join(words) in " ".join(node["text"].split())


@pytest.mark.parametrize("name", FLOWS)
def test_every_edge_is_drawn_with_its_branch_condition(name):
    nodes = nodes_of(name)
    root = ET.fromstring(render(nodes, name))
    drawn = sorted((g.get("data-from"), g.get("data-to"), g.get("data-label")) for g in groups(root, "cf-edge"))
    assert drawn == sorted(edges(nodes))
    for g in groups(root, "cf-edge"):
        label = g.get("data-label")
        if label:
            assert texts(g, "cf-label") == [label], f"label {label!r} of {g.get('data-from')} -> {g.get('data-to')} is not drawn"
        path = g.find(f"{SVG}path")
        assert path is not None and path.get("marker-end", "").startswith("url(#")


def test_the_order_status_canvas_shows_its_conditions_failures_and_timeouts():
    root = ET.fromstring(render(nodes_of("order-status"), "order-status"))
    labels = {(g.get("data-from"), g.get("data-to")): g.get("data-label") for g in groups(root, "cf-edge")}
    assert labels[("route", "ask_order")] == "vars.choice == 'track'"
    assert labels[("route", "agent")] == "else"
    assert labels[("menu", "bye")] == "no reply in 1h"
    assert labels[("lookup", "agent")] == "failure"
    assert labels[("ask_order", "agent")] == "invalid"


@pytest.mark.parametrize("name", FLOWS)
def test_the_canvas_is_layered_from_start_at_the_top_downwards(name):
    nodes = nodes_of(name)
    root = ET.fromstring(render(nodes, name))
    boxes = {g.get("data-node"): (int(g.get("data-layer")), rect(g)) for g in groups(root, "cf-node")}
    start = next(n for n, v in nodes.items() if v["type"] == "start")
    assert boxes[start][0] == 0
    assert boxes[start][1][1] == min(b[1][1] for b in boxes.values())
    for g in groups(root, "cf-edge"):
        (src_layer, src), (dst_layer, dst) = boxes[g.get("data-from")], boxes[g.get("data-to")]
        if g.get("data-back") == "true":
            assert dst_layer <= src_layer and dst[1] <= src[1]
        else:
            assert dst_layer > src_layer and dst[1] > src[3], "a forward edge points down to a lower box"
    ends = [n for n, v in nodes.items() if v["type"] == "end"]
    assert max(boxes[n][0] for n in ends) == max(layer for layer, _ in boxes.values())


def test_a_loop_back_to_an_earlier_node_is_drawn_dashed():
    root = ET.fromstring(render(nodes_of("instagram-faq"), "instagram-faq"))
    back = [g for g in groups(root, "cf-edge") if g.get("data-back") == "true"]
    assert [(g.get("data-from"), g.get("data-to"), g.get("data-label")) for g in back] == [("again", "menu", "vars.again == 'yes'")]
    assert back[0].find(f"{SVG}path").get("stroke-dasharray")
    forward = [g for g in groups(root, "cf-edge") if g.get("data-back") == "false"]
    assert all(not g.find(f"{SVG}path").get("stroke-dasharray") for g in forward)


@pytest.mark.parametrize("name", FLOWS)
def test_boxes_and_labels_do_not_cover_each_other(name):
    root = ET.fromstring(render(nodes_of(name), name))
    boxes = [rect(g) for g in groups(root, "cf-node")]
    labels = [rect(g) for g in groups(root, "cf-edge") if g.get("data-label")]
    shapes = boxes + labels
    for i, a in enumerate(shapes):
        for b in shapes[i + 1:]:
            assert not overlaps(a, b)
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert all(0 <= s[0] and s[2] <= width and 0 <= s[1] and s[3] <= height for s in shapes)


@pytest.mark.parametrize("name", FLOWS)
def test_the_same_flow_always_gives_the_same_drawing_whatever_the_node_order(name):
    nodes = nodes_of(name)
    first = render(nodes, name)
    assert render(nodes, name) == first
    assert render(dict(reversed(list(nodes.items()))), name) == first


def test_text_is_escaped_and_wrapped_inside_its_box():
    text = 'Tom & <Jerry> say "hi" \x07' + " and then a much longer sentence that goes on" * 4
    nodes = {
        "start": {"type": "start", "next": "say"},
        "say": {"type": "message", "text": text, "buttons": ["<b>yes</b>", {"id": "n", "title": "no & never"}], "next": "done"},
        "done": {"type": "end"},
    }
    document = render(nodes, "<x>")
    root = ET.fromstring(document)
    assert "\x07" not in document
    say = next(g for g in groups(root, "cf-node") if g.get("data-node") == "say")
    lines = texts(say, "cf-text")
    assert lines[0].startswith('Tom & <Jerry> say "hi"')
    assert len(lines) == MAX_LINES and lines[-1].endswith("…")
    assert all(len(line) * CHAR <= BOX_WIDTH - 2 * PAD for line in lines)
    assert texts(say, "cf-detail") == ["[<b>yes</b>] · [no & never]"]
    assert root.find(f"{SVG}title").text == "<x>"


def test_every_component_type_has_a_readable_box():
    nodes = {
        "start": {"type": "start", "next": "pick"},
        "pick": {"type": "split", "branches": [{"weight": 1, "next": "calc"}, {"weight": 3, "next": "wait"}]},
        "calc": {"type": "set", "values": {"total": "vars.a + vars.b"}, "next": "call"},
        "call": {"type": "http", "method": "POST", "url": "https://api.example.com/x", "save": {"id": "id"},
                 "next": "ask", "on_failure": "human"},
        "wait": {"type": "delay", "duration": "2h", "next": "ask"},
        "ask": {"type": "llm", "prompt": "Summarise {{ vars.total }}", "save_as": "summary", "next": "again", "on_failure": "human"},
        "again": {"type": "goto", "target": "calc", "max_jumps": 2, "next": "out"},
        "out": {"type": "send", "account": "acme", "to": "{{ vars.phone }}", "template": {"name": "bye", "language": "en"}, "next": "other"},
        "human": {"type": "handoff", "note": "help", "timeout": "1h", "next": "other"},
        "other": {"type": "start_flow", "flow": "survey"},
    }
    root = ET.fromstring(render(nodes))
    shown = {g.get("data-node"): " ".join(texts(g)) for g in groups(root, "cf-node")}
    assert "weight 1" in [g.get("data-label") for g in groups(root, "cf-edge")]
    assert "total = vars.a + vars.b" in shown["calc"]
    assert "POST https://api.example.com/x" in shown["call"] and "saves id" in shown["call"]
    assert "wait 2h" in shown["wait"]
    assert "Summarise" in shown["ask"] and "saves summary" in shown["ask"]
    assert "jump to calc" in shown["again"] and "at most 2 times" in shown["again"]
    assert "template bye (en)" in shown["out"] and "via acme" in shown["out"]
    assert "released after 1h" in shown["human"]
    assert "start flow survey" in shown["other"]
    jump = next(g for g in groups(root, "cf-edge") if g.get("data-label") == "jump")
    assert (jump.get("data-from"), jump.get("data-to"), jump.get("data-back")) == ("again", "calc", "true")
