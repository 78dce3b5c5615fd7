"""The writing side of new manifests: YAML text that reads back exactly, names, modelines."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.manifests import draft
from controller.manifests.loader import load_bytes

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_key = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=15)
_scalar = st.none() | st.booleans() | st.integers(-10**12, 10**12) | _text
_data = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_key, inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_key, _data, min_size=1, max_size=5))
def test_dumped_yaml_reads_back_as_the_same_data(doc):
    text = draft.dump([doc], "# yaml-language-server: $schema=../schemas/chatflow.schema.json")
    result = load_bytes("x.yaml", text.encode("utf-8"))
    assert result.diagnostics == []
    assert [d.data for d in result.documents] == [doc]


def test_several_documents_each_get_the_modeline():
    text = draft.dump([{"a": 1}, {"b": 2}], "# modeline")
    assert text == "# modeline\na: 1\n---\n# modeline\nb: 2\n"


def test_small_leaf_mappings_are_written_on_one_line_and_nodes_one_per_line():
    text = draft.dump([draft.blank_flow("x", "whatsapp", "acme-wa")])
    assert "  trigger: {type: whatsapp, account: acme-wa}\n" in text
    assert "  nodes:\n    start: {type: start, next: done}\n    done: {type: end}\n" in text


def test_modeline_points_from_the_file_to_the_repository_schema():
    repo = Path("/r")
    assert draft.modeline(repo / "flows.d" / "a.yaml", repo).endswith("$schema=../schemas/chatflow.schema.json")
    assert draft.modeline(repo / "a" / "b" / "c.yaml", repo).endswith("$schema=../../schemas/chatflow.schema.json")


def test_names_follow_the_dns_label_rule():
    assert draft.name_problem("order-status") is None
    assert draft.name_problem("a" * 63) is None
    for bad in ("Order", "a" * 64, "x_y", "-x", "x-", ""):
        assert "is not a valid flow name" in (draft.name_problem(bad) or "")
