"""The pure conversation engine: `advance(flow, session, input, now, services) -> Step`."""

from .engine import STEP_LIMIT, advance, start_node
from .events import Event, Execution, Outgoing, StartFlowRequest, Step
from .inputs import Inbound, Input, Release, Start, Stop, TimerFired
from .services import OFFLINE, HttpRequest, HttpResponse, LlmRequest, LlmResponse, Services
from .session import ConversationKey, Deadline, Reply, Said, Session, SessionFormatError

__all__ = [
    "STEP_LIMIT",
    "advance",
    "start_node",
    "Event",
    "Execution",
    "Outgoing",
    "StartFlowRequest",
    "Step",
    "Inbound",
    "Input",
    "Release",
    "Start",
    "Stop",
    "TimerFired",
    "OFFLINE",
    "HttpRequest",
    "HttpResponse",
    "LlmRequest",
    "LlmResponse",
    "Services",
    "ConversationKey",
    "Deadline",
    "Reply",
    "Said",
    "Session",
    "SessionFormatError",
]
