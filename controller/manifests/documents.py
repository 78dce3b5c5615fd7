"""Raw YAML document -> typed manifest, with pydantic's errors turned into placed diagnostics."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from .components import COMPONENTS
from .diagnostics import Diagnostic
from .loader import Loc, RawDocument
from .models import KINDS, MODELS, SUPPORTED_API_VERSIONS, Manifest


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
    data = raw.data
    path = raw.file.path

    def at(code: str, message: str, loc: Loc = (), hint: str | None = None, want: str = "value") -> Diagnostic:
        line, column = raw.locate(loc, want)
        return Diagnostic.make(code, message, path, line, column, hint)

    if not isinstance(data, dict):
        return None, [at("CF007", f"a manifest is a mapping, not a {_kind_of(data)}", hint="start with `apiVersion: chatflow/v1`")]
    version = data.get("apiVersion")
    if version not in SUPPORTED_API_VERSIONS:
        if version is None:
            return None, [at("CF012", "`apiVersion` is required", hint="add `apiVersion: chatflow/v1`")]
        return None, [
            at(
                "CF010",
                f"apiVersion {version!r} is not supported; supported: {', '.join(SUPPORTED_API_VERSIONS)}",
                ("apiVersion",),
                hint="use `apiVersion: chatflow/v1`" + _suggest(str(version), SUPPORTED_API_VERSIONS, prefix="; "),
            )
        ]
    kind = data.get("kind")
    if kind not in KINDS:
        if kind is None:
            return None, [at("CF012", "`kind` is required", hint=f"add `kind:` with one of {', '.join(KINDS)}")]
        return None, [
            at(
                "CF011",
                f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}",
                ("kind",),
                hint=_suggest(str(kind), KINDS) or None,
            )
        ]
    model = MODELS[kind]
    try:
        manifest = model.model_validate(data)
    except ValidationError as exc:
        return None, _diagnostics(raw, model, exc)
    return Document(raw, manifest), []


def _kind_of(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), type(value).__name__)


def _suggest(word: str, choices: typing.Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"{prefix}did you mean `{close[0]}`?" if close else ""


_TYPE_ERRORS = {"string_type", "model_type", "dict_type", "model_attributes_type", "int_type", "list_type", "bool_type"}


def _diagnostics(raw: RawDocument, model: type[BaseModel], exc: ValidationError) -> list[Diagnostic]:
    errors = exc.errors(include_url=False)
    resolved = [(_raw_loc(raw.data, model, e["loc"]), e) for e in errors]
    # A union member that failed only because the value had the other member's type is noise
    # when another member reported something more specific about the same value.
    keep = []
    for loc, e in resolved:
        if e["type"] in _TYPE_ERRORS and any(
            other_loc[: len(loc)] == loc and (len(other_loc) > len(loc) or other["type"] not in _TYPE_ERRORS)
            for other_loc, other in resolved
            if other is not e
        ):
            continue
        keep.append((loc, e))
    out: list[Diagnostic] = []
    seen: set[tuple[str, int, int]] = set()
    for loc, e in keep:
        d = _one(raw, model, loc, e)
        if (d.code, d.line, d.column) not in seen:
            seen.add((d.code, d.line, d.column))
            out.append(d)
    return out


def _one(raw: RawDocument, model: type[BaseModel], loc: Loc, e: dict[str, Any]) -> Diagnostic:
    path = raw.file.path
    kind = e["type"]
    where = _dotted(loc)

    def at(code: str, message: str, at_loc: Loc, hint: str | None = None, want: str = "value") -> Diagnostic:
        line, column = raw.locate(at_loc, want)
        return Diagnostic.make(code, message, path, line, column, hint)

    if kind == "missing":
        field = loc[-1]
        return at("CF012", f"`{field}` is required in `{_dotted(loc[:-1]) or 'the document'}`", loc[:-1], want="key",
                  hint=f"add `{field}:`")
    if kind == "extra_forbidden":
        field = str(loc[-1])
        known = _fields_at(model, raw.data, loc[:-1])
        hint = _suggest(field, known) or (f"allowed here: {', '.join(sorted(known))}" if known else None)
        return at("CF013", f"unknown field `{field}` in `{_dotted(loc[:-1]) or 'the document'}`", loc, hint, want="key")
    if kind == "union_tag_invalid":
        tag = e["ctx"].get("tag")
        expected = [t.strip(" '") for t in str(e["ctx"].get("expected_tags", "")).split(",")]
        if "start" in expected:
            return at("CF015", f"unknown component type `{tag}` in `{where}`", (*loc, "type"),
                      hint=_suggest(str(tag), COMPONENTS) or f"types are: {', '.join(COMPONENTS)}")
        return at("CF014", f"`{where}`: {tag!r} is not one of {', '.join(expected)}", (*loc, e["ctx"].get("discriminator", "").strip("'")),
                  hint=_suggest(str(tag), expected) or None)
    if kind == "union_tag_not_found":
        disc = str(e["ctx"].get("discriminator", "type")).strip("'")
        choices = ", ".join(COMPONENTS) if disc == "type" else "whatsapp, messenger, instagram, viber"
        return at("CF012", f"`{disc}` is required in `{where}`", loc, hint=f"add `{disc}:` with one of {choices}", want="key")
    if kind == "literal_secret":
        return at("CF140", f"`{where}` holds a literal secret", loc,
                  hint="reference it instead: `{env: NAME}` or `{file: /path/to/secret}`")
    if kind == "api_version":
        return at("CF010", e["msg"], loc)
    if kind == "literal_error":
        expected = e["ctx"].get("expected", "")
        return at("CF014", f"`{where}`: {e['input']!r} is not allowed; expected {expected}", loc,
                  hint=_suggest(str(e["input"]), [x.strip(" '") for x in str(expected).replace(" or ", ",").split(",")]) or None)
    if kind == "string_pattern_mismatch":
        return at("CF014", f"`{where}`: {e['input']!r} does not match the pattern {e['ctx']['pattern']}", loc,
                  hint=_pattern_hint(e["ctx"]["pattern"]))
    message = e["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return at("CF014", f"`{where or 'document'}`: {message[:1].lower() + message[1:]}", loc)


_PATTERN_HINTS = {
    "(s|m|h|d)": "durations are a whole number and a unit: 30s, 5m, 2h, 3d",
    "^[a-z][a-z0-9_]*$": "node ids and variable names are lower case letters, digits and _, starting with a letter",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "names are lower case letters, digits and -, at most 63 characters",
}


def _pattern_hint(pattern: str) -> str | None:
    return next((h for k, h in _PATTERN_HINTS.items() if k in pattern), None)


def _dotted(loc: Loc) -> str:
    out = ""
    for element in loc:
        out += f"[{element}]" if isinstance(element, int) else (f".{element}" if out else str(element))
    return out


# ---- walking the models along a location -------------------------------------------------


def _raw_loc(data: Any, model: type[BaseModel], loc: tuple[Any, ...]) -> Loc:
    """Drop the union-member tags pydantic puts into a location, keeping real keys only."""
    out: list[str | int] = []
    node = data
    for i, element in enumerate(loc):
        if isinstance(node, dict) and element in node:
            out.append(element)
            node = node[element]
        elif isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            out.append(element)
            node = node[element]
        elif i == len(loc) - 1 and isinstance(node, dict):
            out.append(element)  # a missing or unknown field's own name
        # else: a union tag such as 'question' or 'str'; skip it
    return tuple(out)


def _fields_at(model: type[BaseModel], data: Any, loc: Loc) -> list[str]:
    """Field names of the model that describes the mapping at `loc` (for did-you-mean)."""
    current: Any = model
    node = data
    for element in loc:
        current = _resolve(current, node)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(element))
            if field is None:
                return []
            current = field.annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin in (list, dict) and args:
                current = args[-1]
            else:
                return []
        node = node[element] if isinstance(node, (dict, list)) else None
    current = _resolve(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _resolve(tp: Any, node: Any) -> Any:
    """Unwrap Annotated/Optional/Union down to the member that fits the raw value."""
    for _ in range(8):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            chosen = None
            if isinstance(node, dict):
                for m in models:
                    for disc in ("type", "channel", "kind"):
                        f = m.model_fields.get(disc)
                        if f is not None and typing.get_origin(f.annotation) is typing.Literal and node.get(disc) in typing.get_args(f.annotation):
                            chosen = m
                if chosen is None and models:
                    chosen = models[0]
            tp = chosen if chosen is not None else (members[0] if members else tp)
            continue
        return tp
    return tp
