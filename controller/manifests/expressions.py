"""The expression sandbox: Jinja2's sandbox with the names, tests and filters of DESIGN §7.

Validation parses every template and condition with it (`check_template`, `check_expression`);
the engine renders and evaluates with it (`render`, `evaluate`). Nothing here uses `eval`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import shortcut

ROOT_NAMES = frozenset({"contact", "message", "reply", "account", "vars", "trigger", "flow", "channel"})
MAX_REGEX_INPUT = 10_000
MAX_RENDERED = 64 * 1024


class ExpressionError(Exception):
    """A template or expression that failed to compile or to run."""


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, ChainableUndefined) else str(value)


def _contains(value: Any, part: Any) -> bool:
    if isinstance(value, (list, tuple, dict)):
        return part in value
    return _text(part).casefold() in _text(value).casefold()


def _startswith(value: Any, prefix: Any) -> bool:
    return _text(value).casefold().startswith(_text(prefix).casefold())


def _endswith(value: Any, suffix: Any) -> bool:
    return _text(value).casefold().endswith(_text(suffix).casefold())


def _blank(value: Any) -> bool:
    return _text(value).strip() == ""


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _matches(value: Any, pattern: str) -> bool:
    return _regex(pattern).search(_text(value)[:MAX_REGEX_INPUT]) is not None


def _fullmatch(value: Any, pattern: str) -> bool:
    return _regex(pattern).fullmatch(_text(value)[:MAX_REGEX_INPUT]) is not None


def to_number(value: Any) -> float | int | None:
    """`"42"` -> 42, `" 3.5 "` -> 3.5, anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    text = _text(value).strip().replace(",", "")
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return number if number == number and number not in (float("inf"), float("-inf")) else None


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y")


def to_date(value: Any) -> _dt.date | None:
    """ISO dates and a few common day-first forms -> date; anything else -> None."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    text = " ".join(_text(value).replace(",", " ").split())
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return _dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


TESTS: dict[str, Callable[..., bool]] = {
    "contains": _contains,
    "startswith": _startswith,
    "endswith": _endswith,
    "blank": _blank,
    "matches": _matches,
    "fullmatch": _fullmatch,
    "number": lambda v: to_number(v) is not None,
    "date": lambda v: to_date(v) is not None,
}

FILTERS: dict[str, Callable[..., Any]] = {
    "number": to_number,
    "date": to_date,
}


class _Undefined(ChainableUndefined):
    """Missing names render as empty and compare false, so a typo never crashes a conversation."""

    __slots__ = ()


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=_Undefined, autoescape=False, keep_trailing_newline=True)
    env.tests.update(TESTS)
    env.filters.update(FILTERS)
    env.globals = {"range": env.globals["range"]}
    return env


ENV = _environment()


@dataclass(frozen=True)
class Check:
    """What validation learns from one template or expression."""

    error: str | None = None
    code: str | None = None  # CF111 syntax, CF112 unknown filter/test, CF113 unknown name
    reads: frozenset[str] = frozenset()  # `vars.X` names read
    hint: str | None = None  # a close name, when the error is a misspelling


OK = Check()


def is_template(source: str) -> bool:
    return "{{" in source or "{%" in source or "{#" in source


@lru_cache(maxsize=65536)
def check_template(source: str) -> Check:
    if not is_template(source):
        return OK
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as exc:
        return Check(f"template does not compile: {exc.message} (template line {exc.lineno})", "CF111")
    except RecursionError:
        return Check("template does not compile: it nests too deeply", "CF111")
    return _inspect(tree)


@lru_cache(maxsize=65536)
def check_expression(source: str) -> Check:
    try:
        tree = _parse_expression(source)
    except TemplateSyntaxError as exc:
        return Check(f"expression does not compile: {exc.message}", "CF111")
    except RecursionError:
        return Check("expression does not compile: it nests too deeply", "CF111")
    return _inspect(nodes.Output([tree]))  # find_all looks below a node: wrap, so the top one counts too


def _parse_expression(source: str) -> nodes.Expr:
    parser = Parser(ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError(
            f"unexpected {parser.stream.current.value!r} after the expression", parser.stream.current.lineno
        )
    return expr


_NO_LOADER = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)
_REGEX_TESTS = ("matches", "fullmatch")


def _inspect(tree: nodes.Node) -> Check:
    for n in tree.find_all(_NO_LOADER):
        word = {nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import", nodes.FromImport: "from ... import"}[type(n)]
        return Check(f"`{{% {word} %}}` is not available: a template cannot load other templates", "CF111")
    for t in tree.find_all(nodes.Test):
        if t.name in _REGEX_TESTS and t.args and isinstance(t.args[0], nodes.Const) and isinstance(t.args[0].value, str):
            try:
                _regex(t.args[0].value)
            except re.error as exc:
                return Check(f"regular expression {t.args[0].value!r} of `{t.name}` does not compile: {exc}", "CF111")
    for f in tree.find_all(nodes.Filter):
        if f.name not in ENV.filters:
            return Check(f"unknown filter `{f.name}`; filters: {_names(ENV.filters)}", "CF112", hint=_close(f.name, ENV.filters))
    for t in tree.find_all(nodes.Test):
        if t.name not in ENV.tests:
            return Check(f"unknown test `{t.name}`; tests: {_names(ENV.tests)}", "CF112", hint=_close(t.name, ENV.tests))
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    if any(True for _ in tree.find_all(nodes.For)):
        stored.add("loop")  # Jinja's loop variable inside {% for %}
    allowed = ROOT_NAMES | stored | set(ENV.globals) | {"true", "false", "none", "True", "False", "None"}
    for n in tree.find_all(nodes.Name):
        if n.ctx == "load" and n.name not in allowed:
            return Check(
                f"unknown name `{n.name}`; names are: {', '.join(sorted(ROOT_NAMES))}",
                "CF113",
                hint=_close(n.name, ROOT_NAMES),
            )
    reads: set[str] = set()
    for g in tree.find_all(nodes.Getattr):
        if isinstance(g.node, nodes.Name) and g.node.name == "vars":
            reads.add(g.attr)
    for g in tree.find_all(nodes.Getitem):
        if isinstance(g.node, nodes.Name) and g.node.name == "vars" and isinstance(g.arg, nodes.Const):
            reads.add(str(g.arg.value))
    return Check(reads=frozenset(reads))


def _close(word: str, names: Any) -> str | None:
    close = difflib.get_close_matches(word, sorted(names), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _names(table: Mapping[str, Any]) -> str:
    ours = [n for n in table if n in TESTS or n in FILTERS]
    return ", ".join(sorted(ours)) + ", and Jinja's built-ins"


# ---- running (the engine) ------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _template(source: str) -> tuple[Any, shortcut.Closure | None]:
    """The compiled template, and the shortcut's closure for it when it has one."""
    try:
        compiled = ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"template does not compile: {exc.message}") from None
    # Jinja copies the globals ChainMap into a dict on every render; a flat dict is copied faster
    compiled.globals = dict(compiled.globals)
    return compiled, shortcut.template(ENV, ENV.parse(source), ROOT_NAMES)


