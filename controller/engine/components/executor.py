"""The shape of a component executor: what it does on entry, and on each input while it waits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..inputs import Inbound
from ..run import Move, Run
from ..session import Deadline

Enter = Callable[[Any, str, Run], Move]
OnMessage = Callable[[Any, str, Run, Inbound], Move]
OnTimer = Callable[[Any, str, Run, Deadline], Move]
OnRelease = Callable[[Any, str, Run], Move]


@dataclass(frozen=True)
class Executor:
    """`enter` runs when the conversation reaches the node. A waiting component also says what a
    message, its own deadline, or a release does; None means the input does not apply there."""

    enter: Enter
    on_message: OnMessage | None = None
    on_timer: OnTimer | None = None
    on_release: OnRelease | None = None
