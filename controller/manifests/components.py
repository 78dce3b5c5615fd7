"""The component models: one per node `type`, registered in COMPONENTS (DESIGN §2)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, List, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

NODE_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
DURATION_PATTERN = r"^[0-9]+(s|m|h|d)$"

NodeId = Annotated[str, StringConstraints(pattern=NODE_ID_PATTERN, max_length=64)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
Template = str  # text fields are Jinja templates, compiled by validation (expressions.py)
Expression = str

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: str) -> int:
    """`90s` -> 90, `2h` -> 7200; the string was validated against DURATION_PATTERN."""
    return int(value[:-1]) * _UNITS[value[-1]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SecretRef(Strict):
    """A secret by reference: `{env: NAME}` or `{file: PATH}`; never a literal."""

    env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    file: Annotated[str, StringConstraints(min_length=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _reference_only(cls, data: Any) -> Any:
        if isinstance(data, (str, int, float)):
            raise PydanticCustomError(
                "literal_secret",
                "a literal secret is not allowed here; use {env: NAME} or {file: PATH}",
            )
        if isinstance(data, dict) and len([k for k in ("env", "file") if data.get(k) is not None]) != 1:
            raise PydanticCustomError(
                "secret_ref_shape", "a secret reference has exactly one of `env` or `file`"
            )
        return data


class Button(Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    title: Annotated[str, StringConstraints(min_length=1)]


ButtonSpec = Union[Annotated[str, StringConstraints(min_length=1, max_length=256)], Button]


def button_of(spec: ButtonSpec) -> Button:
    return Button(id=spec, title=spec) if isinstance(spec, str) else spec


class ListRow(Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    title: Annotated[str, StringConstraints(min_length=1)]
    description: str | None = None


class ListSection(Strict):
    title: str | None = None
    rows: List[ListRow] = Field(min_length=1)


class ListSpec(Strict):
    button: Annotated[str, StringConstraints(min_length=1)]
    sections: List[ListSection] = Field(min_length=1)

    def rows(self) -> List[ListRow]:
        return [row for section in self.sections for row in section.rows]


class Media(Strict):
    kind: Literal["image", "video", "audio", "document"]
    url: Template
    caption: Template | None = None


class MessageTemplate(Strict):
    name: Annotated[str, StringConstraints(min_length=1)]
    language: Annotated[str, StringConstraints(min_length=2)]
    params: List[Template] = []


class Component(Strict):
    """Base of every node model. `targets()` lists (field path, node id) of its ways out."""

    type: str
    WAITS: ClassVar[bool] = False

    def targets(self) -> List[tuple[tuple[str | int, ...], str]]:
        out: List[tuple[tuple[str | int, ...], str]] = []
        for name in _target_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, str):
                out.append(((name,), value))
        return out

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        """(field path, template source) of every text field."""
        return []

    def expressions(self) -> List[tuple[tuple[str | int, ...], str]]:
        """(field path, expression source) of every condition or value expression."""
        return []

    def assigns(self) -> List[str]:
        """Variables this node sets."""
        return []


_TARGET_NAMES = ("next", "default", "on_failure", "on_invalid", "target")
_TARGET_FIELDS: dict[type, tuple[str, ...]] = {}


def _target_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """The target fields a component class has (looked up once: a missing attribute is slow on a model)."""
    found = _TARGET_FIELDS.get(cls)
    if found is None:
        found = _TARGET_FIELDS[cls] = tuple(n for n in _TARGET_NAMES if n in cls.model_fields)
    return found


class _Content(Component):
    """Fields shared by message, question and send."""

    text: Template | None = None
    buttons: List[ButtonSpec] | None = None
    list: ListSpec | None = None

    def button_models(self) -> List[Button]:
        return [button_of(b) for b in self.buttons or []]

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        out: List[tuple[tuple[str | int, ...], str]] = []
        if self.text is not None:
            out.append((("text",), self.text))
        for i, b in enumerate(self.buttons or []):
            out.append((("buttons", i) if isinstance(b, str) else ("buttons", i, "title"), button_of(b).title))
        return out

    @model_validator(mode="after")
    def _buttons_or_list(self) -> "_Content":
        if self.buttons is not None and self.list is not None:
            raise PydanticCustomError("content_shape", "use either `buttons` or `list`, not both")
        return self


class _Message(_Content):
    media: Media | None = None
    template: MessageTemplate | None = None

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        out = super().templates()
        if self.media is not None:
            out.append((("media", "url"), self.media.url))
            if self.media.caption is not None:
                out.append((("media", "caption"), self.media.caption))
        if self.template is not None:
            out.extend((("template", "params", i), p) for i, p in enumerate(self.template.params))
        return out

    @model_validator(mode="after")
    def _one_body(self) -> "_Message":
        bodies = [n for n in ("text", "media", "template") if getattr(self, n) is not None]
        if len(bodies) != 1:
            raise PydanticCustomError(
                "content_shape",
                "a message has exactly one of `text`, `media` or `template` (found {found})",
                {"found": ", ".join(bodies) or "none"},
            )
        if (self.buttons or self.list) and self.text is None:
            raise PydanticCustomError("content_shape", "`buttons` and `list` go with `text`")
        return self


class Start(Component):
    type: Literal["start"]
    next: NodeId


class End(Component):
    type: Literal["end"]
    outcome: str | None = None


class Message(_Message):
    type: Literal["message"]
    next: NodeId


class QuestionTimeout(Strict):
    after: Duration
    next: NodeId


class Question(_Content):
    type: Literal["question"]
    WAITS: ClassVar[bool] = True
    text: Template
    expect: Literal["text", "number", "email", "phone", "choice", "date"] | None = None
    save_as: NodeId | None = None
    retries: int = Field(default=2, ge=0, le=10)
    invalid_text: Template | None = None
    timeout: QuestionTimeout | None = None
    next: NodeId
    on_invalid: NodeId | None = None

    @property
    def expected(self) -> str:
        if self.expect is not None:
            return self.expect
        return "choice" if (self.buttons or self.list) else "text"

    def targets(self) -> List[tuple[tuple[str | int, ...], str]]:
        out = super().targets()
        if self.timeout is not None:
            out.append((("timeout", "next"), self.timeout.next))
        return out

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        out = super().templates()
        if self.invalid_text is not None:
            out.append((("invalid_text",), self.invalid_text))
        return out

    def assigns(self) -> List[str]:
        return [self.save_as] if self.save_as else []

    @model_validator(mode="after")
    def _choice_needs_options(self) -> "Question":
        if self.expect == "choice" and not (self.buttons or self.list):
            raise PydanticCustomError("content_shape", "`expect: choice` needs `buttons` or a `list`")
        return self


class Branch(Strict):
    when: Expression
    next: NodeId


class Condition(Component):
    type: Literal["condition"]
    branches: List[Branch] = Field(min_length=1)
    default: NodeId | None = None

    def targets(self) -> List[tuple[tuple[str | int, ...], str]]:
        out = super().targets()
        out.extend((("branches", i, "next"), b.next) for i, b in enumerate(self.branches))
        return out

    def expressions(self) -> List[tuple[tuple[str | int, ...], str]]:
        return [(("branches", i, "when"), b.when) for i, b in enumerate(self.branches)]


class Set(Component):
    type: Literal["set"]
    values: dict[NodeId, Expression] = Field(min_length=1)
    next: NodeId

    def expressions(self) -> List[tuple[tuple[str | int, ...], str]]:
        return [(("values", k), v) for k, v in self.values.items()]

    def assigns(self) -> List[str]:
        return list(self.values)


HeaderValue = Union[str, SecretRef]  # str first: a plain header never runs the reference check


class Http(Component):
    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: Template
    headers: dict[str, HeaderValue] = {}
    query: dict[str, Template] = {}
    body: Any = None
    body_type: Literal["json", "form"] = "json"
    timeout: Duration = "10s"
    save: dict[NodeId, str] = {}
    next: NodeId
    on_failure: NodeId | None = None

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        out: List[tuple[tuple[str | int, ...], str]] = [(("url",), self.url)]
        out.extend((("headers", k), v) for k, v in self.headers.items() if isinstance(v, str))
        out.extend((("query", k), v) for k, v in self.query.items())
        out.extend(_body_templates(self.body, ("body",)))
        return out

    def assigns(self) -> List[str]:
        return list(self.save)


def _body_templates(value: Any, path: tuple[str | int, ...]) -> List[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _body_templates(v, (*path, k))]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _body_templates(v, (*path, i))]
    return []


class Delay(Component):
    type: Literal["delay"]
    WAITS: ClassVar[bool] = True
    duration: Duration
    next: NodeId


class WeightedBranch(Strict):
    weight: int = Field(ge=0)
    next: NodeId


class Split(Component):
    type: Literal["split"]
    branches: List[WeightedBranch] = Field(min_length=1)

    def targets(self) -> List[tuple[tuple[str | int, ...], str]]:
        return [(("branches", i, "next"), b.next) for i, b in enumerate(self.branches)]

    @model_validator(mode="after")
    def _some_weight(self) -> "Split":
        if sum(b.weight for b in self.branches) <= 0:
            raise PydanticCustomError("content_shape", "a split needs at least one branch with weight > 0")
        return self


class Handoff(Component):
    type: Literal["handoff"]
    WAITS: ClassVar[bool] = True
    note: Template | None = None
    timeout: Duration | None = None
    next: NodeId

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        return [(("note",), self.note)] if self.note is not None else []


class Goto(Component):
    type: Literal["goto"]
    target: NodeId
    max_jumps: int = Field(ge=1, le=1000)
    next: NodeId


FLOW_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
FlowName = Annotated[str, StringConstraints(pattern=FLOW_NAME_PATTERN, max_length=63)]


class StartFlow(Component):
    type: Literal["start_flow"]
    flow: FlowName
    variables: dict[NodeId, Expression] = {}

    def expressions(self) -> List[tuple[tuple[str | int, ...], str]]:
        return [(("variables", k), v) for k, v in self.variables.items()]


class Send(_Message):
    type: Literal["send"]
    account: FlowName
    to: Template
    next: NodeId

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        return [(("to",), self.to), *super().templates()]


class Llm(Component):
    type: Literal["llm"]
    prompt: Template
    system: Template | None = None
    save_as: NodeId | None = None
    timeout: Duration = "30s"
    next: NodeId
    on_failure: NodeId | None = None

    def templates(self) -> List[tuple[tuple[str | int, ...], str]]:
        out: List[tuple[tuple[str | int, ...], str]] = [(("prompt",), self.prompt)]
        if self.system is not None:
            out.append((("system",), self.system))
        return out

    def assigns(self) -> List[str]:
        return [self.save_as] if self.save_as else []


COMPONENTS: dict[str, type[Component]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (Start, End, Message, Question, Condition, Set, Http, Delay, Split, Handoff, Goto, StartFlow, Send, Llm)
}

AnyComponent = Annotated[
    Union[Start, End, Message, Question, Condition, Set, Http, Delay, Split, Handoff, Goto, StartFlow, Send, Llm],
    Field(discriminator="type"),
]

SECRET_HEADER = re.compile(r"(authorization|token|secret|api[-_]?key|password|cookie)", re.I)
