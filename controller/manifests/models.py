"""Desired-state models of the three kinds: Flow, Account and FlowTest (DESIGN §2)."""

from __future__ import annotations

from typing import Annotated, Any, List, Literal, Union

from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .components import AnyComponent, Duration, FlowName, NodeId, SecretRef, Strict

API_VERSION = "chatflow/v1"
SUPPORTED_API_VERSIONS = ("chatflow/v1",)
KINDS = ("Flow", "Account", "FlowTest")
TRIGGER_TYPES = ("manual", "whatsapp", "instagram", "viber", "messenger")
CHANNELS = ("whatsapp", "messenger", "instagram", "viber")

LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=253)]


class Metadata(Strict):
    name: FlowName
    displayName: Annotated[str, StringConstraints(max_length=200)] | None = None
    remark: Annotated[str, StringConstraints(max_length=1000)] | None = None
    labels: dict[LabelKey, str] = {}
    annotations: dict[LabelKey, str] = {}


class Trigger(Strict):
    type: Literal["manual", "whatsapp", "instagram", "viber", "messenger"]
    account: FlowName | None = None
    keywords: List[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = []

    @property
    def is_message(self) -> bool:
        return self.type != "manual"

    def folded_keywords(self) -> List[str]:
        return [fold_keyword(k) for k in self.keywords]


def fold_keyword(text: str) -> str:
    """Keywords compare trimmed and case-folded (DESIGN §3)."""
    return " ".join(text.split()).casefold()


class Variable(Strict):
    type: Literal["string", "number", "boolean", "date", "list", "object"] = "string"
    default: Any = None


class FlowSpec(Strict):
    state: Literal["published", "unpublished"] = "unpublished"
    trigger: Trigger
    logging: bool = False
    expireAfter: Duration = "3d"
    variables: dict[NodeId, Variable] = {}
    nodes: dict[NodeId, AnyComponent] = Field(min_length=1)


class _Envelope(Strict):
    apiVersion: str
    metadata: Metadata

    @field_validator("apiVersion")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in SUPPORTED_API_VERSIONS:
            raise PydanticCustomError(
                "api_version",
                "apiVersion {value!r} is not supported; supported: {supported}",
                {"value": value, "supported": ", ".join(SUPPORTED_API_VERSIONS)},
            )
        return value


class Flow(_Envelope):
    kind: Literal["Flow"]
    spec: FlowSpec

    @property
    def name(self) -> str:
        return self.metadata.name


class WhatsAppCredentials(Strict):
    accessToken: SecretRef
    appSecret: SecretRef
    verifyToken: SecretRef


class MetaPageCredentials(Strict):
    pageAccessToken: SecretRef
    appSecret: SecretRef
    verifyToken: SecretRef


class ViberCredentials(Strict):
    authToken: SecretRef


class WhatsAppIds(Strict):
    phoneNumberId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]
    businessAccountId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")] | None = None


class MessengerIds(Strict):
    pageId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]


class InstagramIds(Strict):
    igUserId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]


class ViberBot(Strict):
    senderName: Annotated[str, StringConstraints(min_length=1)]
    senderAvatar: str | None = None


HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/$.?#][^\s]*$")]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{3,31}$")]


class _AccountSpec(Strict):
    phoneNumber: PhoneNumber | None = None
    apiBase: HttpUrl | None = None


class WhatsAppAccountSpec(_AccountSpec):
    channel: Literal["whatsapp"]
    credentials: WhatsAppCredentials
    whatsapp: WhatsAppIds

    def channel_id(self) -> str:
        return self.whatsapp.phoneNumberId


class MessengerAccountSpec(_AccountSpec):
    channel: Literal["messenger"]
    credentials: MetaPageCredentials
    messenger: MessengerIds

    def channel_id(self) -> str:
        return self.messenger.pageId


class InstagramAccountSpec(_AccountSpec):
    channel: Literal["instagram"]
    credentials: MetaPageCredentials
    instagram: InstagramIds

    def channel_id(self) -> str:
        return self.instagram.igUserId


class ViberAccountSpec(_AccountSpec):
    channel: Literal["viber"]
    credentials: ViberCredentials
    viber: ViberBot

    def channel_id(self) -> str | None:
        return None


AccountSpec = Annotated[
    Union[WhatsAppAccountSpec, MessengerAccountSpec, InstagramAccountSpec, ViberAccountSpec],
    Field(discriminator="channel"),
]


class Account(_Envelope):
    kind: Literal["Account"]
    spec: AccountSpec

    @property
    def name(self) -> str:
        return self.metadata.name


class Contact(Strict):
    id: str | None = None
    name: str | None = None
    phone: str | None = None


class MockedHttp(Strict):
    status: int = Field(default=200, ge=100, le=599)
    body: Any = None
    headers: dict[str, str] = {}


class ExpectedReply(Strict):
    text: str | None = None
    buttons: List[str] | None = None
    list: List[str] | None = None
    media: str | None = None


class Expectation(Strict):
    replies: List[Union[str, ExpectedReply]] | None = None
    vars: dict[str, Any] | None = None
    node: NodeId | None = None
    ended: bool | None = None
    outcome: str | None = None


class TestStep(Strict):
    say: str | None = None
    button: str | None = None
    timeout: Literal[True] | None = None
    http: MockedHttp | None = None
    llm: str | None = None
    expect: Expectation = Expectation()

    @model_validator(mode="after")
    def _one_input(self) -> "TestStep":
        given = [n for n in ("say", "button", "timeout", "http", "llm") if getattr(self, n) is not None]
        if len(given) > 1:
            raise PydanticCustomError(
                "content_shape",
                "a step has at most one of `say`, `button`, `timeout`, `http` or `llm` (found {found})",
                {"found": ", ".join(given)},
            )
        return self


class FlowTestSpec(Strict):
    flow: FlowName
    contact: Contact = Contact()
    variables: dict[str, Any] = {}
    steps: List[TestStep] = Field(min_length=1)


class FlowTest(_Envelope):
    kind: Literal["FlowTest"]
    spec: FlowTestSpec

    @property
    def name(self) -> str:
        return self.metadata.name


Manifest = Union[Flow, Account, FlowTest]
MODELS: dict[str, type[Flow] | type[Account] | type[FlowTest]] = {
    "Flow": Flow,
    "Account": Account,
    "FlowTest": FlowTest,
}