@lru_cache(maxsize=8192)
def _expression(source: str) -> tuple[Any, shortcut.Closure | None]:
    """The compiled expression, and the shortcut's closure for it when it has one."""
    try:
        tree = _parse_expression(source)
        compiled = ENV.compile_expression(source, undefined_to_none=True)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"expression does not compile: {exc.message}") from None
    compiled._template.globals = dict(compiled._template.globals)
    return compiled, shortcut.expression(ENV, tree, ROOT_NAMES)


def render(source: str, context: Mapping[str, Any], *, use_shortcut: bool = True) -> str:
    """Render a text field. Plain text is returned as it is."""
    if not is_template(source):
        return source
    compiled, closure = _template(source)
    try:
        if closure is not None and use_shortcut:
            try:
                out = closure(context)
            except shortcut.Missing:
                out = compiled.render(context)
        else:
            out = compiled.render(context)
    except TemplateError as exc:
        raise ExpressionError(f"template failed: {exc}") from None
    except (ArithmeticError, ValueError, TypeError, re.error) as exc:
        raise ExpressionError(f"template failed: {exc}") from None
    return out[:MAX_RENDERED]


def evaluate(source: str, context: Mapping[str, Any], *, use_shortcut: bool = True) -> Any:
    """Evaluate a condition or value expression."""
    compiled, closure = _expression(source)
    try:
        if closure is not None and use_shortcut:
            try:
                value = closure(context)
            except shortcut.Missing:
                value = compiled(**context)
        else:
            value = compiled(**context)
    except TemplateError as exc:
        raise ExpressionError(f"expression failed: {exc}") from None
    except (ArithmeticError, ValueError, TypeError, re.error) as exc:
        raise ExpressionError(f"expression failed: {exc}") from None
    return None if isinstance(value, Undefined) else value


def render_with_jinja(source: str, context: Mapping[str, Any]) -> str:
    """`render` always through Jinja's compiled template: the reference the shortcut must match."""
    return render(source, context, use_shortcut=False)


def evaluate_with_jinja(source: str, context: Mapping[str, Any]) -> Any:
    """`evaluate` always through Jinja's compiled expression: the reference the shortcut must match."""
    return evaluate(source, context, use_shortcut=False)
