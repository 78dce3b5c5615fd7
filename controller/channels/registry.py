"""The channel adapters by name: adding a channel is one module and one line here."""

from __future__ import annotations

from .base import ChannelAdapter
from .instagram import InstagramAdapter
from .messenger import MessengerAdapter
from .viber import ViberAdapter
from .whatsapp import WhatsAppAdapter

ADAPTERS: dict[str, ChannelAdapter] = {
    "whatsapp": WhatsAppAdapter(),
    "messenger": MessengerAdapter(),
    "instagram": InstagramAdapter(),
    "viber": ViberAdapter(),
}


class UnknownChannel(LookupError):
    """No adapter for that channel name (the host answers 404)."""


def adapter(channel: str) -> ChannelAdapter:
    """The adapter for `channel`; UnknownChannel names the channels there are."""
    try:
        return ADAPTERS[channel]
    except KeyError:
        raise UnknownChannel(f"no channel {channel!r}; channels are: {', '.join(sorted(ADAPTERS))}") from None
