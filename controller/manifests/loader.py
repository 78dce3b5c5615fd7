"""Safe YAML loading: the C parser first, its node marks (composed again) only to place a diagnostic."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from .diagnostics import Diagnostic

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 200_000
MANIFEST_SUFFIXES = (".yaml", ".yml")

Loc = tuple[str | int, ...]


class _Constructor(SafeConstructor):
    """The safe constructor, except that timestamps stay the strings they were written as."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)


class _Resolver(VersionedResolver):
    """YAML 1.2 always (`yes` stays a string), and a quicker lookup of a plain scalar's type.

    ruamel asks for the YAML version and builds a fresh list and Tag for every scalar; this looks
    up the same table (by first character) once per character and reuses the tags.
    """

    processing_version = (1, 2)
    _plain: dict[str, list[tuple[Tag, Any]]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode or not implicit[0] or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        first = value[:1]
        candidates = self._plain.get(first)
        if candidates is None:
            table = self.versioned_resolver
            candidates = [(Tag(suffix=tag), regexp) for tag, regexp in [*table.get(first, []), *table.get(None, [])]]
            self._plain[first] = candidates
        for tag, regexp in candidates:
            if regexp.match(value):
                return tag
        return self.DEFAULT_SCALAR_TAG


def _safe_yaml(pure: bool) -> YAML:
    yaml = YAML(typ="safe", pure=pure)
    yaml.Constructor = _Constructor
    yaml.Resolver = _Resolver
    return yaml


_FAST = _safe_yaml(pure=False)
# libyaml (the C parser) rejects a few valid plain scalars, e.g. `{text: Your name?, next: x}`;
# the pure parser gets a second look at a file the C one refused, so a valid file never fails.
_PURE = _safe_yaml(pure=True)
_PARSERS = (_FAST, _PURE)
# A tag (`!`) or an alias (`*`) can only start a node: after white space, a flow indicator or
# `:` (a JSON-style key may be followed directly by its value: {"a":!!binary x}).
_NODE_START = frozenset(" \t\r\n[{,:")


def _maybe_node_starting_with(text: str, char: str) -> bool:
    at = text.find(char)
    while at != -1:
        if at == 0 or text[at - 1] in _NODE_START:
            return True
        at = text.find(char, at + 1)
    return False


@dataclass(frozen=True)
class SourceFile:
    """A manifest file's text, with the path diagnostics print."""

    path: str
    text: str
    blob: str | None = None  # git object id when read from a commit


@dataclass
class RawDocument:
    """One YAML document of a file, before the models see it."""

    file: SourceFile
    index: int
    data: Any

    def locate(self, loc: Loc, want: str = "value") -> tuple[int, int]:
        return locate(self.file.text, self.index, loc, want)


@dataclass
class LoadResult:
    documents: list[RawDocument] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def merge(self, other: "LoadResult") -> None:
        self.documents.extend(other.documents)
        self.diagnostics.extend(other.diagnostics)


def decode(path: str, data: bytes) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Bytes of a file -> its text, or CF001/CF002 with the place of the problem."""
    if len(data) > MAX_FILE_BYTES:
        return None, [
            Diagnostic.make(
                "CF001",
                f"file is {len(data)} bytes; manifests are limited to {MAX_FILE_BYTES} bytes (1 MiB)",
                path,
                hint="split the file: every file under the root may hold several documents, "
                "and any number of files may be used",
            )
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            Diagnostic.make(
                "CF002",
                f"byte 0x{data[exc.start]:02x} is not valid UTF-8",
                path,
                line,
                column,
                hint="save the file as UTF-8",
            )
        ]
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceFile(path, text), []


def parse(source: SourceFile) -> LoadResult:
    """Parse every document of one file; never raises for bad input."""
    result = LoadResult()
    path, text = source.path, source.text
    if _maybe_node_starting_with(text, "!") or _maybe_node_starting_with(text, "*"):
        problem = _scan_events(source)
        if problem is not None:
            result.diagnostics.append(problem)
            return result
    try:
        docs = construct_all(text)
    except Exception as exc:  # noqa: BLE001  (user input never raises: every failure is a diagnostic)
        if not _libyaml_only(exc):
            result.diagnostics.append(_load_error(source, exc))
            return result
        try:
            docs = list(_PURE.load_all(text))
        except Exception:  # noqa: BLE001  (both refuse it: report the first parser's words)
            result.diagnostics.append(_load_error(source, exc))
            return result
    docs, surrogate = _join_surrogates(source, docs)
    if surrogate is not None:
        result.diagnostics.append(surrogate)
        return result
    for index, data in enumerate(docs):
        if data is None:
            continue  # an empty document (e.g. a trailing `---`)
        result.documents.append(RawDocument(source, index, data))
    if not result.documents and not result.diagnostics:
        result.diagnostics.append(
            Diagnostic.make("CF008", "the file holds no YAML documents", path, hint="add a manifest or delete the file")
        )
    return result


# ---- constructing data ---------------------------------------------------------------------
# ruamel's constructor is general (merge keys, tags, object identity checks) and is most of the
# time a parse takes. Manifests are plain mappings, lists and text, so the composed nodes are
# turned into data here, with ruamel's own functions for numbers, booleans and nulls; anything
# unusual (merge keys, duplicate or non-text keys, other tags) goes to ruamel's constructor, so
# the result is always what ruamel would give (a property test compares the two).

_YAML_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _TIMESTAMP = (_YAML_TAG + t for t in ("str", "seq", "map", "timestamp"))
_SCALARS = {
    _YAML_TAG + "null": SafeConstructor.construct_yaml_null,
    _YAML_TAG + "bool": SafeConstructor.construct_yaml_bool,
    _YAML_TAG + "int": SafeConstructor.construct_yaml_int,
    _YAML_TAG + "float": SafeConstructor.construct_yaml_float,
}


class _Unusual(Exception):
    """The document needs ruamel's general constructor."""


def construct_all(text: str) -> list[Any]:
    """Every document of a YAML text as plain data (None for an empty document)."""
    nodes = list(_FAST.compose_all(text))
    constructor = _FAST.constructor
    try:
        return [_data(node, {}, constructor) for node in nodes]
    except (_Unusual, RecursionError):
        return list(_FAST.load_all(text))


def _data(node: Node, memo: dict[int, Any], constructor: SafeConstructor) -> Any:
    tag = node.tag
    if isinstance(node, ScalarNode):
        if tag == _STR:
            return node.value
        make = _SCALARS.get(tag)  # type: ignore[arg-type]
        if make is not None:
            return make(constructor, node)
        if tag == _TIMESTAMP:
            return node.value  # dates stay the text they were written as
        raise _Unusual
    done = memo.get(id(node))
    if done is not None:
        return done  # an alias: the same object, as ruamel gives it
    if isinstance(node, SequenceNode) and tag == _SEQ:
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_data(item, memo, constructor) for item in node.value)
        return items
    if isinstance(node, MappingNode) and tag == _MAP:
        mapping: dict[Any, Any] = {}
        memo[id(node)] = mapping
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Unusual
            key = _data(key_node, memo, constructor)
            if key in mapping or key_node.tag == _YAML_TAG + "merge":
                raise _Unusual
            mapping[key] = _data(value_node, memo, constructor)
        return mapping
    raise _Unusual


