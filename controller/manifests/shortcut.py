"""The shortcut: simple expressions and templates run as closures over the sandbox's own primitives.

Most conditions and templates are a name lookup, a comparison with a literal, `or`, a filter: for
those, Jinja's cost is almost all the per-call Context it builds. A tree made only of the nodes
below is turned into closures that do exactly what the code Jinja compiles for it does (Jinja
3.1's CodeGenerator): attribute and item access through the sandboxed environment's `getattr` and
`getitem`, filters and tests called as Jinja calls them, operators as plain Python operators
(the sandbox intercepts none of them), output as `str(value)`. There are no calls, so nothing
bypasses the sandbox. Anything else returns None, and the caller uses Jinja itself; a property
test holds both paths to the same results and errors.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Mapping

from jinja2 import nodes
from jinja2.utils import _PassArg
from jinja2.sandbox import SandboxedEnvironment

Closure = Callable[[Mapping[str, Any]], Any]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "gt": operator.gt, "lteq": operator.le,
    "gteq": operator.ge, "in": lambda a, b: a in b, "notin": lambda a, b: a not in b,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add, nodes.Sub: operator.sub, nodes.Mul: operator.mul, nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv, nodes.Mod: operator.mod,
}
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_DICT_ATTRIBUTES = frozenset(dir(dict))  # a plain dict instance has these attributes, and only these


class Missing(Exception):
    """A name the closure reads is not in the context: the caller runs Jinja instead."""


class _Unsupported(Exception):
    pass


def expression(env: SandboxedEnvironment, tree: nodes.Expr, names: frozenset[str]) -> Closure | None:
    """A closure computing `tree` as Jinja's compiled expression would, or None. Only `names`
    may be read from the context."""
    try:
        return _compile(env, tree, names)
    except _Unsupported:
        return None


def template(env: SandboxedEnvironment, tree: nodes.Template, names: frozenset[str]) -> Closure | None:
    """A closure rendering a template of text and `{{ expressions }}` only, or None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None if tree.body else (lambda context: "")
    parts: list[str | Closure] = []
    try:
        for child in tree.body[0].nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data)
            else:
                parts.append(_compile(env, child, names))
    except _Unsupported:
        return None
    if len(parts) == 1 and not isinstance(parts[0], str):
        only = parts[0]
        return lambda context: str(only(context))
    pieces = tuple(parts)

    def render(context: Mapping[str, Any]) -> str:
        return "".join([p if p.__class__ is str else str(p(context)) for p in pieces])  # type: ignore[operator]

    return render


def _compile(env: SandboxedEnvironment, node: nodes.Node, names: frozenset[str]) -> Closure:
    kind = type(node)
    if kind is nodes.Const:
        value = node.value  # type: ignore[attr-defined]
        if type(value) not in _CONSTANT_TYPES:
            raise _Unsupported()
        return lambda context: value
    if kind is nodes.Name:
        name = node.name  # type: ignore[attr-defined]
        if node.ctx != "load" or name not in names:  # type: ignore[attr-defined]
            raise _Unsupported()

        def load(context: Mapping[str, Any]) -> Any:
            try:
                return context[name]
            except KeyError:
                raise Missing(name) from None

        return load
    if kind is nodes.Getattr:
        inner, attr, getattr_ = _compile(env, node.node, names), node.attr, env.getattr  # type: ignore[attr-defined]
        if attr in _DICT_ATTRIBUTES:
            return lambda context: getattr_(inner(context), attr)

        def lookup(context: Mapping[str, Any]) -> Any:
            # the sandbox's getattr on a plain dict, for a name no dict attribute has: the item
            # if there is one; otherwise the sandbox itself (it makes the Undefined)
            obj = inner(context)
            if obj.__class__ is dict:
                try:
                    return obj[attr]
                except KeyError:
                    pass
            return getattr_(obj, attr)

        return lookup
    if kind is nodes.Getitem:
        if isinstance(node.arg, nodes.Slice):  # type: ignore[attr-defined]
            raise _Unsupported()
        inner, key, getitem = _compile(env, node.node, names), _compile(env, node.arg, names), env.getitem  # type: ignore[attr-defined]
        return lambda context: getitem(inner(context), key(context))
    if kind is nodes.Compare:
        if len(node.ops) != 1 or node.ops[0].op not in _COMPARE:  # type: ignore[attr-defined]
            raise _Unsupported()
        left, right = _compile(env, node.expr, names), _compile(env, node.ops[0].expr, names)  # type: ignore[attr-defined]
        compare = _COMPARE[node.ops[0].op]  # type: ignore[attr-defined]
        return lambda context: compare(left(context), right(context))
    if kind is nodes.And:
        left, right = _compile(env, node.left, names), _compile(env, node.right, names)  # type: ignore[attr-defined]
        return lambda context: left(context) and right(context)
    if kind is nodes.Or:
        left, right = _compile(env, node.left, names), _compile(env, node.right, names)  # type: ignore[attr-defined]
        return lambda context: left(context) or right(context)
    if kind is nodes.Not:
        inner = _compile(env, node.node, names)  # type: ignore[attr-defined]
        return lambda context: not inner(context)
    if kind is nodes.Neg:
        inner = _compile(env, node.node, names)  # type: ignore[attr-defined]
        return lambda context: -inner(context)
    if kind is nodes.Pos:
        inner = _compile(env, node.node, names)  # type: ignore[attr-defined]
        return lambda context: +inner(context)
    if kind in _BINARY:
        if env.intercepted_binops:
            raise _Unsupported()
        left, right, op = _compile(env, node.left, names), _compile(env, node.right, names), _BINARY[kind]  # type: ignore[attr-defined]
        return lambda context: op(left(context), right(context))
    if kind is nodes.Filter or kind is nodes.Test:
        table = env.filters if kind is nodes.Filter else env.tests
        func = table.get(node.name)  # type: ignore[attr-defined]
        if (func is None or _PassArg.from_obj(func) is not None or node.node is None  # type: ignore[attr-defined]
                or node.kwargs or node.dyn_args is not None or node.dyn_kwargs is not None):  # type: ignore[attr-defined]
            raise _Unsupported()
        inner = _compile(env, node.node, names)  # type: ignore[attr-defined]
        args = tuple(_compile(env, a, names) for a in node.args)  # type: ignore[attr-defined]
        if not args:
            return lambda context: func(inner(context))
        if len(args) == 1:
            (arg,) = args
            return lambda context: func(inner(context), arg(context))
        return lambda context: func(inner(context), *[a(context) for a in args])
    raise _Unsupported()
