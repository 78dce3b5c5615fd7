"""One manifest file reduced to what a reconcile needs, cacheable by git blob id.

`summarize` parses a file, runs the local rules and keeps each document's Facts, its desired
record and its spec; `assemble` runs the global rules over many summaries. A reconcile stores
summaries in the state store's parse cache, so an unchanged blob is never parsed again and a
one-file change costs one parse (DESIGN §4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from .catalog import identify
from .diagnostics import Diagnostic, sort_key
from .documents import Document, build
from .facts import Facts, Locate, diagnostic_from_json, diagnostic_json
from .loader import load_bytes
from .models import Account, Flow, fold_keyword
from .revision import account_hash, account_spec_json, flow_revision, spec_json
from .validation import facts_of, global_checks, local_checks

SUSPEND_ANNOTATION = "chatflow/suspend"
FORMAT = 1  # bump when the payload changes: older cache entries are then parsed again


@dataclass
class DocSummary:
    kind: str | None
    name: str | None
    index: int
    facts: Facts | None  # None when the document failed the schema
    local: list[Diagnostic] = field(default_factory=list)
    record: dict[str, Any] | None = None  # the desired record (no spec)
    spec: str | None = None  # flows: canonical spec JSON; None until loaded

    @property
    def identity(self) -> tuple[str, str] | None:
        return (self.kind, self.name) if self.kind and self.name else None


@dataclass
class FileSummary:
    path: str
    blob: str | None
    docs: list[DocSummary] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)  # the file itself could not be read
    unidentified: bool = False  # some document failed before saying its kind and name


def flow_record(manifest: Flow) -> tuple[dict[str, Any], str]:
    """A flow's desired record (no spec) and its canonical spec JSON."""
    spec = manifest.spec
    return {
        "trigger": spec.trigger.type,
        "state": spec.state,
        "account": spec.trigger.account,
        "display_name": manifest.metadata.displayName,
        "remark": manifest.metadata.remark,
        "logging": spec.logging,
        "keywords": [fold_keyword(k) for k in spec.trigger.keywords],
        "revision": flow_revision(manifest),
        "suspended": manifest.metadata.annotations.get(SUSPEND_ANNOTATION, "").strip().lower() == "true",
    }, spec_json(manifest)


def account_record(manifest: Account) -> dict[str, Any]:
    return {
        "channel": manifest.spec.channel,
        "channel_id": manifest.spec.channel_id(),
        "spec_hash": account_hash(manifest),
        "spec_json": account_spec_json(manifest),
    }


def _record(doc: Document) -> tuple[dict[str, Any] | None, str | None]:
    manifest = doc.manifest
    if isinstance(manifest, Flow):
        return flow_record(manifest)
    if isinstance(manifest, Account):
        return account_record(manifest), None
    return None, None


def summarize(path: str, data: bytes, blob: str | None = None, secret_root: Path | None = None) -> FileSummary:
    """Parse one file and run everything that needs only it."""
    loaded = load_bytes(path, data, blob)
    summary = FileSummary(path, blob, problems=list(loaded.diagnostics))
    for raw in loaded.documents:
        document, problems = build(raw)
        if document is None:
            identity = identify(raw)
            if identity is None:
                summary.unidentified = True
                summary.problems.extend(problems)
                continue
            subject_problems = [_with_subject(p, identity) for p in problems]
            summary.docs.append(DocSummary(identity[0], identity[1], raw.index, None, subject_problems))
            continue
        record, spec = _record(document)
        summary.docs.append(DocSummary(document.kind, document.name, raw.index, facts_of(document),
                                       problems + local_checks(document, secret_root), record, spec))
    return summary


def _with_subject(d: Diagnostic, subject: tuple[str, str]) -> Diagnostic:
    return replace(d, subject=subject)


# ---- cache payloads ----------------------------------------------------------------------------


def encode(summary: FileSummary) -> tuple[bytes, bytes]:
    """(light payload, spec payload): the spec part is read only when an action needs it."""
    light = {
        "format": FORMAT,
        "unidentified": summary.unidentified,
        "problems": [diagnostic_json(d) for d in summary.problems],
        "docs": [
            {
                "kind": d.kind, "name": d.name, "index": d.index,
                "facts": d.facts.to_json() if d.facts else None,
                "local": [diagnostic_json(x) for x in d.local],
                "record": d.record,
            }
            for d in summary.docs
        ],
    }
    specs = {str(d.index): d.spec for d in summary.docs if d.spec is not None}
    return json.dumps(light, separators=(",", ":")).encode(), json.dumps(specs, separators=(",", ":")).encode()


def decode(path: str, blob: str | None, light: bytes, locate: Callable[[int], Locate]) -> FileSummary | None:
    """A cached summary at `path` (None when the payload is of an older format)."""
    data = json.loads(light)
    if data.get("format") != FORMAT:
        return None
    summary = FileSummary(path, blob, unidentified=data["unidentified"],
                          problems=[diagnostic_from_json(d, path) for d in data["problems"]])
    for d in data["docs"]:
        subject = (d["kind"], d["name"]) if d["kind"] and d["name"] else None
        facts = Facts.from_json(d["facts"], path, locate(d["index"])) if d["facts"] else None
        summary.docs.append(DocSummary(d["kind"], d["name"], d["index"], facts,
                                       [diagnostic_from_json(x, path, subject) for x in d["local"]], d["record"]))
    return summary


def decode_specs(payload: bytes) -> dict[int, str]:
    return {int(k): v for k, v in json.loads(payload).items()}


# ---- the whole tree ----------------------------------------------------------------------------


@dataclass
class Assembled:
    diagnostics: list[Diagnostic]
    valid: list[tuple[FileSummary, DocSummary]]  # documents with no errors, in path order
    invalid: dict[tuple[str, str], list[Diagnostic]]
    incomplete: bool  # some file could not be read: names in it are unknown


def assemble(files: Iterable[FileSummary]) -> Assembled:
    """Global rules over every file's facts; a document with any error leaves the valid set."""
    files = list(files)
    diagnostics: list[Diagnostic] = []
    invalid: dict[tuple[str, str], list[Diagnostic]] = {}
    incomplete = False
    candidates: list[tuple[FileSummary, DocSummary]] = []
    for f in files:
        diagnostics.extend(f.problems)
        if f.unidentified or any(p.is_error for p in f.problems):
            incomplete = True
        for d in f.docs:
            diagnostics.extend(d.local)
            errors = [x for x in d.local if x.is_error]
            if d.facts is None or errors:
                if d.identity is not None:
                    invalid.setdefault(d.identity, []).extend(errors or d.local)
                continue
            candidates.append((f, d))
    found = global_checks([d.facts for _, d in candidates if d.facts is not None], invalid=list(invalid))
    diagnostics.extend(found)
    for diag in found:
        if diag.is_error and diag.subject is not None:
            invalid.setdefault(diag.subject, []).append(diag)
    valid = [(f, d) for f, d in candidates if d.identity not in invalid]
    diagnostics.sort(key=sort_key)
    return Assembled(diagnostics, valid, invalid, incomplete)
