"""Raw YAML document -> typed manifest, with pydantic's errors turned into placed diagnostics."""

from __future__ import annotations

import copy
import difflib
from functools import lru_cache
import types
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Union

from pydantic import BaseModel, ValidationError

from . import migrations
from .components import COMPONENTS, SECRET_HEADER
from .diagnostics import MAX_PER_MANIFEST, Diagnostic, capped
from .loader import Loc, RawDocument
from .models import CHANNELS, KINDS, MODELS, Manifest


@dataclass
class Document:
    """A typed manifest and where it came from."""

    raw: RawDocument
    manifest: Manifest

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def name(self) -> str:
        return self.manifest.metadata.name

    @property
    def path(self) -> str:
        return self.raw.file.path

    def diagnostic(self, code: str, message: str, loc: Loc = (), hint: str | None = None, want: str = "value") -> Diagnostic:
        line, column = self.raw.locate(loc, want)
        return Diagnostic.make(code, message, self.path, line, column, hint, (self.kind, self.name))


def build(raw: RawDocument) -> tuple[Document | None, list[Diagnostic]]:
    """Check one document against its kind's model; older apiVersions are migrated first."""
    data = raw.data
    path = raw.file.path

    def at(code: str, message: str, loc: Loc = (), hint: str | None = None, want: str = "value") -> Diagnostic:
        line, column = raw.locate(loc, want)
        return Diagnostic.make(code, message, path, line, column, hint)

    if not isinstance(data, dict):
        return None, [at("CF007", f"a manifest is a mapping, not a {_kind_of(data)}", hint="start with `apiVersion: chatflow/v1`")]
    version = data.get("apiVersion")
    supported = migrations.supported()
    if version not in supported:
        if "apiVersion" not in data:
            return None, [at("CF012", "`apiVersion` is required", hint=f"add `apiVersion: {migrations.CURRENT}`")]
        return None, [
            at(
                "CF010",
                f"apiVersion {version!r} is not supported; supported: {', '.join(supported)}",
                ("apiVersion",),
                hint=f"use `apiVersion: {migrations.CURRENT}`" + _suggest(str(version), supported, prefix="; "),
            )
        ]
    kind = data.get("kind")
    if kind not in KINDS:
        if "kind" not in data:
            return None, [at("CF012", "`kind` is required", hint=f"add `kind:` with one of {', '.join(KINDS)}")]
        return None, [
            at(
                "CF011",
                f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}",
                ("kind",),
                hint=_suggest(str(kind), KINDS) or None,
            )
        ]
    if version != migrations.CURRENT:
        data, _ = migrations.migrate(copy.deepcopy(data))
    model = MODELS[kind]
    try:
        manifest = model.model_validate(data)
    except ValidationError as exc:
        return None, _diagnostics(raw, model, exc)
    except RecursionError:
        return None, [at("CF014", "the document refers to itself (an alias inside its own anchor) or nests too deeply",
                         hint="write the data out instead of nesting aliases")]
    return Document(raw, manifest), []


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return {list: "list", str: "string", int: "number", float: "number", dict: "mapping"}.get(type(value), type(value).__name__)


