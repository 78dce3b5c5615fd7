"""A layered drawing of a directed graph: longest-path layers from the top, barycentre order, back edges kept apart.

The classic Sugiyama steps, kept small: depth-first search from the roots marks the edges that
close a loop (back edges); the others form a DAG whose longest-path layering puts every node
below all of its predecessors; an edge that spans several layers gets a chain of dummy vertices
so it routes between nodes; a few barycentre sweeps order each layer (the ordering with the
fewest crossings wins); and an isotonic regression places each node as near to its neighbours'
mean as the order and spacing allow. Everything is deterministic: ties keep discovery order.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

Point = tuple[float, float]
Gap = Callable[[str, str], float]  # room between two neighbours in a layer


@dataclass(frozen=True)
class Placed:
    """A node's box: (x, y) is the top-left corner."""

    id: str
    x: float
    y: float
    width: float
    height: float
    layer: int

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class Route:
    """One edge as a path of points, from its source to its target. A back edge (one that
    closes a loop) runs upwards; a self loop has just its node's right-hand side."""

    index: int  # position in the input edge list
    source: str
    target: str
    points: tuple[Point, ...]
    back: bool
    self_loop: bool = False


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Placed]
    routes: tuple[Route, ...]
    width: float
    height: float
    layers: int


@dataclass(frozen=True)
class Spacing:
    layer_gap: float = 72.0  # vertical room between layers (edge labels live here)
    node_gap: float = 44.0  # horizontal room between boxes
    dummy_gap: float = 18.0  # horizontal room next to a routed edge
    dummy_width: float = 14.0
    margin: float = 24.0
    loop_room: float = 30.0  # right of a node with a self loop


def layout(sizes: Mapping[str, tuple[float, float]], edges: Sequence[tuple[str, str]],
           roots: Sequence[str] = (), spacing: Spacing = Spacing()) -> Layout:
    """Place `sizes` (id -> (width, height)) in layers from `roots` downwards and route `edges`
    ((source, target) pairs; ids not in `sizes` are ignored). Out-edges are followed in the
    order given, so put the main path first."""
    ids = list(sizes)
    known = set(ids)
    valid = [(i, s, t) for i, (s, t) in enumerate(edges) if s in known and t in known]
    tops = [r for r in roots if r in known]
    order, back = _depth_first(ids, valid, tops)
    back |= {i for i, s, t in valid if t in tops and s not in tops}  # roots stay at the top
    rank = {n: i for i, n in enumerate(order)}

    # The DAG: back edges reversed, self loops left out.
    dag: list[tuple[int, str, str]] = []
    for i, s, t in valid:
        if s == t:
            continue
        dag.append((i, t, s) if i in back else (i, s, t))
    layer = _longest_path(order, dag)

    # Chains of dummies for edges that span more than one layer.
    width: dict[str, float] = {n: float(sizes[n][0]) for n in ids}
    height: dict[str, float] = {n: float(sizes[n][1]) for n in ids}
    chains: dict[int, list[str]] = {}
    for i, s, t in dag:
        chain = [s]
        for k in range(layer[s] + 1, layer[t]):
            dummy = f"\0{i}:{k}"
            layer[dummy] = k
            width[dummy], height[dummy] = spacing.dummy_width, 0.0
            rank[dummy] = len(rank)
            chain.append(dummy)
        chain.append(t)
        chains[i] = chain
    segments = [(a, b) for chain in chains.values() for a, b in zip(chain, chain[1:])]

    count = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(count)]
    for n in sorted(layer, key=lambda n: rank[n]):
        rows[layer[n]].append(n)
    rows = _order(rows, segments)

    dummy = {n for n in layer if n.startswith("\0")}
    loops = {s for i, s, t in valid if s == t}

    def gap(a: str, b: str) -> float:
        room = spacing.dummy_gap if a in dummy or b in dummy else spacing.node_gap
        return room + (spacing.loop_room if a in loops else 0.0)

    xs = _positions(rows, segments, width, gap)
    tops, bands = [], []
    y = spacing.margin
    for row in rows:
        band = max((height[n] for n in row), default=0.0)
        tops.append(y)
        bands.append(band)
        y += band + spacing.layer_gap
    left = min((xs[n] - width[n] / 2 for n in xs), default=0.0)
    shift = spacing.margin - left
    placed = {}
    for n in layer:
        k = layer[n]
        if n in dummy:  # a routed edge passes straight through the whole band
            placed[n] = Placed(n, xs[n] - width[n] / 2 + shift, tops[k], width[n], bands[k], k)
        else:
            placed[n] = Placed(n, xs[n] - width[n] / 2 + shift, tops[k] + (bands[k] - height[n]) / 2, width[n], height[n], k)

    routes = _routes(valid, back, chains, placed, dummy)
    right = max((p.x + p.width + (spacing.loop_room if p.id in loops else 0.0) for p in placed.values()), default=0.0)
    total_height = (tops[-1] + bands[-1]) if rows else 0.0
    nodes = {n: p for n, p in placed.items() if n not in dummy}
    return Layout(nodes, routes, right + spacing.margin, total_height + spacing.margin, count)


