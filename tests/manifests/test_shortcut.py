"""The expression shortcut gives what Jinja gives: the same value, or the same error, for random
expressions and templates over random contexts (and Jinja is still used for what it cannot do)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.manifests import expressions
from controller.manifests.expressions import ExpressionError, evaluate, evaluate_with_jinja, render, render_with_jinja

RUNS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = ["said", "n", "x", "items", "keys", "pop", "upper", "__class__"]

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 20), st.floats(-50, 50, allow_nan=False),
    st.sampled_from(["", "stop", "Stop ", "42", " 3.5 ", "2026-01-05", "abc", "a,b", "yes"]),
)
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)), max_leaves=6)


@st.composite
def contexts(draw: Any) -> dict[str, Any]:
    context = {
        "contact": draw(st.dictionaries(st.sampled_from(["id", "name", "phone"]), st.text(max_size=4), max_size=3)),
        "message": draw(st.one_of(st.just({}), st.fixed_dictionaries({"text": json_leaf, "type": st.just("text")}))),
        "reply": draw(st.one_of(st.just({}), st.fixed_dictionaries({"text": json_leaf, "id": st.sampled_from(["a", "b"])}))),
        "account": {"name": "wa"},
        "vars": draw(st.dictionaries(st.sampled_from(KEYS), json_value, max_size=5)),
        "trigger": draw(st.dictionaries(st.sampled_from(KEYS), json_leaf, max_size=2)),
        "flow": {"name": "f"},
        "channel": draw(st.sampled_from(["whatsapp", "viber"])),
    }
    for name in draw(st.lists(st.sampled_from(sorted(context)), max_size=2)):
        context.pop(name, None)  # evaluate() takes any context: a missing name goes to Jinja
    return context


constants = st.one_of(
    st.integers(-3, 12).map(str), st.sampled_from(["0.5", "'stop'", "'a'", "\"3\"", "''", "true", "false", "none",
                                                  "True", "None", "[1, 'a']"]),
)
lookups = st.one_of(
    st.sampled_from(["vars", "message", "reply", "contact", "trigger", "flow", "account", "channel", "range"]),
    st.builds(lambda root, key: f"{root}.{key}", st.sampled_from(["vars", "message", "reply", "contact", "trigger"]),
              st.sampled_from([*KEYS, "text", "type", "id", "name"])),
    st.builds(lambda key, sub: f"vars.{key}.{sub}", st.sampled_from(KEYS), st.sampled_from(KEYS)),
    st.builds(lambda key, sub: f"vars[{key!r}][{sub}]", st.sampled_from(KEYS), st.sampled_from(["0", "1", "'x'"])),
)
FILTERS = ["number", "date", "upper", "lower", "length", "trim", "string", "int", "first", "default('d')",
           "replace('a', 'b')", "round", "abs", "nope"]
TESTS = ["contains 'a'", "startswith 'S'", "endswith 'p'", "blank", "number", "date", "matches '^s'",
         "fullmatch '('", "defined", "none", "string", "in [1, 2]", "nope"]


def combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    op = st.sampled_from(["==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or", "+", "-", "*", "/", "//", "%"])
    return st.one_of(
        st.builds(lambda a, o, b: f"({a} {o} {b})", inner, op, inner),
        st.builds(lambda a: f"not {a}", inner),
        st.builds(lambda a: f"-{a}", inner),
        st.builds(lambda a, f: f"({a} | {f})", inner, st.sampled_from(FILTERS)),
        st.builds(lambda a, t: f"({a} is {t})", inner, st.sampled_from(TESTS)),
        st.builds(lambda a, b, c: f"({a} if {b} else {c})", inner, inner, inner),  # not in the shortcut
        st.builds(lambda a: f"{a}.upper()", inner),  # a call: never in the shortcut
        st.builds(lambda a, b, c: f"({a} == {b} == {c})", inner, inner, inner),
    )


expression_text = st.recursive(st.one_of(constants, lookups), combine, max_leaves=5)


def outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        value = call(*args)
    except ExpressionError as exc:
        return "error", str(exc)
    return "value", value


def same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a[1] == b[1]
    x, y = a[1], b[1]
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return type(x) is type(y) and (x == y or repr(x) == repr(y))


@RUNS
@given(expression_text, contexts())
def test_an_expression_evaluates_the_same_with_the_shortcut_as_with_jinja(source: str, context: dict[str, Any]) -> None:
    fast, slow = outcome(evaluate, source, context), outcome(evaluate_with_jinja, source, context)
    assert same(fast, slow), (source, context, fast, slow)


template_text = st.lists(
    st.one_of(st.sampled_from(["Hi ", "!", " ", "\n", "so far", "{ x }", "}}", "%"]),
              expression_text.map(lambda e: f"{{{{ {e} }}}}"),
              st.sampled_from(["{% if vars.n %}n{% endif %}", "{# note #}", "{{- ' trimmed' -}}"])),
    min_size=1, max_size=5,
).map("".join)


@RUNS
@given(template_text, contexts())
def test_a_template_renders_the_same_with_the_shortcut_as_with_jinja(source: str, context: dict[str, Any]) -> None:
    fast, slow = outcome(render, source, context), outcome(render_with_jinja, source, context)
    assert same(fast, slow), (source, context, fast, slow)


def test_simple_conditions_and_templates_take_the_shortcut_and_others_do_not() -> None:
    for source in ["vars.said == 'stop'", "(vars.n or 0) + 1", "vars.said | upper", "message.text is contains 'x'",
                   "not vars.done and vars.n > 3"]:
        assert expressions._expression(source)[1] is not None, source
    for source in ["vars.said.upper()", "range(3)", "vars.n if vars.x else 1", "vars.xs[1:]"]:
        assert expressions._expression(source)[1] is None, source
    assert expressions._template("You said {{ vars.said }} ({{ vars.n }} so far)")[1] is not None
    assert expressions._template("{% for x in vars.xs %}{{ x }}{% endfor %}")[1] is None


def test_the_shortcut_keeps_the_sandbox() -> None:
    context = {"vars": {"said": "hi"}, "message": {}}
    assert evaluate("vars.said.__class__", context) is None
    assert evaluate("vars.pop", context) is None  # a method that changes data: unsafe in the immutable sandbox
    assert render("{{ vars.said.__class__ }}", context) == ""
