"""Channel-neutral messages: what adapters parse webhooks into and render sends from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

InboundKind = Literal["message", "status", "subscribed", "unsubscribed", "conversation_started", "other"]
MessageType = Literal[
    "text", "button", "list", "quick_reply", "postback", "media", "location", "contact", "unsupported"
]
DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


@dataclass(frozen=True)
class Contact:
    address: str  # the channel's id of the person: WhatsApp wa_id, Meta PSID/IGSID, Viber user id
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class MediaRef:
    kind: Literal["image", "video", "audio", "document", "sticker", "story_mention", "file"]
    url: str | None = None  # a link (Meta attachments, Viber media)
    id: str | None = None  # a media id to download (WhatsApp)
    caption: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    message_id: str  # the channel's id of OUR outgoing message
    status: DeliveryStatus
    error_code: str | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class InboundEvent:
    """One thing a channel told us, in payload order.

    `message_id` is the channel's id of the inbound message (the dedupe key, kept exact as a
    string: Viber's 64-bit tokens must not pass through a float). For a `message`, `type` says
    what arrived; a tapped button, list row, quick reply or postback carries `reply_id` (the
    option id we sent) and `text` (its title or payload text).
    """

    channel: str  # whatsapp | messenger | instagram | viber
    account_channel_id: str | None  # phone_number_id / page id / IG user id the event was sent to
    kind: InboundKind
    contact: Contact | None = None
    message_id: str | None = None
    type: MessageType | None = None
    text: str | None = None
    reply_id: str | None = None
    media: MediaRef | None = None
    location: Location | None = None
    status: StatusUpdate | None = None
    timestamp: float | None = None  # seconds since the epoch, as the channel stamped it
    detail: dict[str, Any] = field(default_factory=dict)  # anything else worth recording


@dataclass(frozen=True)
class OutButton:
    id: str
    title: str


@dataclass(frozen=True)
class OutRow:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class OutSection:
    title: str | None
    rows: tuple[OutRow, ...]


@dataclass(frozen=True)
class OutList:
    button: str
    sections: tuple[OutSection, ...]


@dataclass(frozen=True)
class OutMedia:
    kind: Literal["image", "video", "audio", "document"]
    url: str
    caption: str | None = None


@dataclass(frozen=True)
class OutTemplate:
    name: str
    language: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message (templates already filled in), ready for an adapter to send.

    Exactly one of text / media / template; buttons or list go with text.
    """

    text: str | None = None
    buttons: tuple[OutButton, ...] = ()
    list: OutList | None = None
    media: OutMedia | None = None
    template: OutTemplate | None = None
