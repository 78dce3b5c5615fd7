"""A new manifest file before it is written: its text, its name rules, and its check against the root."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString, SingleQuotedScalarString

from .catalog import Catalog, from_load
from .components import FLOW_NAME_PATTERN
from .diagnostics import Diagnostic
from .loader import LoadResult, discover, load_bytes, load_paths
from .models import API_VERSION, Account

NAME_RULE = "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. order-status)"
_NAME = re.compile(FLOW_NAME_PATTERN)
_FLOW_WIDTH = 100  # a mapping or list of scalars shorter than this is written on one line


class DraftError(Exception):
    """A new manifest that must not be written; the message says what and how to fix it."""


def name_problem(name: str, what: str = "flow name") -> str | None:
    """Why `name` cannot name a manifest, or None when it can."""
    if not _NAME.fullmatch(name) or len(name) > 63:
        return f"{name!r} is not a valid {what}: use {NAME_RULE}"
    return None


def slug(text: str) -> str:
    """A flow name made of any title: `Support Bot (v2)` -> `support-bot-v2`."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:63].strip("-") or "imported-flow"


def modeline(target: Path, repo: Path) -> str:
    """The editor modeline pointing from `target` to the repository's combined schema."""
    schema = repo / "schemas" / "chatflow.schema.json"
    relative = os.path.relpath(schema, target.parent)
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}"


def blank_flow(name: str, trigger: str, account: str | None = None, display_name: str | None = None,
               remark: str | None = None) -> dict[str, Any]:
    """The smallest valid flow: start -> end, unpublished."""
    metadata: dict[str, Any] = {"name": name}
    if display_name:
        metadata["displayName"] = display_name
    if remark:
        metadata["remark"] = remark
    trig: dict[str, Any] = {"type": trigger}
    if account:
        trig["account"] = account
    return {
        "apiVersion": API_VERSION,
        "kind": "Flow",
        "metadata": metadata,
        "spec": {
            "state": "unpublished",
            "trigger": trig,
            "nodes": {"start": {"type": "start", "next": "done"}, "done": {"type": "end"}},
        },
    }


# ---- YAML text -----------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


_BLOCK = {(), ("metadata",), ("spec",), ("spec", "nodes"), ("spec", "steps")}


def _styled(value: Any, path: tuple[str, ...] = ()) -> Any:
    """Plain data -> ruamel nodes, with small leaf collections in flow style, as people write them."""
    if isinstance(value, dict):
        node = CommentedMap((_scalar(k) if isinstance(k, str) else k, _styled(v, (*path, str(k)))) for k, v in value.items())
        if value and path not in _BLOCK and _short(value):
            node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_styled(v, (*path, "[]")) for v in value)
        if value and _short(value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str):
        return _scalar(value)
    return value


# Plain (unquoted) only for text that every YAML parser reads back the same; the C parser is
# stricter than ruamel's emitter about indicators inside flow collections (e.g. `?` before `,`).
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _./@+-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _scalar(text: str) -> Any:
    if "\n" in text.rstrip("\n") and not _CONTROL.search(text) and not re.search(r"[ \t]\n|[ \t]$|^[ \t]", text):
        return LiteralScalarString(text)
    if _PLAIN.fullmatch(text) and not text.endswith(" "):
        return text
    if '"' in text and not _CONTROL.search(text) and "\n" not in text:
        return SingleQuotedScalarString(text)
    return DoubleQuotedScalarString(text)


def _short(value: dict[str, Any] | list[Any]) -> bool:
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, (dict, list)):
            if not item or not _short(item):
                return False
        elif isinstance(item, str) and ("\n" in item or len(item) > 60):
            return False
    return len(repr(value)) <= _FLOW_WIDTH


