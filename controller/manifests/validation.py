"""Semantic validation beyond the schema: graph, templates, triggers, accounts, limits, secrets."""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import jmespath
import jmespath.exceptions

from . import expressions
from .components import SECRET_HEADER, Condition, Goto, Http, Send, StartFlow, _Content
from .diagnostics import Diagnostic, capped
from .documents import Document
from .facts import Facts
from .limits import LIMITS, VIBER_SENDER_NAME
from .models import Account, Flow, FlowTest, ViberAccountSpec, fold_keyword

NODES = ("spec", "nodes")


def validate_documents(
    documents: list[Document],
    secret_root: Path | None = None,
    invalid: Iterable[tuple[str, str]] = (),
) -> list[Diagnostic]:
    """Every rule: the local ones per document, then the global ones over all documents' facts.

    `invalid` names the (kind, name) of manifests that exist but failed the schema: references
    to them are not reported as missing, since their own diagnostics say what is wrong.
    """
    out: list[Diagnostic] = []
    for d in documents:
        out.extend(local_checks(d, secret_root))
    out.extend(global_checks([facts_of(d) for d in documents], invalid))
    return out


def local_checks(d: Document, secret_root: Path | None = None) -> list[Diagnostic]:
    """Rules that need only this document (and its parsed model)."""
    manifest = d.manifest
    if isinstance(manifest, Account):
        return list(capped(_account(d, secret_root)))
    if isinstance(manifest, Flow):
        return list(capped(_flow_local(d, manifest)))
    return []


def _flow_local(d: Document, flow: Flow) -> Iterator[Diagnostic]:
    yield from _trigger_local(d, flow)
    yield from _graph(d, flow)
    yield from _templates(d, flow)
    yield from _http(d, flow)
    yield from _limits(d, flow, send_channel=None)


def facts_of(d: Document) -> Facts:
    """What the global rules need of one valid document."""
    facts = Facts(d.kind, d.name, d.path, d.raw.index, locate=d.raw.locate)
    manifest = d.manifest
    if isinstance(manifest, Flow):
        spec = manifest.spec
        facts.trigger, facts.account, facts.state = spec.trigger.type, spec.trigger.account, spec.state
        facts.keywords = list(spec.trigger.keywords)
        facts.nodes = list(spec.nodes)
        facts.start_flows = [(nid, n.flow) for nid, n in spec.nodes.items() if isinstance(n, StartFlow)]
        facts.sends = [(nid, n.account) for nid, n in spec.nodes.items() if isinstance(n, Send)]
        for nid, node in spec.nodes.items():
            if isinstance(node, Send):
                for channel in LIMITS:
                    found = list(_node_limits(d, nid, node, channel))
                    if found:
                        facts.send_limits.setdefault(f"{channel}/{nid}", []).extend(found)
    elif isinstance(manifest, Account):
        facts.channel, facts.channel_id = manifest.spec.channel, manifest.spec.channel_id()
    elif isinstance(manifest, FlowTest):
        facts.test_flow = manifest.spec.flow
        facts.expected_nodes = [(i, s.expect.node) for i, s in enumerate(manifest.spec.steps) if s.expect.node is not None]
    return facts


def global_checks(facts: list[Facts], invalid: Iterable[tuple[str, str]] = (),
                  known: Iterable[tuple[str, str]] = ()) -> list[Diagnostic]:
    """Rules across documents, over their facts only (so cached files need no parsing).

    `invalid` and `known` name (kind, name) documents that exist without facts here: invalid
    ones, or (for an incremental check over a few documents) the rest of the tree."""
    elsewhere = set(invalid) | set(known)
    out: list[Diagnostic] = list(_duplicate_names(facts))
    accounts = {f.name: f for f in facts if f.kind == "Account"}
    flows = {f.name: f for f in facts if f.kind == "Flow"}
    exists = _Names(
        accounts={n for k, n in elsewhere if k == "Account"} | set(accounts),
        flows={n for k, n in elsewhere if k == "Flow"} | set(flows),
    )
    out.extend(_channel_ids(list(accounts.values())))
    for f in flows.values():
        out.extend(_trigger_account(f, accounts, exists))
        out.extend(_references(f, exists))
        for nid, account in f.sends:
            target = accounts.get(account)
            if target is not None:
                out.extend(f.send_limits.get(f"{target.channel}/{nid}", []))
    out.extend(_keyword_conflicts(list(flows.values())))
    for f in facts:
        if f.kind == "FlowTest":
            out.extend(_flow_test(f, flows, exists))
    return out


