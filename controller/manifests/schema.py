"""JSON Schemas generated from the models: one per kind and one combined (for editor modelines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from .models import Account, Flow, FlowTest

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"


def _finish(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    return {"$schema": SCHEMA_URI, "title": title, "description": description, **{k: v for k, v in schema.items() if k != "title"}}


def schemas() -> dict[str, dict[str, Any]]:
    """file name -> schema document."""
    combined = TypeAdapter(Annotated[Union[Flow, Account, FlowTest], Field(discriminator="kind")]).json_schema()
    return {
        "flow.schema.json": _finish(Flow.model_json_schema(), "chatflow Flow", "A chat flow (kind: Flow)."),
        "account.schema.json": _finish(Account.model_json_schema(), "chatflow Account", "A channel account (kind: Account)."),
        "flowtest.schema.json": _finish(FlowTest.model_json_schema(), "chatflow FlowTest", "A conversation test (kind: FlowTest)."),
        "chatflow.schema.json": _finish(combined, "chatflow manifest", "Any chatflow manifest: Flow, Account or FlowTest."),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def stale(directory: Path) -> list[str]:
    """Names of schema files in `directory` that are missing or differ from the models."""
    out = []
    for name, schema in schemas().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(schema):
            out.append(name)
    return out


def write(directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        text = render(schema)
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    return written