def dump(documents: Iterable[Any], header: str | None = None) -> str:
    """YAML text of one or more documents (plain data or ruamel nodes), each after `header`."""
    yaml = _yaml()
    parts = []
    for doc in documents:
        buffer = io.StringIO()
        yaml.dump(doc if isinstance(doc, CommentedMap) else _styled(doc), buffer)
        text = buffer.getvalue()
        parts.append(f"{header}\n{text}" if header and not text.startswith("# yaml-language-server") else text)
    return "---\n".join(parts)


def load_round_trip(text: str) -> list[Any]:
    """Documents of `text` with comments and layout kept (for editing a template)."""
    return [d for d in _yaml().load_all(text) if d is not None]


# ---- checking against the manifest root ----------------------------------------------------


@dataclass(frozen=True)
class Root:
    """The manifest root as it is now, loaded once for the checks of a new file."""

    path: Path
    catalog: Catalog
    result: LoadResult

    @classmethod
    def load(cls, root: Path, display_base: Path) -> "Root":
        files = discover(root) if root.exists() else []
        result = load_paths(files, display_base)
        return cls(root, from_load(result, root), result)

    def names(self, kind: str) -> set[str]:
        """Names of `kind` defined anywhere under the root, also by manifests with errors."""
        names = {d.name for d in self.catalog.documents if d.kind == kind}
        names.update(n for (k, n) in self.catalog.invalid if k == kind)
        return names

    def where(self, kind: str, name: str) -> str | None:
        """The file that defines (kind, name), when known."""
        doc = self.catalog.document(kind, name)
        if doc is not None:
            return doc.path
        for raw in self.result.documents:
            data = raw.data
            if isinstance(data, dict) and data.get("kind") == kind and isinstance(data.get("metadata"), dict) \
                    and data["metadata"].get("name") == name:
                return raw.file.path
        return None

    def account_problem(self, account: str, trigger: str) -> str | None:
        """Why `account` cannot be bound to a flow with this trigger type, or None."""
        if trigger == "manual":
            return ("a manual trigger takes no account: manual flows are started by the API or a campaign "
                    "and send with `send` nodes that name their account; drop --account")
        accounts = self.catalog.accounts
        if account not in accounts:
            if ("Account", account) in self.catalog.invalid:
                return f"account `{account}` has errors; fix it first (chatflow validate)"
            fitting = sorted(n for n, a in accounts.items() if a.spec.channel == trigger)
            known = f"{trigger} accounts here: {', '.join(fitting)}" if fitting else f"there is no {trigger} account under {self.path.name}/ yet"
            return f"account `{account}` does not exist ({known})"
        found: Account = accounts[account]
        if found.spec.channel != trigger:
            return (f"account `{account}` is {_a(found.spec.channel)} account; {_a(trigger)} trigger needs {_a(trigger)} account "
                    "(the trigger type never changes after creation)")
        return None

    def check(self, shown_path: str, text: str) -> list[Diagnostic]:
        """Diagnostics of the new file `shown_path` holding `text`, resolved against the whole root."""
        result = LoadResult(list(self.result.documents), list(self.result.diagnostics))
        result.merge(load_bytes(shown_path, text.encode("utf-8")))
        catalog = from_load(result, self.path)
        return [d for d in catalog.diagnostics if d.path == shown_path]


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def target_problem(root: Root, target: Path, shown: str, flow: str, tests: Iterable[str] = ()) -> str | None:
    """Why a new flow `flow` (with FlowTests `tests`) cannot be written to `target`, or None."""
    if target.exists():
        return f"{shown} already exists; choose another name or edit that file"
    if flow in root.names("Flow"):
        return f"a flow named `{flow}` already exists in {root.where('Flow', flow) or 'the manifest root'}; choose another name"
    taken = root.names("FlowTest")
    for test in tests:
        problem = name_problem(test, "FlowTest name")
        if problem:
            return f"{problem} (FlowTest names are the flow's name plus a suffix; choose a shorter flow name)"
        if test in taken:
            return f"a FlowTest named `{test}` already exists in {root.where('FlowTest', test) or 'the manifest root'}; choose another flow name"
    return None
