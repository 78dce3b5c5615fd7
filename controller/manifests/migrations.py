"""Manifest format migrations: one small function per apiVersion step, applied in order on load."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

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
# and set models.API_VERSION to "chatflow/v2"; old manifests keep loading (documents.build
# migrates them first) and `chatflow migrate --write` rewrites them.
STEPS: tuple[Step, ...] = ()

CURRENT = API_VERSION


def pending(version: str) -> list[Step]:
    """The steps that take a document from `version` to CURRENT, in order; [] when there is no way."""
    chain: list[Step] = []
    at = version
    while at != CURRENT:
        step = next((s for s in STEPS if s.source == at), None)
        if step is None or len(chain) > len(STEPS):
            return []
        chain.append(step)
        at = step.target
    return chain


def supported() -> tuple[str, ...]:
    """Every apiVersion that loads: the current one and each one with a migration chain to it."""
    older = [s.source for s in STEPS if s.source != CURRENT and pending(s.source)]
    return (CURRENT, *sorted(set(older)))


def migrate(document: dict[str, Any]) -> tuple[dict[str, Any], list[Step]]:
    """Apply every pending step to one raw document; returns the new document and what ran."""
    steps = pending(str(document.get("apiVersion", CURRENT)))
    for step in steps:
        document = step.migrate(document)
        document["apiVersion"] = step.target
    return document, steps


@dataclass(frozen=True)
class FileMigration:
    """What migrating one file's text did: the new text (comments kept) and the step summaries."""

    text: str
    summaries: tuple[str, ...]
    error: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.summaries)


def migrate_text(text: str) -> FileMigration:
    """Migrate every document of a YAML file with the round-trip loader, so comments and order stay."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        docs: list[Any] = list(yaml.load_all(text))
    except (YAMLError, RecursionError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        return FileMigration(text, (), first[0] if first else "YAML error")
    summaries: list[str] = []
    for i, doc in enumerate(docs):
        if isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str):
            new, steps = migrate(doc)
            if steps:
                docs[i] = new
                summaries.extend(f"{s.source} -> {s.target}: {s.summary}" for s in steps)
    if not summaries:
        return FileMigration(text, ())
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return FileMigration(out.getvalue(), tuple(summaries))
