"""Loading YAML safely: what is refused, where it is reported, and that nothing ever raises."""

from __future__ import annotations

from pathlib import Path

from controller.manifests.loader import MAX_EXPANDED_NODES, discover, load_bytes, load_paths, locate

from .conftest import codes, flow, load, place

HELLO = "start: {type: start, next: done}\ndone: {type: end}"


def _parse(text: str | bytes):
    return load_bytes("x.yaml", text.encode() if isinstance(text, str) else text)


def test_a_file_holds_several_documents_and_skips_empty_ones():
    result = _parse(flow(HELLO, name="a") + "---\n---\n" + flow(HELLO, name="b") + "---\n")
    assert [d.data["metadata"]["name"] for d in result.documents] == ["a", "b"]
    assert [d.index for d in result.documents] == [0, 2]


def test_dates_stay_the_text_they_were_written_as():
    result = _parse("a: 2026-12-01\nb: 2026-12-01T10:00:00Z\n")
    assert result.documents[0].data == {"a": "2026-12-01", "b": "2026-12-01T10:00:00Z"}


def test_duplicate_keys_are_reported_where_the_second_one_stands():
    result = _parse("a: 1\nb:\n  c: 1\n  c: 2\n")
    d = result.diagnostics[0]
    assert (d.code, d.line, d.column) == ("CF004", 4, 3)
    assert d.message == "duplicate key `c` (first at line 3)"


def test_every_explicit_tag_is_refused_even_harmless_ones():
    for text in ("a: !!str 1\n", "a: !custom x\n", 'a: {"k":!!binary aGk=}\n', "%TAG !e! tag:x,2000:\n---\na: !e!t 1\n"):
        assert [d.code for d in _parse(text).diagnostics] == ["CF005"], text


def test_an_alias_bomb_is_refused_before_it_expands():
    text = "a: &a [" + ",".join(["x"] * 100) + "]\n"
    for level in "bcdefg":
        prev = chr(ord(level) - 1)
        text += f"{level}: &{level} [" + ",".join([f"*{prev}"] * 100) + "]\n"
    result = _parse(text)
    assert [d.code for d in result.diagnostics] == ["CF006"]
    assert str(MAX_EXPANDED_NODES) in result.diagnostics[0].message


def test_modest_anchors_and_merge_keys_are_allowed():
    text = flow("""
        start: {type: start, next: a}
        a: &msg {type: message, text: Hi, next: b}
        b: {<<: *msg, next: done}
        done: {type: end}
    """)
    assert load(text).diagnostics == []


def test_an_error_in_a_merged_key_is_placed_at_the_mapping_that_merged_it():
    text = flow("""
        start: {type: start, next: a}
        a: &msg {type: message, text: Hi, next: nowhere}
        b:
          <<: *msg
          text: "{{ oops }}"
        done: {type: end}
    """)
    catalog = load(text)
    assert place(catalog, "CF113") == (12, 13)  # b's own key
    assert [(d.line, d.column) for d in catalog.diagnostics if d.code == "CF103"] == [(9, 45), (11, 7)]


def test_non_utf8_bytes_are_placed_by_line_and_column():
    d = _parse(b"a: 1\nb: caf\xe9\n").diagnostics[0]
    assert (d.code, d.line, d.column) == ("CF002", 2, 7)


def test_a_byte_order_mark_is_accepted():
    assert _parse("\ufeff" + flow(HELLO)).diagnostics == []


def test_control_characters_are_placed():
    d = _parse("a: ok\nb: x\x07y\n").diagnostics[0]
    assert (d.code, d.line, d.column) == ("CF003", 2, 5) and "U+0007" in d.message


def test_files_over_one_mebibyte_are_refused_unread():
    d = _parse(b"a: " + b"x" * (1024 * 1024) + b"\n").diagnostics[0]
    assert d.code == "CF001" and "1 MiB" in d.message


def test_a_file_with_only_comments_is_a_warning():
    result = _parse("# nothing yet\n")
    assert [(d.code, d.severity.value) for d in result.diagnostics] == [("CF008", "warning")]