def _suggest(word: str, choices: typing.Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"{prefix}did you mean `{close[0]}`?" if close else ""


_TYPE_ERRORS = {
    "string_type": "text",
    "model_type": "a mapping",
    "dict_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


@dataclass(frozen=True)
class _Error:
    loc: Loc  # keys and indexes of the document (union tags removed)
    names_key: bool  # the error is about a mapping key itself (pydantic's `[key]`)
    raw: dict[str, Any]  # pydantic's error

    @property
    def type(self) -> str:
        return str(self.raw["type"])


# Enough of pydantic's errors to fill the capped report of a badly broken document (a value of a
# union fails once per member), without paying for thousands.
_MAX_ERRORS = 20 * MAX_PER_MANIFEST


def _diagnostics(raw: RawDocument, model: type[BaseModel], exc: ValidationError) -> list[Diagnostic]:
    errors = [_Error(*_raw_loc(raw.data, model, e["loc"]), e) for e in exc.errors(include_url=False)[:_MAX_ERRORS]]
    errors = _drop_noise(raw.data, model, errors)
    return list(capped(_placed(raw, model, _by_place(errors))))


def _placed(raw: RawDocument, model: type[BaseModel], groups: list[list[_Error]]) -> Iterator[Diagnostic]:
    seen: set[tuple[str, int, int]] = set()
    for group in groups:
        d = _one(raw, model, group)
        if (d.code, d.line, d.column) not in seen:
            seen.add((d.code, d.line, d.column))
            yield d


def _drop_noise(data: Any, model: type[BaseModel], errors: list[_Error]) -> list[_Error]:
    """Keep the errors a person needs: one cause per place, no echo of another error."""
    # A union member that failed only on the value's type is noise when another member of the
    # same union said something more specific about the same value (deeper, or not a type error).
    deeper = {e.loc[:i] for e in errors for i in range(len(e.loc))}
    specific = {e.loc for e in errors if e.type not in _TYPE_ERRORS}
    keep = [e for e in errors if not (e.type in _TYPE_ERRORS and (e.loc in deeper or e.loc in specific))]
    # `nxt: x` reports both "unknown nxt" and "next is required"; the did-you-mean says it all.
    renamed: set[Loc] = set()
    for e in keep:
        if e.type == "extra_forbidden" and e.loc:
            parent = e.loc[:-1]
            known = _fields_at(model, data, parent)
            close = difflib.get_close_matches(str(e.loc[-1]), known, n=1, cutoff=0.6)
            if close:
                renamed.add((*parent, close[0]))
            wrong_block = _wrong_account_block(data, e)
            if wrong_block:
                renamed.add(("spec", wrong_block))
    return [e for e in keep if not (e.type == "missing" and e.loc in renamed)]


def _by_place(errors: list[_Error]) -> list[list[_Error]]:
    """Group the leftover type errors of one value (one per union member) into one diagnostic."""
    groups: list[list[_Error]] = []
    by_place: dict[tuple[Loc, bool], list[_Error]] = {}
    for e in errors:
        if e.type in _TYPE_ERRORS:
            if (e.loc, e.names_key) not in by_place:
                by_place[(e.loc, e.names_key)] = []
                groups.append(by_place[(e.loc, e.names_key)])
            by_place[(e.loc, e.names_key)].append(e)
        else:
            groups.append([e])
    return groups


def _wrong_account_block(data: Any, e: _Error) -> str | None:
    """The channel of an Account whose channel block is named for another channel (`messenger:` on whatsapp)."""
    if e.type != "extra_forbidden" or len(e.loc) != 2 or e.loc[0] != "spec" or e.loc[1] not in CHANNELS:
        return None
    spec = data.get("spec") if isinstance(data, dict) else None
    channel = spec.get("channel") if isinstance(spec, dict) else None
    if data.get("kind") == "Account" and channel in CHANNELS and channel != e.loc[1]:
        return str(channel)
    return None


def _value_at(data: Any, loc: Loc) -> Any:
    node = data
    for element in loc:
        try:
            node = node[element]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _one(raw: RawDocument, model: type[BaseModel], group: list[_Error]) -> Diagnostic:
    path = raw.file.path
    first = group[0]
    e = first.raw
    kind = first.type
    loc = first.loc
    where = _dotted(loc) or "the document"

    def at(code: str, message: str, at_loc: Loc, hint: str | None = None, want: str = "value") -> Diagnostic:
        line, column = raw.locate(at_loc, want)
        return Diagnostic.make(code, message, path, line, column, hint)

    if first.names_key:
        key = e.get("input")
        message = _lower(e["msg"])
        hint = _pattern_hint(str(e.get("ctx", {}).get("pattern", ""))) if kind == "string_pattern_mismatch" else None
        if kind == "string_type":
            message = f"key {key!r} is not text"
            hint = "keys are names; quote it if it must look like a number"
        elif kind == "string_pattern_mismatch":
            message = f"key {key!r} does not match the pattern {e['ctx']['pattern']}"
        return at("CF014", f"`{_dotted(loc[:-1]) or 'the document'}`: {message}", loc, hint, want="key")
    if kind == "invalid_key":
        return at("CF014", f"`{_dotted(loc[:-1]) or 'the document'}`: key {loc[-1]!r} is not text", loc,
                  hint="keys are field names; quote it if it must look like a number", want="key")
    if kind == "missing":
        field = loc[-1]
        return at("CF012", f"`{field}` is required in `{_dotted(loc[:-1]) or 'the document'}`", loc[:-1], want="key",
                  hint=f"add `{field}:`")
    if kind == "extra_forbidden":
        field = str(loc[-1])
        channel = _wrong_account_block(raw.data, first)
        if channel:
            return at("CF127", f"an Account with `channel: {channel}` takes a `{channel}:` block, not `{field}:`", loc,
                      hint=f"rename `{field}:` to `{channel}:`, or set `channel: {field}`", want="key")
        known = _fields_at(model, raw.data, loc[:-1])
        hint = _suggest(field, known) or (f"allowed here: {', '.join(sorted(known))}" if known else None)
        return at("CF013", f"unknown field `{field}` in `{_dotted(loc[:-1]) or 'the document'}`", loc, hint, want="key")
    if kind == "union_tag_invalid":
        tag = e["ctx"].get("tag")
        disc = str(e["ctx"].get("discriminator", "")).strip("'")
        expected = [t.strip(" '") for t in str(e["ctx"].get("expected_tags", "")).split(",")]
        if "start" in expected:
            return at("CF015", f"unknown component type `{tag}` in `{where}`", (*loc, "type"),
                      hint=_suggest(str(tag), COMPONENTS) or f"types are: {', '.join(COMPONENTS)}")
        return at("CF014", f"`{_dotted((*loc, disc))}`: {tag!r} is not one of {', '.join(expected)}", (*loc, disc),
                  hint=_suggest(str(tag), expected) or None)
    if kind == "union_tag_not_found":
        disc = str(e["ctx"].get("discriminator", "type")).strip("'")
        choices = ", ".join(COMPONENTS) if disc == "type" else ", ".join(CHANNELS)
        return at("CF012", f"`{disc}` is required in `{where}`", loc, hint=f"add `{disc}:` with one of {choices}", want="key")
    if kind == "literal_secret":
        header = _header_name(loc)
        if header is not None and not SECRET_HEADER.search(header):
            return at("CF014", f"`{where}`: a header value is text or a secret reference, not {_kind_of(e['input'])}", loc,
                      hint="quote the value")
        return at("CF140", f"`{where}` holds a literal secret", loc,
                  hint="reference it instead: `{env: NAME}` or `{file: /path/to/secret}`, outside the manifest root")
    if kind == "api_version":
        return at("CF010", e["msg"], loc)
    if kind == "literal_error":
        expected = str(e["ctx"].get("expected", ""))
        choices = [x.strip(" '") for x in expected.replace(" or ", ",").split(",")]
        return at("CF014", f"`{where}`: {e['input']!r} is not allowed; expected {expected}", loc,
                  hint=_suggest(str(e["input"]), choices) or None)
    if kind == "string_pattern_mismatch":
        return at("CF014", f"`{where}`: {e['input']!r} does not match the pattern {e['ctx']['pattern']}", loc,
                  hint=_pattern_hint(e["ctx"]["pattern"]))
    if kind in _TYPE_ERRORS:
        wanted = sorted({w for g in group if (w := _TYPE_ERRORS.get(g.type))})
        value = _value_at(raw.data, loc)
        got = _kind_of(value)
        hint = None
        if wanted == ["text"] and isinstance(value, (int, float, bool)):
            hint = f"quote it: YAML reads {_source_text(raw, loc)} as a {got}"
        return at("CF014", f"`{where}`: expected {' or '.join(wanted)}, not {got}", loc, hint)
    want = "key" if loc and isinstance(_value_at(raw.data, loc), dict) else "value"
    return at("CF014", f"`{where}`: {_lower(e['msg'])}", loc, want=want)


def _source_text(raw: RawDocument, loc: Loc) -> str:
    """The value as written in the file (YAML may have turned `0123` or `yes` into something else)."""
    line, column = raw.locate(loc)
    lines = raw.file.text.splitlines()
    if 0 < line <= len(lines):
        rest = lines[line - 1][column - 1:]
        token = rest.split(",")[0].split("}")[0].split("]")[0].split(" #")[0].strip()
        if token:
            return token
    return str(_value_at(raw.data, loc))


def _lower(message: str) -> str:
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return message[:1].lower() + message[1:]


def _header_name(loc: Loc) -> str | None:
    for i, element in enumerate(loc[:-1]):
        if element == "headers" and i == len(loc) - 2:
            return str(loc[-1])
    return None


_PATTERN_HINTS = {
    "(s|m|h|d)": "durations are a whole number and a unit: 30s, 5m, 2h, 3d",
    "^[a-z][a-z0-9_]*$": "node ids and variable names are lower case letters, digits and _, starting with a letter",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "names are lower case letters, digits and -, at most 63 characters",
    "^[A-Za-z_][A-Za-z0-9_]*$": "environment variable names are letters, digits and _",
    "[0-9]{1,32}": "channel ids are digits only; quote them so YAML keeps them as text",
    "^https?://": "an http:// or https:// URL",
}


def _pattern_hint(pattern: str) -> str | None:
    return next((h for k, h in _PATTERN_HINTS.items() if k in pattern), None)


def _dotted(loc: Loc) -> str:
    out = ""
    for element in loc:
        out += f"[{element}]" if isinstance(element, int) else (f".{element}" if out else str(element))
    return out


# ---- walking the models along a location -------------------------------------------------

_ABSENT = object()
_NOT_A_TAG = object()
_DISCRIMINATORS = ("type", "channel", "kind")


def _raw_loc(data: Any, model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Loc, bool]:
    """pydantic's location -> the keys and indexes it names in the document, and whether the
    error is about a mapping key itself.

    pydantic puts the member it tried into the location when a value may be of several types
    (`question`, `whatsapp`, `str`, `Button`); those are not keys of the document and are
    dropped. The model types are walked along with the data, so a tag that happens to equal a
    key (an Account's `channel: whatsapp` and its `whatsapp:` block) is still told apart.
    """
    out: list[str | int] = []
    node: Any = data
    tp: Any = model
    last = len(loc) - 1
    for i, element in enumerate(loc):
        if element == "[key]":
            return tuple(out), True
        tp = _strip(tp)
        members = _members(tp)
        if members is not None:
            picked = _pick(members, element, node)
            if picked is not _NOT_A_TAG:
                tp = picked
                continue
            tp = None
        key = _key_in(node, element)
        if key is _ABSENT:
            if isinstance(node, dict) and i == last:
                out.append(element)  # a missing or unknown field's own name
            tp = _child(tp, element)
            node = None
            continue
        out.append(key)
        node = node[key]
        tp = _child(tp, element)
    return tuple(out), False


def _cached(function: Any) -> Any:
    """Memoise a pure function of types; an unhashable annotation is simply computed again."""
    cached = lru_cache(maxsize=1024)(function)

    def call(*args: Any) -> Any:
        try:
            return cached(*args)
        except TypeError:
            return function(*args)

    return call


@_cached
def _strip(tp: Any) -> Any:
    """Annotated[X, ...] -> X; Optional[X] -> X (pydantic adds no location step for either)."""
    for _ in range(8):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp
    return tp


@_cached
def _members(tp: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return tuple(_strip(a) for a in typing.get_args(tp) if a is not type(None))
    return None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _pick(members: tuple[Any, ...], element: Any, node: Any) -> Any:
    """The union member a location element names, None for a non-model member, or _NOT_A_TAG."""
    if not isinstance(element, str):
        return _NOT_A_TAG
    for m in members:
        if _is_model(m):
            for disc in _DISCRIMINATORS:
                f = m.model_fields.get(disc)
                if f is not None and typing.get_origin(f.annotation) is typing.Literal and element in typing.get_args(f.annotation):
                    return m
    for m in members:
        if _is_model(m) and m.__name__ == element:
            return m
    if isinstance(node, dict) and element in node:
        return _NOT_A_TAG
    return None  # `str`, `constrained-str`, `list[...]`: a member with no fields to walk


def _key_in(node: Any, element: Any) -> Any:
    if isinstance(node, dict):
        if isinstance(element, (str, int)) and not isinstance(element, bool) and element in node:
            return element
        for key in node:
            if not isinstance(key, str) and str(key) == str(element):
                return key  # pydantic names a non-text key (None, 1, true) by its str()
        return _ABSENT
    if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
        return element
    return _ABSENT


def _child(tp: Any, element: Any) -> Any:
    if isinstance(element, int):
        return _child_of(tp, 0)  # every item of a list has the same type: one cache entry
    return _child_of(tp, element)


@_cached
def _child_of(tp: Any, element: Any) -> Any:
    if tp is None:
        return None
    if _is_model(tp):
        field = tp.model_fields.get(str(element))
        return field.annotation if field is not None else None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, tuple) and args:
        return args[0]
    return None


def _fields_at(model: type[BaseModel], data: Any, loc: Loc) -> list[str]:
    """Field names of the model that describes the mapping at `loc` (for did-you-mean)."""
    current: Any = model
    node = data
    for element in loc:
        current = _resolve(current, node)
        current = _child(current, element)
        if current is None:
            return []
        node = node[element] if isinstance(node, (dict, list)) else None
    current = _resolve(current, node)
    return list(current.model_fields) if _is_model(current) else []


def _resolve(tp: Any, node: Any) -> Any:
    """Down to the union member that fits the raw value (by its discriminator)."""
    tp = _strip(tp)
    members = _members(tp)
    if members is None:
        return tp
    models = [m for m in members if _is_model(m)]
    if isinstance(node, dict):
        for m in models:
            for disc in _DISCRIMINATORS:
                f = m.model_fields.get(disc)
                if f is not None and typing.get_origin(f.annotation) is typing.Literal and node.get(disc) in typing.get_args(f.annotation):
                    return m
        if models:
            return models[0]
    return members[0] if members else tp