def _libyaml_only(exc: Exception) -> bool:
    """A syntax error the pure parser may not share (not a duplicate key, tag or reader error)."""
    return isinstance(exc, MarkedYAMLError) and type(exc).__name__ in ("ParserError", "ScannerError")


def _load_error(source: SourceFile, exc: Exception) -> Diagnostic:
    path = source.path
    if isinstance(exc, MarkedYAMLError):
        return _yaml_error(path, exc)
    if isinstance(exc, ReaderError):
        line, column = _position(source.text, exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return Diagnostic.make("CF003", f"character U+{char:04X} is not allowed in YAML ({exc.reason})",
                               path, line, column, hint="remove the control character, or write it as an escape in a double-quoted string")
    if isinstance(exc, RecursionError):
        return Diagnostic.make("CF003", "the document nests too deeply", path, hint="flatten the structure")
    return Diagnostic.make("CF003", f"the file cannot be read as YAML: {_first_line(str(exc))}", path)


# YAML reads a double-quoted `\ud83d` escape as one character, so a UTF-16 surrogate pair written
# as two escapes (as JSON writers do: JSON is YAML) gives two surrogates, which no UTF-8 encoder
# accepts. A pair is joined into its character, as a JSON reader would; a lone half is an error.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATES = re.compile("[\ud800-\udfff]")
_LONE_SURROGATE_ESCAPE = re.compile(  # a high half not followed by a low one, or a low half not after a high one
    r"\\u[dD][89aAbB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89aAbB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _join_surrogates(source: SourceFile, docs: list[Any]) -> tuple[list[Any], Diagnostic | None]:
    """The documents with surrogate pairs joined, or a diagnostic at the first escape of a lone half."""
    if _SURROGATE_ESCAPE.search(source.text) is None:  # only an escape makes a surrogate
        return docs, None
    try:
        return [_joined(d) for d in docs], None
    except UnicodeDecodeError:
        match = _LONE_SURROGATE_ESCAPE.search(source.text) or _SURROGATE_ESCAPE.search(source.text)
        assert match is not None
        line, column = _position(source.text, match.start())
        return docs, Diagnostic.make(
            "CF003", f"`{match.group(0)}` is half of a UTF-16 surrogate pair, with no other half: it makes no valid text",
            source.path, line, column, hint="write the character itself, or one \\UXXXXXXXX escape for it (e.g. \\U0001F600)")


def _joined(value: Any) -> Any:
    if isinstance(value, str):
        if _SURROGATES.search(value) is None:
            return value
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")  # strict: a lone half raises
    if isinstance(value, dict):
        return {_joined(k): _joined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_joined(v) for v in value]
    return value


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    before = text[: max(0, index)]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "YAML error"


def _yaml_error(path: str, exc: MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = (exc.problem or exc.context or "YAML error").strip()
    if type(exc).__name__ == "DuplicateKeyError":
        key = re.search(r'duplicate key "(.*?)"', problem)
        name = key.group(1) if key else "?"
        first = exc.context_mark
        where = f" (first at line {first.line + 1})" if first is not None else ""
        return Diagnostic.make(
            "CF004",
            f"duplicate key `{name}`{where}",
            path,
            line,
            column,
            hint="a key may appear once per mapping; remove or rename one of them",
        )
    if "constructor for the tag" in problem:
        return Diagnostic.make("CF005", problem, path, line, column, hint="remove the tag; manifests are plain data")
    context = f" {exc.context.strip()}" if exc.context and exc.problem else ""
    return Diagnostic.make("CF003", f"{problem}{context}", path, line, column, hint=_syntax_hint(problem))


def _syntax_hint(problem: str) -> str | None:
    if "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains `: `"
    if "could not find expected ':'" in problem or "expected <block end>" in problem:
        return "check the indentation of this line against the lines above"
    return None


def _scan_events(source: SourceFile) -> Diagnostic | None:
    """Reject explicit tags and alias bombs before constructing anything."""
    problem = _scan_with(_FAST, source)
    if problem is not None and problem.code == "CF003":
        second = _scan_with(_PURE, source)
        return problem if second is not None and second.code == "CF003" else second
    return problem


def _scan_with(parser: YAML, source: SourceFile) -> Diagnostic | None:
    sizes: list[int] = []  # expanded node count of each open collection
    anchors: dict[str, int] = {}
    open_anchor: list[str | None] = []
    total = 0
    try:
        for event in parser.parse(source.text):
            if isinstance(event, NodeEvent) and not isinstance(event, AliasEvent):
                tag = getattr(event, "tag", None)
                explicit = tag is not None and not (isinstance(event, ScalarEvent) and tag == "!")
                if explicit:
                    mark = event.start_mark
                    return Diagnostic.make(
                        "CF005",
                        f"YAML tag `{tag}` is not allowed",
                        source.path,
                        mark.line + 1,
                        mark.column + 1,
                        hint="remove the tag; manifests are plain data (quote the value if it must stay a string)",
                    )
            if isinstance(event, CollectionStartEvent):
                sizes.append(1)
                open_anchor.append(event.anchor)
                continue
            if isinstance(event, CollectionEndEvent):
                size = sizes.pop()
                anchor = open_anchor.pop()
                if anchor:
                    anchors[anchor] = size
                node_size = size
            elif isinstance(event, ScalarEvent):
                node_size = 1
                if event.anchor:
                    anchors[event.anchor] = 1
            elif isinstance(event, AliasEvent):
                if event.anchor in open_anchor:
                    mark = event.start_mark
                    return Diagnostic.make(
                        "CF006",
                        f"alias `*{event.anchor}` sits inside its own anchor: the data would contain itself",
                        source.path,
                        mark.line + 1,
                        mark.column + 1,
                        hint="write the data out instead of referring back to an enclosing anchor",
                    )
                node_size = anchors.get(event.anchor, 1)
            else:
                continue
            if sizes:
                sizes[-1] += node_size
            total += node_size if isinstance(event, AliasEvent) else 0
            if total > MAX_EXPANDED_NODES or (sizes and sizes[-1] > MAX_EXPANDED_NODES):
                mark = event.start_mark
                return Diagnostic.make(
                    "CF006",
                    f"aliases expand to more than {MAX_EXPANDED_NODES} nodes",
                    source.path,
                    mark.line + 1,
                    mark.column + 1,
                    hint="write the data out instead of nesting aliases",
                )
    except Exception as exc:  # noqa: BLE001  (reported, like every parse failure)
        return _load_error(source, exc)
    return None


def discover(root: Path) -> list[Path]:
    """Every manifest file under root, recursively, in a stable order (hidden dirs skipped)."""
    if root.is_file():
        return [root]
    found = [
        p
        for p in root.rglob("*")
        if p.suffix in MANIFEST_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)


# Parsing is most of the time `validate` takes; with many files it is spread over the CPUs.
PARALLEL_MIN_FILES = 200


def load_paths(paths: Iterable[Path], display_base: Path | None = None, workers: int | None = None) -> LoadResult:
    """Read and parse files from disk, in order. With many files (PARALLEL_MIN_FILES) and more
    than one CPU they are parsed by a pool of processes; `workers=1` forces one process."""
    jobs = [(p, _display(p, display_base)) for p in paths]
    count = _worker_count(len(jobs)) if workers is None else workers
    if count <= 1:
        return _load_files(jobs)
    chunk = -(-len(jobs) // (count * 4))  # a few chunks per worker evens out uneven files
    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    result = LoadResult()
    try:
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
            for part in pool.map(_load_files, chunks):
                result.merge(part)
    except (OSError, BrokenProcessPool):  # no processes to be had: the same work, in this one
        return _load_files(jobs)
    return result


def _worker_count(files: int) -> int:
    if files < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1:
        return 1  # forking a threaded process (the server) is unsafe; it parses in-line
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    try:
        busy = max(0.0, os.getloadavg()[0] - 1)  # the load of others: this process counts for 1
    except OSError:
        busy = 0.0
    # CPUs other programs keep busy give nothing but the cost of shipping results between processes
    return max(1, min(cpus - int(busy + 0.5), 8))


def _load_files(jobs: list[tuple[Path, str]]) -> LoadResult:
    result = LoadResult()
    for p, shown in jobs:
        try:
            data = p.read_bytes()
        except OSError as exc:
            result.diagnostics.append(Diagnostic.make("CF003", f"cannot read file: {exc.strerror}", shown))
            continue
        result.merge(load_bytes(shown, data))
    return result


def load_bytes(path: str, data: bytes, blob: str | None = None) -> LoadResult:
    source, problems = decode(path, data)
    if source is None:
        return LoadResult([], problems)
    if blob is not None:
        source = SourceFile(source.path, source.text, blob)
    return parse(source)


def _display(p: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(p.resolve().relative_to(base.resolve()))
        except ValueError:
            pass
    return str(p)


# ---- positions ---------------------------------------------------------------------------
# Placing a diagnostic composes the file again (C composer, the pure one as a fallback) and
# walks the node tree: every node keeps the mark where it starts. Only files with diagnostics
# pay for it, once per text.

_MERGE = "<<"


@lru_cache(maxsize=64)
def _composed(text: str) -> tuple[Node, ...]:
    for parser in _PARSERS:
        try:
            return tuple(parser.compose_all(text))
        except Exception:  # noqa: BLE001  (only placing a diagnostic; 1:1 is the fallback)
            continue
    return ()


def locate(text: str, doc_index: int, loc: Loc, want: str = "value") -> tuple[int, int]:
    """1-based (line, column) of the node at `loc` in document `doc_index`.

    `want` is "value" (the node itself), or "key" (the key that holds it). Path elements that
    do not exist in the document (a missing field's name) are skipped, so the deepest existing
    node is placed; a key merged in with `<<:` is placed at the mapping that merges it.
    """
    documents = _composed(text)
    if doc_index >= len(documents):
        return 1, 1
    node = documents[doc_index]
    position = _mark(node)
    for element in loc:
        if isinstance(node, MappingNode):
            pair = _pair(node, element)
            if pair is None:
                if any(_is_merge(k) for k, _ in node.value):
                    break
                continue
            key, node = pair
            position = _mark(key) if want == "key" else _mark(node)
        elif isinstance(node, SequenceNode) and isinstance(element, int) and 0 <= element < len(node.value):
            node = node.value[element]
            position = _mark(node)
    return position[0] + 1, position[1] + 1


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line, node.start_mark.column


def _is_merge(key: Node) -> bool:
    return isinstance(key, ScalarNode) and key.value == _MERGE and not key.tag.endswith(":str")


def _pair(node: MappingNode, element: Any) -> tuple[Node, Node] | None:
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if isinstance(element, str):
            if key.value == element and key.tag.endswith(":str"):
                return key, value
        elif _scalar(key) == element and type(_scalar(key)) is type(element):
            return key, value
    return None


def _scalar(node: ScalarNode) -> Any:
    """A key as the loader constructs it (1, None, True), to match a location's non-text key."""
    constructor = _PURE.constructor
    try:
        return constructor.construct_object(node, deep=True)
    except Exception:  # noqa: BLE001
        return node.value
    finally:
        constructor.constructed_objects.pop(node, None)
