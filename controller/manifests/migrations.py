"""Manifest format migrations: one small function per apiVersion step, applied in order on load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .models import API_VERSION

Migration = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    source: str
    target: str
    migrate: Migration
    summary: str


# The ordered migration table. When chatflow/v2 arrives, add
#   Step("chatflow/v1", "chatflow/v2", _v1_to_v2, "what changed")
# and add "chatflow/v1" to the versions the loader accepts; old manifests keep working.
STEPS: tuple[Step, ...] = ()

CURRENT = API_VERSION


def pending(version: str) -> list[Step]:
    """The steps that take a document from `version` to CURRENT, in order."""
    chain: list[Step] = []
    at = version
    while at != CURRENT:
        step = next((s for s in STEPS if s.source == at), None)
        if step is None:
            return chain
        chain.append(step)
        at = step.target
    return chain


def migrate(document: dict[str, Any]) -> tuple[dict[str, Any], list[Step]]:
    """Apply every pending step to one raw document; returns the new document and what ran."""
    steps = pending(str(document.get("apiVersion", CURRENT)))
    for step in steps:
        document = step.migrate(document)
        document["apiVersion"] = step.target
    return document, steps