def test_a_plain_scalar_libyaml_refuses_still_loads():
    # `Your name?,` is valid YAML in a flow mapping; libyaml alone rejects it
    catalog = load(flow("start: {type: start, next: ask}\nask: {type: question, text: Your name?, next: done}\ndone: {type: end}"))
    assert catalog.diagnostics == []
    assert catalog.flows["f"].spec.nodes["ask"].text == "Your name?"  # type: ignore[union-attr]


def test_a_syntax_error_is_placed_where_the_parser_stopped():
    d = _parse("a:\n  b: [1, 2\n  c: 3\n").diagnostics[0]
    assert d.code == "CF003" and (d.line, d.column) == (3, 4)


def test_a_scalar_document_is_placed_at_its_own_line():
    catalog = load(flow(HELLO), "just text\n")
    assert place(catalog, "CF007") == (11, 1)  # after the 9 lines of the flow and `---`


def test_locate_finds_keys_values_and_list_items():
    text = "a:\n  b: [x, {c: 1}]\n"
    assert locate(text, 0, ("a", "b")) == (2, 6)
    assert locate(text, 0, ("a", "b"), want="key") == (2, 3)
    assert locate(text, 0, ("a", "b", 1, "c")) == (2, 14)
    assert locate(text, 0, ("a", "missing", "deeper")) == (2, 3)  # the deepest node that exists


def test_discover_walks_the_root_recursively_skipping_hidden_folders(tmp_path: Path):
    for name in ("a.yaml", "sub/b.yml", "sub/deeper/c.yaml", ".git/d.yaml", "sub/.hidden/e.yaml", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["a.yaml", "sub/b.yml", "sub/deeper/c.yaml"]


def test_an_unreadable_file_is_a_diagnostic(tmp_path: Path):
    missing = tmp_path / "gone.yaml"
    result = load_paths([missing], tmp_path)
    assert [d.code for d in result.diagnostics] == ["CF003"] and "cannot read file" in result.diagnostics[0].message


def test_paths_are_shown_relative_to_the_display_base(tmp_path: Path):
    (tmp_path / "flows.d").mkdir()
    (tmp_path / "flows.d" / "x.yaml").write_text("[1]\n")
    result = load_paths(discover(tmp_path / "flows.d"), tmp_path)
    assert result.documents[0].file.path == "flows.d/x.yaml"


def test_loading_the_same_bad_text_twice_gives_the_same_diagnostics():
    text = flow(HELLO.replace("next: done", "next: nope"))
    assert codes(load(text)) == codes(load(text)) == ["CF103"]
    assert place(load(text), "CF103") == (8, 32)


def test_many_files_parse_in_a_pool_of_processes_with_the_same_result_in_order(tmp_path: Path):
    files = []
    for i in range(12):
        path = tmp_path / f"f{i:02d}.yaml"
        text = flow(HELLO, name=f"f{i}") if i % 3 else "a: [1\n"  # every third file is broken
        path.write_text(text)
        files.append(path)
    serial = load_paths(files, tmp_path, workers=1)
    pooled = load_paths(files, tmp_path, workers=2)
    assert [(d.file.path, d.index, d.data) for d in pooled.documents] == [(d.file.path, d.index, d.data) for d in serial.documents]
    assert pooled.diagnostics == serial.diagnostics and len(serial.diagnostics) == 4
    assert pooled.documents[0].file.text == files[1].read_text()


def test_a_surrogate_pair_written_as_two_escapes_is_one_character_as_in_json():
    import json

    text = json.dumps({"text": "Hi 😀", "keys": {"🎉": ["𐀀"]}})  # ensure_ascii: "\ud83d\ude00"
    assert "\\ud83d\\ude00" in text
    result = _parse(text)
    assert result.diagnostics == []
    assert result.documents[0].data == {"text": "Hi 😀", "keys": {"🎉": ["𐀀"]}}


def test_a_lone_surrogate_escape_is_reported_where_it_stands_and_never_raises():
    result = _parse('a: "fine \\ud83d\\ude00"\nb: "broken \\ude00 \\ud83d"\n')
    assert [(d.code, d.line, d.column) for d in result.diagnostics] == [("CF003", 2, 12)]
    assert "\\ude00" in result.diagnostics[0].message
    assert "\\U0001F600" in (result.diagnostics[0].hint or "")
    assert result.documents == []
