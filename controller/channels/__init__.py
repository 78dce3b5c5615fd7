"""Channel adapters: verify, parse, render and send for WhatsApp, Messenger, Instagram and Viber."""

from .base import ChannelAdapter, Handshake, ParseError, RenderError, SendResult, SignatureCheck
from .registry import ADAPTERS, UnknownChannel, adapter

__all__ = [
    "ADAPTERS",
    "ChannelAdapter",
    "Handshake",
    "ParseError",
    "RenderError",
    "SendResult",
    "SignatureCheck",
    "UnknownChannel",
    "adapter",
]