def _depth_first(ids: list[str], edges: list[tuple[int, str, str]], roots: list[str]) -> tuple[list[str], set[int]]:
    """Discovery order and the indexes of back edges (to a node still on the stack, or to itself)."""
    out: dict[str, list[tuple[int, str]]] = {n: [] for n in ids}
    for i, s, t in edges:
        out[s].append((i, t))
    seen: set[str] = set()
    on_stack: set[str] = set()
    order: list[str] = []
    back: set[int] = set()
    for root in [*roots, *ids]:
        if root in seen:
            continue
        seen.add(root)
        on_stack.add(root)
        order.append(root)
        stack = [(root, iter(out[root]))]
        while stack:
            node, it = stack[-1]
            step = next(it, None)
            if step is None:
                stack.pop()
                on_stack.discard(node)
                continue
            i, target = step
            if target in on_stack:
                back.add(i)
            elif target not in seen:
                seen.add(target)
                on_stack.add(target)
                order.append(target)
                stack.append((target, iter(out[target])))
    return order, back


def _longest_path(order: list[str], dag: list[tuple[int, str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {n: [] for n in order}
    succs: dict[str, list[str]] = {n: [] for n in order}
    for _, s, t in dag:
        preds[t].append(s)
        succs[s].append(t)
    # Kahn's algorithm, releasing nodes in discovery order.
    missing = {n: len(preds[n]) for n in order}
    ready = [n for n in order if missing[n] == 0]
    layer: dict[str, int] = {}
    while ready:
        n = ready.pop(0)
        layer[n] = max((layer[p] + 1 for p in preds[n]), default=0)
        for t in succs[n]:
            missing[t] -= 1
            if missing[t] == 0:
                ready.append(t)
    return layer


def _crossings(rows: list[list[str]], segments: list[tuple[str, str]]) -> int:
    """Edge crossings between adjacent layers: inversions of the lower ends, counted with bisect."""
    pos = {n: i for row in rows for i, n in enumerate(row)}
    level = {n: k for k, row in enumerate(rows) for n in row}
    by_layer: dict[int, list[tuple[int, int]]] = {}
    for a, b in segments:
        by_layer.setdefault(level[a], []).append((pos[a], pos[b]))
    total = 0
    for pairs in by_layer.values():
        seen: list[int] = []
        for _, lower in sorted(pairs):
            total += len(seen) - bisect_right(seen, lower)  # earlier edges that end further right
            insort(seen, lower)
    return total


def _order(rows: list[list[str]], segments: list[tuple[str, str]], sweeps: int = 6) -> list[list[str]]:
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for a, b in segments:
        down.setdefault(a, []).append(b)
        up.setdefault(b, []).append(a)
    best, best_cost = [list(r) for r in rows], _crossings(rows, segments)
    current = [list(r) for r in rows]
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        span = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for k in span:
            ref = current[k - 1] if downward else current[k + 1]
            pos = {n: i for i, n in enumerate(ref)}
            links = up if downward else down
            keyed = []
            for i, n in enumerate(current[k]):
                near = [pos[m] for m in links.get(n, ()) if m in pos]
                keyed.append((sum(near) / len(near) if near else float(i), i, n))
            current[k] = [n for _, _, n in sorted(keyed)]
        cost = _crossings(current, segments)
        if cost < best_cost:
            best, best_cost = [list(r) for r in current], cost
    return best


def _positions(rows: list[list[str]], segments: list[tuple[str, str]], width: dict[str, float], gap: Gap) -> dict[str, float]:
    """Centre x of every vertex: packed rows, then pulled towards their neighbours."""
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for a, b in segments:
        down.setdefault(a, []).append(b)
        up.setdefault(b, []).append(a)
    x: dict[str, float] = {}
    widest = 0.0
    packed = []
    for row in rows:
        at, centres = 0.0, []
        for i, n in enumerate(row):
            if i:
                at += gap(row[i - 1], n)
            centres.append(at + width[n] / 2)
            at += width[n]
        packed.append(centres)
        widest = max(widest, at)
    for row, centres in zip(rows, packed):
        span = (centres[-1] + width[row[-1]] / 2) if row else 0.0
        for n, c in zip(row, centres):
            x[n] = c + (widest - span) / 2
    for rnd in range(8):
        final = rnd == 7
        downward = rnd % 2 == 0
        span = range(len(rows)) if downward else range(len(rows) - 1, -1, -1)
        for k in span:
            row = rows[k]
            wanted = []
            for n in row:
                near = up.get(n, []) + down.get(n, []) if final else (up.get(n, []) if downward else down.get(n, []))
                wanted.append(sum(x[m] for m in near) / len(near) if near else x[n])
            for n, value in zip(row, _fit(row, wanted, width, gap)):
                x[n] = value
    return x


def _fit(row: list[str], wanted: list[float], width: dict[str, float], gap: Gap) -> list[float]:
    """Centres as near to `wanted` as possible (least squares) keeping order and spacing:
    isotonic regression by pooling adjacent violators."""
    offsets = [0.0]
    for i in range(1, len(row)):
        offsets.append(offsets[-1] + (width[row[i - 1]] + width[row[i]]) / 2 + gap(row[i - 1], row[i]))
    targets = [w - o for w, o in zip(wanted, offsets)]
    blocks: list[list[float]] = []  # [sum, count]
    for t in targets:
        blocks.append([t, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    z: list[float] = []
    for s, c in blocks:
        z.extend([s / c] * int(c))
    return [v + o for v, o in zip(z, offsets)]


def _routes(valid: list[tuple[int, str, str]], back: set[int], chains: dict[int, list[str]],
            placed: dict[str, Placed], dummy: set[str]) -> tuple[Route, ...]:
    # Ports: the edges leaving a box's bottom (or entering its top) spread along it, ordered by
    # where they go, so parallel edges stay apart.
    bottom: dict[str, list[tuple[float, int]]] = {}
    top: dict[str, list[tuple[float, int]]] = {}
    for i, chain in chains.items():
        upper, lower = chain[0], chain[-1]
        bottom.setdefault(upper, []).append((placed[chain[1]].centre, i))
        top.setdefault(lower, []).append((placed[chain[-2]].centre, i))

    def port(table: dict[str, list[tuple[float, int]]], node: str, i: int) -> float:
        box = placed[node]
        ranked = sorted(table[node])
        k = [j for _, j in ranked].index(i)
        if len(ranked) == 1 or node in dummy:
            return box.centre
        usable = box.width * 0.6
        return box.x + box.width * 0.2 + usable * k / (len(ranked) - 1)

    routes = []
    for i, s, t in valid:
        if s == t:
            box = placed[s]
            right = box.x + box.width
            points = ((right, box.y + box.height * 0.35), (right, box.y + box.height * 0.65))
            routes.append(Route(i, s, t, points, back=True, self_loop=True))
            continue
        chain = chains[i]
        upper, lower = chain[0], chain[-1]
        pts: list[Point] = [(port(bottom, upper, i), placed[upper].bottom)]
        for d in chain[1:-1]:
            pts += [(placed[d].centre, placed[d].y), (placed[d].centre, placed[d].bottom)]
        pts.append((port(top, lower, i), placed[lower].y))
        if i in back:  # drawn from its real source (below) up to its target
            pts.reverse()
        routes.append(Route(i, s, t, tuple(pts), back=i in back))
    return tuple(routes)
