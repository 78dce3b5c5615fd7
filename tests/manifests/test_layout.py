"""The layered layout: every node placed once, layers top-down, loops apart, no overlaps, same input same drawing."""

from __future__ import annotations

from graphlib import TopologicalSorter

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.manifests.layout import layout


def _overlap(a, b) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def test_a_chain_goes_straight_down_from_the_root():
    sizes = {n: (100, 40) for n in ("start", "a", "b", "end")}
    drawing = layout(sizes, [("start", "a"), ("a", "b"), ("b", "end")], ["start"])
    assert [drawing.nodes[n].layer for n in ("start", "a", "b", "end")] == [0, 1, 2, 3]
    ys = [drawing.nodes[n].y for n in ("start", "a", "b", "end")]
    assert ys == sorted(ys) and len(set(ys)) == 4
    assert len({drawing.nodes[n].centre for n in sizes}) == 1  # one straight column
    assert not any(r.back for r in drawing.routes)


def test_a_node_sits_below_all_of_its_predecessors():
    sizes = {n: (100, 40) for n in ("start", "short", "long1", "long2", "join")}
    edges = [("start", "short"), ("start", "long1"), ("long1", "long2"), ("short", "join"), ("long2", "join")]
    drawing = layout(sizes, edges, ["start"])
    assert drawing.nodes["join"].layer == 3
    route = next(r for r in drawing.routes if (r.source, r.target) == ("short", "join"))
    assert len(route.points) == 4  # routed through the layer in between, not across a box
    ys = [y for _, y in route.points]
    assert ys == sorted(ys)


def test_an_edge_back_to_an_earlier_node_is_a_back_edge_drawn_upwards():
    sizes = {n: (100, 40) for n in ("start", "menu", "answer", "end")}
    edges = [("start", "menu"), ("menu", "answer"), ("answer", "menu"), ("answer", "end")]
    drawing = layout(sizes, edges, ["start"])
    back = [r for r in drawing.routes if r.back]
    assert [(r.source, r.target) for r in back] == [("answer", "menu")]
    assert back[0].points[0][1] == drawing.nodes["answer"].y  # leaves the top of its source
    assert back[0].points[-1][1] == drawing.nodes["menu"].bottom  # enters the bottom of its target
    assert drawing.nodes["answer"].layer > drawing.nodes["menu"].layer


def test_a_self_loop_is_drawn_beside_its_node():
    sizes = {"start": (100, 40), "ask": (100, 40)}
    drawing = layout(sizes, [("start", "ask"), ("ask", "ask")], ["start"])
    loop = next(r for r in drawing.routes if r.self_loop)
    assert loop.back and loop.source == loop.target == "ask"
    assert drawing.width >= drawing.nodes["ask"].x + drawing.nodes["ask"].width + 30


def test_edges_to_unknown_nodes_are_ignored():
    drawing = layout({"start": (10, 10)}, [("start", "ghost"), ("ghost", "start")], ["start"])
    assert list(drawing.nodes) == ["start"] and drawing.routes == ()


graphs = st.integers(min_value=1, max_value=14).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n),
        st.lists(st.tuples(st.integers(40, 260), st.integers(20, 90)), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(graphs)
def test_any_graph_is_laid_out_top_down_without_overlaps_and_deterministically(graph):
    n, pairs, dims = graph
    sizes = {f"n{i}": dims[i] for i in range(n)}
    edges = [(f"n{a}", f"n{b}") for a, b in pairs]
    drawing = layout(sizes, edges, ["n0"])
    assert set(drawing.nodes) == set(sizes)
    assert drawing.nodes["n0"].layer == 0
    boxes = list(drawing.nodes.values())
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.y >= 0 and a.x + a.width <= drawing.width and a.bottom <= drawing.height
        for b in boxes[i + 1:]:
            assert not _overlap(a, b), (a, b)
    assert len(drawing.routes) == len(edges)
    forward = TopologicalSorter({n: set() for n in sizes})
    for r in drawing.routes:
        src, dst = drawing.nodes[r.source], drawing.nodes[r.target]
        if r.back:
            assert r.self_loop or dst.layer < src.layer
        else:
            assert dst.layer > src.layer
            forward.add(r.target, r.source)
            assert r.points[0][1] == src.bottom and r.points[-1][1] == dst.y
    tuple(forward.static_order())  # the edges left after taking out back edges form no cycle
    assert layout(sizes, edges, ["n0"]) == drawing
