"""Property tests: whatever the input, loading and validating give diagnostics, never an exception.

Random JSON and YAML documents, random text and bytes, and random mutations of the bundled
examples (of their data or of their text) each run 1,000 examples.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.resolver import VersionedResolver

from controller.manifests.catalog import Catalog, from_load
from controller.manifests.components import COMPONENTS
from controller.manifests.diagnostics import CODES
from controller.manifests.loader import LoadResult, construct_all, load_bytes
from controller.manifests.models import KINDS

from ..conftest import EXAMPLES

RUNS = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.yaml"))
EXAMPLE_TEXT = {p.relative_to(EXAMPLES).as_posix(): p.read_text() for p in EXAMPLE_FILES}
_SAFE = YAML(typ="safe")
# through JSON with str(): a FlowTest may say `2026-12-01`, which the plain safe loader makes a date
EXAMPLE_DATA = {name: json.loads(json.dumps(list(_SAFE.load_all(text)), default=str)) for name, text in EXAMPLE_TEXT.items()}
ACCOUNTS = "accounts/accounts.yaml"
_DUMP = YAML(typ="safe")
_DUMP.default_flow_style = False

# Words that make random data look like manifests, so the deeper checks run too.
WORDS = sorted({"apiVersion", "kind", "metadata", "name", "spec", "trigger", "type", "account", "nodes", "next",
                "default", "branches", "when", "text", "buttons", "list", "sections", "rows", "id", "title",
                "credentials", "env", "file", "channel", "whatsapp", "steps", "expect", "flow", "variables",
                "start", "end", "goto", "target", "max_jumps", "save", "headers", "timeout", "after",
                *KINDS, *COMPONENTS, "chatflow/v1", "{{ vars.x }}", "{% if %}", "vars.x == 1"})

keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=6))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, width=32), st.sampled_from(WORDS), st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
nodes = st.dictionaries(
    st.sampled_from(["start", "done", "ask", "menu", "bye", "x"]),
    st.one_of(values, st.fixed_dictionaries({"type": st.sampled_from(sorted(COMPONENTS))},
                                            optional={"next": st.sampled_from(["done", "ask", "nowhere"]),
                                                      "text": st.sampled_from(WORDS), "target": st.just("start"),
                                                      "max_jumps": st.integers(-1, 3), "branches": values})),
    max_size=5,
)
manifests = st.fixed_dictionaries(
    {"apiVersion": st.just("chatflow/v1"), "kind": st.sampled_from(KINDS),
     "metadata": st.one_of(st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "acme-wa", "order-status"])}), values)},
    optional={"spec": st.one_of(values, st.fixed_dictionaries(
        {"trigger": st.one_of(values, st.fixed_dictionaries({"type": st.sampled_from(["manual", "whatsapp", "viber"])},
                                                            optional={"account": st.sampled_from(["acme-wa", "x"])})),
         "nodes": st.one_of(values, nodes)},
        optional={"state": st.sampled_from(["published", "unpublished", "x"]), "flow": st.just("a"), "steps": values}))},
)


def _check(catalog: Catalog, texts: dict[str, str | bytes]) -> None:
    """Every diagnostic is a registered code at a place inside its file."""
    for d in catalog.diagnostics:
        assert d.code in CODES, d
        assert d.severity is CODES[d.code].severity
        assert d.message
        text = texts[d.path]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        lines = len(text.splitlines()) + 1  # YAML also breaks lines at \r, NEL, LS and PS
        assert 1 <= d.line <= lines + 1, d
        assert d.column >= 1, d


def _validate(files: dict[str, str | bytes]) -> Catalog:
    result = LoadResult()
    for path, text in files.items():
        result.merge(load_bytes(path, text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")))
    catalog = from_load(result, Path("/nonexistent-root"))
    _check(catalog, files)
    return catalog


def _yaml(documents: list[Any]) -> str:
    out = io.StringIO()
    _DUMP.dump_all(documents, out)
    return out.getvalue()


@RUNS
@given(st.lists(st.one_of(manifests, values), min_size=1, max_size=3), st.booleans())
def test_random_yaml_and_json_documents_give_only_diagnostics(documents, as_json):
    text = "\n---\n".join(json.dumps(d) for d in documents) if as_json else _yaml(documents)
    _validate({"x.yaml": text})


TOKENS = [*"ab:-[]{},&*!|>'\"#%@`?\n\t ", "\n  ", "---\n", "&a ", "*a", "!!str ", "{{ ", " }}", "<<: ", "\x00", "é", "\ufeff"]
yaml_text = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


@RUNS
@given(st.one_of(yaml_text, st.text(max_size=200), st.binary(max_size=200).map(bytes)))
def test_random_text_and_bytes_give_only_diagnostics(content):
    _validate({"x.yaml": content})


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    path = data.draw(st.sampled_from(_paths(doc)))
    if not path:
        return data.draw(st.one_of(values, st.just(doc)))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    op = data.draw(st.sampled_from(["delete", "replace", "rename", "retarget", "add", "copy"]))
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = data.draw(values)
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(keys)] = parent.pop(last)
    elif op == "retarget":
        parent[last] = data.draw(st.sampled_from(["start", "done", "bye", "nowhere", "menu", "", "Start", None, 3]))
    elif op == "add" and isinstance(parent, dict):
        parent[data.draw(keys)] = data.draw(values)
    elif op == "copy" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(["copy", "start", "bye", "menu"]))] = json.loads(json.dumps(parent[last]))
    return doc


@RUNS
@given(st.data(), st.booleans())
def test_mutated_examples_give_only_diagnostics(data, in_text):
    """Half the runs change the parsed data (delete, replace, rename, retarget, add, copy), half the text."""
    chosen = data.draw(st.sampled_from(sorted(EXAMPLE_DATA)))
    if in_text:
        text = EXAMPLE_TEXT[chosen]
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            start = data.draw(st.integers(min_value=0, max_value=len(text)))
            end = data.draw(st.integers(min_value=start, max_value=min(len(text), start + 40)))
            insert = data.draw(st.one_of(st.just(""), yaml_text, st.sampled_from(WORDS)))
            text = text[:start] + insert + text[end:]
    else:
        docs = json.loads(json.dumps(EXAMPLE_DATA[chosen]))
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            i = data.draw(st.integers(min_value=0, max_value=len(docs) - 1))
            docs[i] = _mutate(docs[i], data)
        text = "---\n".join(json.dumps(d, indent=1) + "\n" for d in docs)  # JSON is YAML, and quick to write
    files: dict[str, str | bytes] = {ACCOUNTS: EXAMPLE_TEXT[ACCOUNTS]}  # what the flows refer to
    files[chosen] = text
    _validate(files)


class _StockResolver(VersionedResolver):
    processing_version = (1, 2)  # YAML 1.2, as chatflow reads it; otherwise ruamel's own resolver


RUAMEL = YAML(typ="safe", pure=False)  # ruamel's constructor and resolver, dates kept as text
RUAMEL.Constructor = type("_Constructor", (SafeConstructor,), {})
RUAMEL.Constructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
RUAMEL.Resolver = _StockResolver


def _outcome(fn, text: str) -> tuple[str, Any]:
    try:
        return "data", fn(text)
    except Exception as exc:  # noqa: BLE001  (comparing which inputs fail, not how)
        return "error", type(exc).__name__


@RUNS
@given(st.one_of(st.lists(values, min_size=1, max_size=3).map(_yaml), yaml_text,
                 st.lists(st.sampled_from([*TOKENS, "a: 1\n", "- x\n", "<<: *a\n", "b: &a {c: 1}\n", "1: 2\n", "~: 3\n"]), max_size=30).map("".join)))
def test_the_quick_constructor_gives_exactly_what_ruamel_gives(text):
    ours, theirs = _outcome(construct_all, text), _outcome(lambda t: list(RUAMEL.load_all(t)), text)
    if theirs[0] == "data" and ours[0] == "data":
        assert repr(ours[1]) == repr(theirs[1])  # repr: same keys, types, order, and nan equals nan
    else:
        assert ours[0] == theirs[0]
