"""Schema errors as a person reads them: one diagnostic per mistake, at the mistake, with a fix."""

from __future__ import annotations

from controller.manifests import migrations
from controller.manifests.models import Flow

from .conftest import WA_ACCOUNT, codes, flow, load, only, place

HELLO = "start: {type: start, next: done}\ndone: {type: end}"


def test_the_examples_shape_becomes_typed_models_with_defaults():
    catalog = load(flow("start: {type: start, next: ask}\nask: {type: question, text: Hi, buttons: [a, {id: b, title: B}], next: done}\ndone: {type: end}"))
    f = catalog.flows["f"]
    assert isinstance(f, Flow)
    assert f.spec.expireAfter == "3d" and f.spec.logging is False and f.spec.state == "unpublished"
    ask = f.spec.nodes["ask"]
    assert ask.retries == 2 and ask.expected == "choice"  # type: ignore[union-attr]
    assert [(b.id, b.title) for b in ask.button_models()] == [("a", "a"), ("b", "B")]  # type: ignore[union-attr]


def test_an_unknown_field_is_an_error_with_did_you_mean_and_no_echo():
    catalog = load(flow("start: {type: start, nxt: done}\ndone: {type: end}"))
    d = only(catalog, "CF013")
    assert d.message == "unknown field `nxt` in `spec.nodes.start`" and d.hint == "did you mean `next`?"
    assert codes(catalog) == ["CF013"]  # not also "`next` is required"


def test_an_unknown_field_without_a_close_name_lists_the_allowed_ones():
    d = only(load(flow(HELLO, trigger="{type: manual, color: red}")), "CF013")
    assert d.hint == "allowed here: account, keywords, type"


def test_unknown_fields_are_errors_at_every_level():
    text = flow(HELLO).replace("metadata: {name: f}", "metadata: {name: f, owner: me}") + "status: {}\n"
    assert sorted(codes(load(text))) == ["CF013", "CF013"]


def test_api_version_names_the_supported_versions():
    d = only(load(flow(HELLO).replace("chatflow/v1", "chatflow/v1beta1")), "CF010")
    assert d.message == "apiVersion 'chatflow/v1beta1' is not supported; supported: chatflow/v1"
    assert d.hint == "use `apiVersion: chatflow/v1`; did you mean `chatflow/v1`?"
    assert (d.line, d.column) == (1, 13)


def test_an_unknown_component_type_suggests_the_closest():
    d = only(load(flow("start: {type: start, next: done}\ndone: {type: ending}")), "CF015")
    assert d.hint == "did you mean `end`?" and (d.line, d.column) == (9, 18)


def test_a_missing_field_is_placed_at_the_mapping_that_lacks_it():
    catalog = load(flow("start: {type: start}\ndone: {type: end}"))
    assert place(catalog, "CF012") == (8, 5)
    assert only(catalog, "CF012").message == "`next` is required in `spec.nodes.start`"


def test_an_error_inside_a_channel_block_names_the_real_path():
    d = only(load(WA_ACCOUNT.replace("{env: WA_TOKEN}", "plain")), "CF140")
    assert d.message == "`spec.credentials.accessToken` holds a literal secret"
    assert (d.line, d.column) == (6, 30)


def test_a_channel_block_for_another_channel_is_named_as_such():
    d = only(load(WA_ACCOUNT.replace("whatsapp: {phoneNumberId", "messenger: {phoneNumberId")), "CF127")
    assert d.hint == "rename `messenger:` to `whatsapp:`, or set `channel: messenger`"


def test_a_value_of_the_wrong_type_says_what_was_expected():
    d = only(load(flow("start: {type: start, next: ask}\nask: {type: question, text: Q, buttons: [[x]], next: done}\ndone: {type: end}")), "CF014")
    assert d.message == "`spec.nodes.ask.buttons[0]`: expected a mapping or text, not list"


def test_a_number_where_text_is_needed_says_to_quote_it():
    d = only(load(WA_ACCOUNT.replace('"106540352242922"', "106540352242922")), "CF014")
    assert d.hint == "quote it: YAML reads 106540352242922 as a number"


def test_a_bad_node_id_is_placed_at_the_key():
    d = only(load(flow("start: {type: start, next: done}\nDone: {type: end}\ndone: {type: end}")), "CF014")
    assert (d.line, d.column) == (9, 5) and d.message.startswith("`spec.nodes`: key 'Done' does not match")


def test_a_non_text_key_is_reported_not_crashed_on():
    catalog = load(flow(HELLO) + "1: x\n~: y\n")
    assert [(d.code, d.line) for d in catalog.diagnostics] == [("CF014", 10), ("CF014", 11)]


def test_a_document_that_is_not_a_mapping():
    assert codes(load("[a, b]\n")) == ["CF007"]


def test_content_rules_are_reported_on_the_node():
    both = flow("start: {type: start, next: m}\nm: {type: message, text: a, template: {name: t, language: en}, next: done}\ndone: {type: end}")
    d = only(load(both), "CF014")
    assert (d.line, d.column) == (9, 5) and "exactly one of `text`, `media` or `template`" in d.message


def test_an_invalid_document_is_still_known_by_kind_and_name():
    catalog = load(flow("start: {type: start}\ndone: {type: end}", name="broken"))
    assert ("Flow", "broken") in catalog.invalid and catalog.flows == {}


def test_an_older_api_version_is_migrated_on_load(monkeypatch):
    def rename_keywords(doc):
        doc["spec"]["trigger"]["keywords"] = doc["spec"]["trigger"].pop("words", [])
        return doc

    monkeypatch.setattr(migrations, "STEPS", (migrations.Step("chatflow/v0", "chatflow/v1", rename_keywords, "words -> keywords"),))
    old = flow(HELLO, trigger="{type: whatsapp, words: [hi]}").replace("chatflow/v1", "chatflow/v0")
    catalog = load(old)
    assert catalog.diagnostics == []
    assert catalog.flows["f"].spec.trigger.keywords == ["hi"]
    assert "supported: chatflow/v1, chatflow/v0" in only(load(old.replace("v0", "v9")), "CF010").message