@dataclass(frozen=True)
class _Names:
    """Names that exist per kind, valid or not (a reference to an invalid one is not "missing")."""

    accounts: set[str]
    flows: set[str]


def _flow_test(f: Facts, flows: dict[str, Facts], exists: _Names) -> Iterator[Diagnostic]:
    name = f.test_flow or ""
    if name not in exists.flows:
        yield f.diagnostic("CF150", f"FlowTest names flow `{name}`, which does not exist",
                           ("spec", "flow"), hint=_did_you_mean(name, exists.flows, "flows"))
        return
    target = flows.get(name)
    if target is None:
        return  # the flow exists but is invalid; its own diagnostics say why
    for i, node in f.expected_nodes:
        if node not in target.nodes:
            yield f.diagnostic("CF153", f"step {i + 1} expects the conversation at node `{node}`, which flow `{name}` does not have",
                               ("spec", "steps", i, "expect", "node"), hint=_did_you_mean(node, target.nodes, "nodes are"))


def _did_you_mean(word: str, names: Iterable[str], what: str = "names") -> str:
    names = sorted(names)
    candidates = names
    if len(candidates) > 200:  # difflib is slow over thousands; a close name shares the start and length
        candidates = [n for n in names if n[:1] == word[:1] and abs(len(n) - len(word)) <= 2][:200]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"{what}: {shown}" if names else f"there are no {what}"


def _duplicate_names(facts: list[Facts]) -> Iterator[Diagnostic]:
    first: dict[tuple[str, str], Facts] = {}
    for f in facts:
        key = (f.kind, f.name)
        if key in first:
            other = first[key]
            line, _ = other.locate(("metadata", "name"), "value")
            yield f.diagnostic("CF020", f"{f.kind} `{f.name}` is defined twice", ("metadata", "name"),
                               hint=f"first defined at {other.path}:{line}; names are unique per kind")
        else:
            first[key] = f


# ---- accounts ------------------------------------------------------------------------------


def _account(d: Document, secret_root: Path | None) -> Iterator[Diagnostic]:
    spec = d.manifest.spec  # type: ignore[union-attr]
    if isinstance(spec, ViberAccountSpec) and len(spec.viber.senderName) > VIBER_SENDER_NAME:
        yield d.diagnostic("CF131", f"Viber sender name is {len(spec.viber.senderName)} characters; Viber allows {VIBER_SENDER_NAME}",
                           ("spec", "viber", "senderName"), hint="shorten it")
    if secret_root is None:
        return
    root = secret_root.resolve()
    for field, ref in spec.credentials:
        if ref.file is not None:
            target = Path(ref.file).expanduser().resolve()
            if target == root or root in target.parents:
                yield d.diagnostic("CF141", f"secret file `{ref.file}` lies inside the manifest root",
                                   ("spec", "credentials", field, "file"),
                                   hint="keep secrets outside the repository's manifests, e.g. /run/secrets/...")


def _channel_ids(accounts: list[Facts]) -> Iterator[Diagnostic]:
    seen: dict[tuple[str, str], Facts] = {}
    for f in accounts:
        if f.channel_id is None or f.channel is None:
            continue
        key = (f.channel, f.channel_id)
        if key in seen:
            block = {"whatsapp": "phoneNumberId", "messenger": "pageId", "instagram": "igUserId"}[f.channel]
            yield f.diagnostic("CF126", f"{f.channel} id {f.channel_id} is already used by account `{seen[key].name}`",
                               ("spec", f.channel, block), hint="each channel account is declared once")
        else:
            seen[key] = f


# ---- flows ---------------------------------------------------------------------------------


