"""The portable flow document: `chatflow export` writes it, `chatflow import` makes a new manifest of it.

The document holds the flow's design and basic information, never its binding or its state:

    {"format": "chatflow.export/v1", "apiVersion": "chatflow/v1", "name": "order-status",
     "displayName": "...", "remark": "...", "labels": {...}, "spec": {...}, "tests": [{"name", "spec"}]}

`spec` is the manifest's spec less `state` and `trigger.account`; `tests` are the FlowTests that
name the flow, less their `flow` field. Secrets: a flow holds secrets only by reference
(`{env: NAME}` / `{file: PATH}`, validation rejects literals in headers), and a reference is kept
as it is: it names where the secret lives, not its value. The importing side must provide the
same variables or files. A literal value under a secret-looking query parameter is dropped with a
warning. Export -> import -> export gives the same document.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import expressions, migrations
from .catalog import Catalog
from .components import SECRET_HEADER, FlowName
from .draft import DraftError
from .library import renamed_test
from .loader import SourceFile, decode, parse
from .models import API_VERSION

FORMAT = "chatflow.export/v1"
MAX_IMPORT_BYTES = 4 * 1024 * 1024


class PortableTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: FlowName
    spec: dict[str, Any]


class PortableFlow(BaseModel):
    """The boundary model of an exported document; the spec itself is validated as a manifest."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["chatflow.export/v1"]
    apiVersion: str = API_VERSION
    name: FlowName
    displayName: Optional[str] = None
    remark: Optional[str] = None
    labels: dict[str, str] = {}
    spec: dict[str, Any]
    tests: List[PortableTest] = Field(default_factory=list)


@dataclass
class Exported:
    document: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Imported:
    """Manifests (plain data) for a new flow, in file order: the flow, then its tests."""

    flow: dict[str, Any]
    tests: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.flow["metadata"]["name"])

    @property
    def test_names(self) -> list[str]:
        return [t["metadata"]["name"] for t in self.tests]

    def documents(self) -> list[dict[str, Any]]:
        return [self.flow, *self.tests]


# ---- export --------------------------------------------------------------------------------


def export_flow(catalog: Catalog, name: str) -> Exported:
    """The portable document of flow `name`; DraftError when it is unknown or has errors."""
    doc = catalog.document("Flow", name)
    if doc is None:
        if ("Flow", name) in catalog.invalid:
            problems = "\n".join(f"  {d}" for d in catalog.invalid[("Flow", name)] if d.is_error)
            raise DraftError(f"flow `{name}` has errors; fix them before exporting it:\n{problems}")
        known = sorted(catalog.flows)
        raise DraftError(f"there is no flow `{name}`" + (f"; flows: {', '.join(known)}" if known else ""))
    raw = doc.raw.data
    meta = raw["metadata"]
    spec = copy.deepcopy(raw["spec"])
    spec.pop("state", None)
    spec["trigger"].pop("account", None)
    warnings = _drop_literal_secrets(spec)
    document: dict[str, Any] = {"format": FORMAT, "apiVersion": raw["apiVersion"], "name": name}
    for key in ("displayName", "remark"):
        if meta.get(key) is not None:
            document[key] = meta[key]
    if meta.get("labels"):
        document["labels"] = dict(meta["labels"])
    document["spec"] = spec
    tests = []
    for test in catalog.documents:
        if test.kind == "FlowTest" and test.manifest.spec.flow == name:  # type: ignore[union-attr]
            test_spec = copy.deepcopy(test.raw.data["spec"])
            test_spec.pop("flow", None)
            tests.append({"name": test.name, "spec": test_spec})
    if tests:
        document["tests"] = tests
    return Exported(document, warnings)


def _drop_literal_secrets(spec: dict[str, Any]) -> list[str]:
    """Literal values under secret-looking query parameters leave the document (with a warning)."""
    warnings = []
    for node_id, node in (spec.get("nodes") or {}).items():
        if not isinstance(node, dict) or node.get("type") != "http":
            continue
        query = node.get("query") or {}
        for key in list(query):
            value = query[key]
            if SECRET_HEADER.search(str(key)) and isinstance(value, str) and not expressions.is_template(value):
                del query[key]
                warnings.append(f"node `{node_id}`: query parameter `{key}` holds a literal secret; it is not exported "
                                "(use a header with `{env: NAME}` instead)")
        if "query" in node and not query:
            del node["query"]
    return warnings


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ---- import --------------------------------------------------------------------------------


