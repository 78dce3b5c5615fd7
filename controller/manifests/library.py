"""The template library: ready-made flows with their FlowTests, shipped inside the package.

A template is an ordinary, valid manifest file (controller/manifests/templates/NAME.yaml): one
unpublished, unbound Flow named NAME and FlowTests named `NAME-...` that test it. The template's
own name is its placeholder: instantiating it renames the flow, points the tests at the new name
(`NAME-happy-path` becomes `NEW-happy-path`) and binds the account, keeping comments and layout.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .draft import DraftError, dump, load_round_trip
from .loader import load_bytes

PACKAGE = "controller.manifests.templates"
MESSAGE_TRIGGERS = ("whatsapp", "instagram", "viber", "messenger")


@dataclass(frozen=True)
class Template:
    name: str
    display_name: str
    description: str
    trigger: str
    node_count: int
    tests: tuple[str, ...]
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "displayName": self.display_name,
            "trigger": self.trigger,
            "description": self.description,
            "nodes": self.node_count,
            "tests": len(self.tests),
        }


@dataclass(frozen=True)
class Instance:
    """A template filled in for a new flow: the file text and the names it defines."""

    text: str
    flow: str
    tests: tuple[str, ...]


def templates() -> list[Template]:
    """Every template in the library, by name."""
    found = []
    for entry in resources.files(PACKAGE).iterdir():
        if entry.name.endswith(".yaml"):
            found.append(_read(entry.name[: -len(".yaml")], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda t: t.name)


def get(name: str) -> Template:
    """The template called `name`; DraftError naming the choices when there is none."""
    library = {t.name: t for t in templates()}
    if name in library:
        return library[name]
    close = difflib.get_close_matches(name, list(library), n=1, cutoff=0.5)
    hint = f"did you mean `{close[0]}`? " if close else ""
    raise DraftError(f"there is no template `{name}`; {hint}templates: {', '.join(library)} (see `chatflow templates`)")


def _read(name: str, text: str) -> Template:
    result = load_bytes(f"{name}.yaml", text.encode("utf-8"))
    flows = [d.data for d in result.documents if isinstance(d.data, dict) and d.data.get("kind") == "Flow"]
    if result.diagnostics or len(flows) != 1:
        raise DraftError(f"template {name} is broken: it must hold exactly one Flow")  # a packaging bug
    flow = flows[0]
    meta, spec = flow["metadata"], flow["spec"]
    tests = tuple(d.data["metadata"]["name"] for d in result.documents if d.data.get("kind") == "FlowTest")
    return Template(
        name=meta["name"],
        display_name=meta.get("displayName", meta["name"]),
        description=meta.get("remark", ""),
        trigger=spec["trigger"]["type"],
        node_count=len(spec["nodes"]),
        tests=tests,
        text=text,
    )


def renamed_test(test: str, old_flow: str, new_flow: str) -> str:
    """`old-happy-path` -> `new-happy-path`; a test not named after its flow gets the new name as prefix."""
    suffix = test[len(old_flow) + 1:] if test.startswith(old_flow + "-") else test
    return f"{new_flow}-{suffix}"


def instance_names(template: Template, name: str) -> tuple[str, ...]:
    return tuple(renamed_test(t, template.name, name) for t in template.tests)


def trigger_for(template: Template, trigger: str | None) -> str:
    """The trigger a flow made of `template` gets: its own, or another message channel."""
    if trigger is None or trigger == template.trigger:
        return template.trigger
    if "manual" in (trigger, template.trigger):
        raise DraftError(
            f"template `{template.name}` is built for a {template.trigger} trigger; it cannot become {trigger}: "
            "a manual flow is started by the API, a message flow by the contact's message"
        )
    return trigger


def instantiate(template: Template, name: str, trigger: str | None = None, account: str | None = None,
                display_name: str | None = None, remark: str | None = None, header: str | None = None) -> Instance:
    """The template's file text for a new flow `name`, with its tests renamed after it."""
    trigger_for(template, trigger)
    documents = load_round_trip(template.text)
    tests: list[str] = []
    for doc in documents:
        if doc.get("kind") == "Flow":
            doc["metadata"]["name"] = name
            if display_name is not None:
                doc["metadata"]["displayName"] = display_name
            if remark is not None:
                doc["metadata"]["remark"] = remark
            doc["metadata"].setdefault("annotations", {})["chatflow/template"] = template.name
            spec_trigger = doc["spec"]["trigger"]
            if trigger is not None:
                spec_trigger["type"] = trigger
            if account is not None:
                spec_trigger.insert(1, "account", account)
            doc["spec"]["state"] = "unpublished"
        elif doc.get("kind") == "FlowTest":
            new = renamed_test(doc["metadata"]["name"], template.name, name)
            doc["metadata"]["name"] = new
            doc["spec"]["flow"] = name
            tests.append(new)
    return Instance(dump(documents, header), name, tuple(tests))