def _trigger_local(d: Document, flow: Flow) -> Iterator[Diagnostic]:
    trigger = flow.spec.trigger
    loc = ("spec", "trigger")
    if trigger.type == "manual":
        if trigger.account is not None:
            yield d.diagnostic("CF120", "a manual trigger takes no account", (*loc, "account"),
                               hint="remove `account`; manual flows send with `send` nodes that name their account")
        if trigger.keywords:
            yield d.diagnostic("CF125", "keywords on a manual trigger are never matched", (*loc, "keywords"),
                               hint="remove `keywords`, or use a message trigger")
        return
    if trigger.account is None and flow.spec.state == "published":
        yield d.diagnostic("CF121", f"a published {trigger.type} flow needs an account", loc, want="key",
                           hint=f"add `account:` naming a {trigger.type} Account, or set `state: unpublished`")


def _trigger_account(f: Facts, accounts: dict[str, Facts], exists: _Names) -> Iterator[Diagnostic]:
    if f.trigger == "manual" or f.account is None:
        return
    loc = ("spec", "trigger", "account")
    account = accounts.get(f.account)
    if account is None:
        if f.account not in exists.accounts:
            yield f.diagnostic("CF123", f"account `{f.account}` does not exist", loc,
                               hint=_did_you_mean(f.account, exists.accounts, "accounts"))
        return
    if account.channel != f.trigger:
        yield f.diagnostic("CF122", f"account `{f.account}` is a {account.channel} account; this trigger is {f.trigger}",
                           loc, hint=f"bind a {f.trigger} account (the trigger type cannot change)")


def edges(flow: Flow) -> dict[str, list[str]]:
    """node id -> the node ids it can go to (only ids that exist)."""
    nodes = flow.spec.nodes
    return {nid: [t for _, t in node.targets() if t in nodes] for nid, node in nodes.items()}