def read_file(path: Path) -> Any:
    """The data of a JSON or YAML file, read safely and bounded; DraftError saying what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DraftError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_IMPORT_BYTES:
        raise DraftError(f"{path} is {size} bytes; imports are limited to {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    data = path.read_bytes()
    return parse_bytes(str(path), data)


def parse_bytes(shown: str, data: bytes) -> Any:
    source, problems = decode(shown, data)
    if source is None:
        raise DraftError(str(problems[0]))
    text = source.text
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise DraftError(f"{shown}:{exc.lineno}:{exc.colno} is not valid JSON: {exc.msg}") from None
        except _Duplicate as exc:
            raise DraftError(f"{shown} is not valid: key `{exc.args[0]}` appears twice in one object") from None
    result = parse(SourceFile(shown, text))
    if result.diagnostics:
        raise DraftError(str(result.diagnostics[0]))
    if len(result.documents) != 1:
        raise DraftError(f"{shown} holds {len(result.documents)} YAML documents; an export holds one")
    return result.documents[0].data


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def bind(trigger: dict[str, Any], account: str | None) -> dict[str, Any]:
    """The trigger with `account` right after `type` (or with no account when None)."""
    out: dict[str, Any] = {}
    for key, value in trigger.items():
        if key == "account":
            continue
        out[key] = value
        if key == "type" and account is not None:
            out["account"] = account
    if account is not None and "account" not in out:
        out["account"] = account
    return out


def looks_like_studio(data: Any) -> bool:
    if isinstance(data, dict) and isinstance(data.get("definition"), dict):
        data = data["definition"]
    return isinstance(data, dict) and "states" in data and "initial_state" in data


def import_flow(data: Any, name: str | None = None, account: str | None = None,
                display_name: str | None = None, remark: str | None = None) -> Imported:
    """Manifests for a new, unpublished copy of an exported flow; DraftError when the document is not one."""
    if not isinstance(data, dict) or "format" not in data:
        hint = " (it looks like a Twilio Studio flow: use --from twilio-studio)" if looks_like_studio(data) else ""
        raise DraftError(f"this is not a chatflow export: it has no `format: {FORMAT}`{hint}")
    if data.get("format") != FORMAT:
        raise DraftError(f"export format {data.get('format')!r} is not supported; this chatflow reads {FORMAT}")
    try:
        doc = PortableFlow.model_validate(data)
    except ValidationError as exc:
        raise DraftError("the export is not valid:\n" + "\n".join(
            f"  {'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors(include_url=False)
        )) from None
    if not isinstance(doc.spec.get("trigger"), dict):
        raise DraftError("the export is not valid:\n  spec.trigger: a trigger mapping is required")
    new_name = name or doc.name
    metadata: dict[str, Any] = {"name": new_name}
    title = display_name if display_name is not None else doc.displayName
    note = remark if remark is not None else doc.remark
    if title is not None:
        metadata["displayName"] = title
    if note is not None:
        metadata["remark"] = note
    if doc.labels:
        metadata["labels"] = dict(doc.labels)
    spec = copy.deepcopy(doc.spec)
    spec.pop("state", None)
    spec["trigger"] = bind(spec["trigger"], account)
    flow, _ = migrations.migrate({"apiVersion": doc.apiVersion, "kind": "Flow", "metadata": metadata,
                                  "spec": {"state": "unpublished", **spec}})
    tests = []
    for test in doc.tests:
        test_spec = {k: v for k, v in copy.deepcopy(test.spec).items() if k != "flow"}
        manifest, _ = migrations.migrate({"apiVersion": doc.apiVersion, "kind": "FlowTest",
                                          "metadata": {"name": renamed_test(test.name, doc.name, new_name)},
                                          "spec": {"flow": new_name, **test_spec}})
        tests.append(manifest)
    return Imported(flow, tests)
