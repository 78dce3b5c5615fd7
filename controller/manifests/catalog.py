"""A manifest root, loaded and validated as a whole: the desired state plus its diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .diagnostics import Diagnostic, sort_key
from .documents import Document, build
from .loader import LoadResult, RawDocument, discover, load_paths
from .models import Account, Flow, FlowTest
from .validation import validate_documents


@dataclass
class Catalog:
    documents: list[Document] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # (kind, name) of manifests that exist but have errors; a flow here keeps its live revision
    invalid: dict[tuple[str, str], list[Diagnostic]] = field(default_factory=dict)
    # files whose documents could not be read at all (names unknown)
    broken_paths: set[str] = field(default_factory=set)

    @property
    def flows(self) -> dict[str, Flow]:
        return {d.name: d.manifest for d in self.documents if isinstance(d.manifest, Flow)}  # type: ignore[misc]

    @property
    def accounts(self) -> dict[str, Account]:
        return {d.name: d.manifest for d in self.documents if isinstance(d.manifest, Account)}  # type: ignore[misc]

    @property
    def tests(self) -> dict[str, FlowTest]:
        return {d.name: d.manifest for d in self.documents if isinstance(d.manifest, FlowTest)}  # type: ignore[misc]

    def document(self, kind: str, name: str) -> Document | None:
        return next((d for d in self.documents if d.kind == kind and d.name == name), None)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def for_paths(self, paths: Iterable[str]) -> list[Diagnostic]:
        wanted = set(paths)
        return [d for d in self.diagnostics if d.path in wanted or any(d.path.startswith(p.rstrip("/") + "/") for p in wanted)]


def load_root(root: Path, display_base: Path | None = None, secret_root: Path | None = None) -> Catalog:
    """Load every manifest under `root` from disk."""
    files = discover(root)
    return from_load(load_paths(files, display_base), secret_root if secret_root is not None else root)


def from_load(result: LoadResult, secret_root: Path | None = None) -> Catalog:
    catalog = Catalog(diagnostics=list(result.diagnostics))
    catalog.broken_paths.update(d.path for d in result.diagnostics if d.is_error)
    for raw in result.documents:
        document, problems = build(raw)
        catalog.diagnostics.extend(problems)
        if document is not None:
            catalog.documents.append(document)
        elif any(p.is_error for p in problems):
            identity = identify(raw)
            if identity is None:
                catalog.broken_paths.add(raw.file.path)
            else:
                catalog.invalid.setdefault(identity, []).extend(problems)
    semantic = validate_documents(catalog.documents, secret_root, invalid=list(catalog.invalid))
    catalog.diagnostics.extend(semantic)
    _mark_invalid(catalog, semantic)
    catalog.diagnostics.sort(key=sort_key)
    return catalog


def identify(raw: RawDocument) -> tuple[str, str] | None:
    """(kind, name) of a raw document when it says them, even if it is otherwise invalid."""
    data = raw.data
    if not isinstance(data, dict):
        return None
    kind, meta = data.get("kind"), data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(kind, str) and isinstance(name, str):
        return kind, name
    return None


def _mark_invalid(catalog: Catalog, semantic: list[Diagnostic]) -> None:
    """A document with a semantic error leaves the valid set and joins `invalid`."""
    bad: set[tuple[str, str]] = set()
    for diag in semantic:
        if diag.is_error and diag.subject is not None:
            bad.add(diag.subject)
            catalog.invalid.setdefault(diag.subject, []).append(diag)
    if bad:
        catalog.documents = [d for d in catalog.documents if (d.kind, d.name) not in bad]