def reachable(graph: dict[str, list[str]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _graph(d: Document, flow: Flow) -> Iterator[Diagnostic]:
    nodes = flow.spec.nodes
    starts = [nid for nid, n in nodes.items() if n.type == "start"]
    if not starts:
        yield d.diagnostic("CF100", "the flow has no start node", NODES, want="key",
                           hint="add `start: {type: start, next: <first node>}`")
    for extra in starts[1:]:
        yield d.diagnostic("CF101", f"`{extra}` is a second start node (the first is `{starts[0]}`)",
                           (*NODES, extra), want="key", hint="a flow has exactly one start; make this another type")
    if not any(n.type == "end" for n in nodes.values()):
        yield d.diagnostic("CF102", "the flow has no end node", NODES, want="key", hint="add `done: {type: end}`")
    for nid, node in nodes.items():
        for field, target in node.targets():
            if target not in nodes:
                yield d.diagnostic("CF103", f"`{nid}.{_field(field)}: {target}` names no node", (*NODES, nid, *field),
                                   hint=_did_you_mean(target, nodes, "nodes are"))
        if isinstance(node, Condition) and node.default is None:
            yield d.diagnostic("CF106", f"condition `{nid}` has no `default`: when no branch matches the conversation has nowhere to go",
                               (*NODES, nid), want="key", hint="add `default: <node>`")
    graph = edges(flow)
    broken = any(t not in nodes for node in nodes.values() for _, t in node.targets())
    # With a broken target, nodes past it look unreachable; the CF103 is the one to fix first.
    if len(starts) == 1 and not broken:
        seen = reachable(graph, starts[0])
        for nid in nodes:
            if nid not in seen:
                yield d.diagnostic("CF104", f"node `{nid}` cannot be reached from `{starts[0]}`", (*NODES, nid), want="key",
                                   hint="point a `next` at it, or remove it")
    yield from _spinning_loops(d, flow, graph)
    component = _components(graph)
    for nid, node in nodes.items():
        # the goto -> target edge exists, so target leads back to the goto iff both share a component
        if isinstance(node, Goto) and node.target in nodes and component[nid] != component[node.target]:
            yield d.diagnostic("CF107", f"goto `{nid}` jumps to `{node.target}`, which never leads back to it",
                               (*NODES, nid, "target"), hint="a goto repeats earlier steps; point it at an earlier node")


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _spinning_loops(d: Document, flow: Flow, graph: dict[str, list[str]]) -> Iterator[Diagnostic]:
    """A cycle that passes no waiting node and no goto jump would spin forever."""
    nodes = flow.spec.nodes
    free: dict[str, list[str]] = {}
    for nid, targets in graph.items():
        node = nodes[nid]
        if node.WAITS:
            free[nid] = []
        elif isinstance(node, Goto):
            free[nid] = [node.next] if node.next in nodes else []
        else:
            free[nid] = targets
    order = {nid: i for i, nid in enumerate(nodes)}
    for component in _loops(free):
        first = min(component, key=order.__getitem__)
        loop = " -> ".join(_cycle_through(first, component, free))
        yield d.diagnostic("CF105", f"{loop} is a loop with no waiting node: it would spin",
                           (*NODES, first), want="key",
                           hint="put a question, delay or handoff in the loop, or loop with a `goto` and `max_jumps`")


def _cycle_through(first: str, component: set[str], graph: dict[str, list[str]]) -> list[str]:
    """The shortest way round from `first` back to itself inside one strongly connected component."""
    previous: dict[str, str] = {}
    queue = [first]
    for node in queue:
        for nxt in graph[node]:
            if nxt == first:
                path = [node]
                while path[-1] != first:
                    path.append(previous[path[-1]])
                return [*reversed(path), first]
            if nxt in component and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return sorted(component)


def _components(graph: dict[str, list[str]]) -> dict[str, int]:
    """node -> the number of its strongly connected component (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = index[node]
                    if member == node:
                        break
    return component


def _loops(graph: dict[str, list[str]]) -> list[set[str]]:
    """The strongly connected components that hold a cycle."""
    members: dict[int, set[str]] = defaultdict(set)
    for node, number in _components(graph).items():
        members[number].add(node)
    return [m for m in members.values() if len(m) > 1 or any(n in graph[n] for n in m)]


def _templates(d: Document, flow: Flow) -> Iterator[Diagnostic]:
    nodes = flow.spec.nodes
    reads: dict[str, list[tuple[tuple[str | int, ...], str]]] = defaultdict(list)
    for nid, node in nodes.items():
        checks = [(f, expressions.check_template(s)) for f, s in node.templates()]
        checks += [(f, expressions.check_expression(s)) for f, s in node.expressions()]
        for field, check in checks:
            if check.error:
                yield d.diagnostic(check.code or "CF111", f"`{nid}.{_field(field)}`: {check.error}", (*NODES, nid, *field),
                                   hint=check.hint)
            for name in check.reads:
                reads[nid].append((field, name))
    if not reads:
        return
    wanted = {name for items in reads.values() for _, name in items}
    assigned = _assigned_before(flow, wanted)
    for nid, items in reads.items():
        for field, name in items:
            if name not in assigned[nid]:
                yield d.diagnostic("CF110", f"`{nid}.{_field(field)}` reads `vars.{name}`, which no earlier step sets",
                                   (*NODES, nid, *field),
                                   hint=f"declare it under `spec.variables` with a default, or set it before `{nid}`")


def _assigned_before(flow: Flow, wanted: set[str]) -> dict[str, frozenset[str]]:
    """For each node, which of the `wanted` variables some path from start may have set on arrival.

    A forward data-flow over the graph with a work list; sets only grow, so it ends.
    """
    nodes = flow.spec.nodes
    declared = frozenset(flow.spec.variables) & wanted
    graph = edges(flow)
    sets = {nid: frozenset(node.assigns()) & wanted for nid, node in nodes.items()}
    arriving: dict[str, frozenset[str]] = {nid: declared for nid in nodes}
    work = list(nodes)
    queued = set(work)
    while work:
        nid = work.pop()
        queued.discard(nid)
        leaving = arriving[nid] | sets[nid]
        for nxt in graph[nid]:
            if not leaving <= arriving[nxt]:
                arriving[nxt] = arriving[nxt] | leaving
                if nxt not in queued:
                    queued.add(nxt)
                    work.append(nxt)
    return arriving


def _references(f: Facts, exists: _Names) -> Iterator[Diagnostic]:
    for nid, flow in f.start_flows:
        if flow not in exists.flows:
            yield f.diagnostic("CF151", f"start_flow `{nid}` names flow `{flow}`, which does not exist",
                               (*NODES, nid, "flow"), hint=_did_you_mean(flow, exists.flows, "flows"))
    for nid, account in f.sends:
        if account not in exists.accounts:
            yield f.diagnostic("CF152", f"send `{nid}` names account `{account}`, which does not exist",
                               (*NODES, nid, "account"), hint=_did_you_mean(account, exists.accounts, "accounts"))


def _http(d: Document, flow: Flow) -> Iterator[Diagnostic]:
    """Secret-looking headers must be references; `save` paths must be JMESPath."""
    for nid, node in flow.spec.nodes.items():
        if not isinstance(node, Http):
            continue
        for name, value in node.headers.items():
            if isinstance(value, str) and SECRET_HEADER.search(name) and not expressions.is_template(value):
                yield d.diagnostic("CF140", f"header `{name}` of `{nid}` holds a literal secret", (*NODES, nid, "headers", name),
                                   hint="reference it: `{env: NAME}` or `{file: /path}`")
        for var, path in node.save.items():
            problem = _jmespath_problem(path)
            if problem is not None:
                yield d.diagnostic("CF114", f"`{nid}.save.{var}`: {path!r} is not a JMESPath expression: {problem}",
                                   (*NODES, nid, "save", var),
                                   hint="paths look like `status`, `delivery.eta`, `items[0].id`; see jmespath.org")


@lru_cache(maxsize=4096)
def _jmespath_problem(path: str) -> str | None:
    try:
        jmespath.compile(path)
    except jmespath.exceptions.JMESPathError as exc:
        return " ".join(str(getattr(exc, "msg", exc)).split()) or "it does not parse"
    except (ValueError, RecursionError):
        return "it does not parse"
    return None


def _limits(d: Document, flow: Flow, send_channel: str | None) -> Iterator[Diagnostic]:
    """Channel limits: CF130 where the adapter degrades (and how), CF131 where nothing can.

    With `send_channel` None: every node but `send` (its channel is its account's: a global
    fact); with a channel: only the `send` nodes, as if their account were on that channel.
    """
    for nid, node in flow.spec.nodes.items():
        if not isinstance(node, _Content) or (send_channel is None) == isinstance(node, Send):
            continue
        yield from _node_limits(d, nid, node, send_channel or flow.spec.trigger.type)


def _node_limits(d: Document, nid: str, node: _Content, channel: str) -> Iterator[Diagnostic]:
    limits = LIMITS.get(channel)
    if limits is None:
        return  # a manual flow's messages go wherever the caller says; nothing to check yet
    base = (*NODES, nid)
    buttons = node.button_models()
    interactive = bool(buttons) or node.list is not None
    if node.text is not None and not expressions.is_template(node.text):
        size = limits.size(node.text)
        if size > limits.text:
            yield d.diagnostic("CF131", f"`{nid}.text` is {size} {limits.unit}; {channel} allows {limits.text}",
                               (*base, "text"), hint="shorten it or split it into two messages")
        elif interactive and limits.interactive_text is not None and size > limits.interactive_text:
            yield d.diagnostic("CF131", f"`{nid}.text` is {size} {limits.unit}; {channel} allows {limits.interactive_text} "
                               "in a message with buttons or a list", (*base, "text"),
                               hint="put the long part in a message node before it")
    if len(buttons) > limits.buttons:
        yield d.diagnostic("CF130", f"`{nid}` has {len(buttons)} buttons; {channel} shows {limits.buttons}, "
                           f"so the adapter sends {limits.degrade_buttons}", (*base, "buttons"), want="key",
                           hint=f"keep to {limits.buttons} buttons to have them shown as buttons")
    if limits.button_title is not None:
        for i, b in enumerate(buttons):
            if len(b.title) > limits.button_title and not expressions.is_template(b.title):
                field = ("buttons", i) if isinstance(node.buttons[i], str) else ("buttons", i, "title")  # type: ignore[index]
                yield d.diagnostic("CF131", f"button title {b.title!r} is {len(b.title)} characters; {channel} allows {limits.button_title}",
                                   (*base, *field), hint="shorten the title (the id may stay long)")
    if node.list is not None:
        yield from _list_limits(d, nid, node, channel)


def _list_limits(d: Document, nid: str, node: _Content, channel: str) -> Iterator[Diagnostic]:
    limits = LIMITS[channel]
    lst = node.list
    assert lst is not None
    base = (*NODES, nid, "list")
    rows = lst.rows()
    if not limits.lists:
        yield d.diagnostic("CF130", f"{channel} has no list messages; `{nid}` is sent as {limits.degrade_list}", base, want="key",
                           hint="use `buttons` to say what the contact will see, or accept the degradation")
        if limits.button_title is not None and len(rows) <= limits.buttons:
            for si, section in enumerate(lst.sections):
                for ri, row in enumerate(section.rows):
                    if len(row.title) > limits.button_title and not expressions.is_template(row.title):
                        yield d.diagnostic("CF131", f"list row title {row.title!r} becomes a quick reply; {channel} allows {limits.button_title} characters",
                                           (*base, "sections", si, "rows", ri, "title"), hint="shorten the title")
        return
    if len(rows) > limits.list_rows:
        yield d.diagnostic("CF131", f"`{nid}.list` has {len(rows)} rows; {channel} allows {limits.list_rows} in all",
                           (*base, "sections"), want="key", hint="split the choices over two questions")
    if len(lst.sections) > limits.list_sections:
        yield d.diagnostic("CF131", f"`{nid}.list` has {len(lst.sections)} sections; {channel} allows {limits.list_sections}",
                           (*base, "sections"), want="key", hint="merge sections")
    if len(lst.button) > limits.list_button:
        yield d.diagnostic("CF131", f"list button {lst.button!r} is {len(lst.button)} characters; {channel} allows {limits.list_button}",
                           (*base, "button"), hint="shorten it")
    for si, section in enumerate(lst.sections):
        if section.title is not None and len(section.title) > limits.section_title:
            yield d.diagnostic("CF131", f"section title {section.title!r} is {len(section.title)} characters; {channel} allows {limits.section_title}",
                               (*base, "sections", si, "title"), hint="shorten it")
        if section.title is None and len(lst.sections) > 1:
            yield d.diagnostic("CF131", f"section {si + 1} of `{nid}.list` has no title; {channel} needs one when a list has several sections",
                               (*base, "sections", si), hint="add `title:` to every section")
        for ri, row in enumerate(section.rows):
            loc = (*base, "sections", si, "rows", ri)
            if len(row.title) > limits.row_title:
                yield d.diagnostic("CF131", f"list row title {row.title!r} is {len(row.title)} characters; {channel} allows {limits.row_title}",
                                   (*loc, "title"), hint="shorten it; put detail in `description`")
            if row.description is not None and len(row.description) > limits.row_description:
                yield d.diagnostic("CF131", f"list row description is {len(row.description)} characters; {channel} allows {limits.row_description}",
                                   (*loc, "description"), hint="shorten it")


def _keyword_conflicts(flows: list[Facts]) -> Iterator[Diagnostic]:
    by_account: dict[str, list[Facts]] = defaultdict(list)
    for f in flows:
        if f.state == "published" and f.account and f.trigger != "manual":
            by_account[f.account].append(f)
    for account, members in by_account.items():
        owner: dict[str, str] = {}
        default: str | None = None
        for f in sorted(members, key=lambda x: x.name):
            if not f.keywords:
                if default is not None:
                    yield f.diagnostic("CF124", f"`{default}` is already the default flow of account `{account}` (no keywords)",
                                       ("spec", "trigger"), want="key",
                                       hint="give one of them keywords; the planner blocks the second default")
                else:
                    default = f.name
            for i, kw in enumerate(f.keywords):
                folded = fold_keyword(kw)
                if folded in owner and owner[folded] != f.name:
                    yield f.diagnostic("CF124", f"keyword {kw!r} already starts flow `{owner[folded]}` on account `{account}`",
                                       ("spec", "trigger", "keywords", i),
                                       hint="each keyword belongs to one published flow per account; the planner blocks this one")
                else:
                    owner.setdefault(folded, f.name)
