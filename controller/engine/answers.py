"""Reading a contact's answer as what a question expects: text, number, email, phone, choice, date."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from controller.manifests.expressions import to_date, to_number

from .content import Option
from .inputs import Inbound

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
PHONE_SEPARATORS = re.compile(r"[\s().\-]")
PHONE = re.compile(r"^\+?[0-9]{6,15}$")


@dataclass(frozen=True)
class Answer:
    value: Any  # what `save_as` stores
    text: str | None  # what the contact sent
    id: str | None = None  # the option id of a choice


def read(expect: str, inbound: Inbound, choices: Sequence[Option]) -> Answer | None:
    """The answer, or None when the message is not a valid one."""
    if not inbound.answers:
        return None
    text = (inbound.text or "").strip()
    if expect == "choice":
        option = choose(inbound, choices)
        return Answer(option.id, inbound.text, option.id) if option is not None else None
    if not text:
        return None
    if expect == "text":
        tapped = choose(inbound, choices) if inbound.reply_id is not None else None
        return Answer(text, inbound.text, tapped.id if tapped else None)
    if expect == "number":
        number = to_number(text)
        return Answer(number, inbound.text) if number is not None else None
    if expect == "email":
        return Answer(text, inbound.text) if EMAIL.match(text) else None
    if expect == "phone":
        compact = PHONE_SEPARATORS.sub("", text)
        return Answer(compact, inbound.text) if PHONE.match(compact) else None
    if expect == "date":
        day = to_date(text)
        return Answer(day.isoformat(), inbound.text) if day is not None else None
    raise ValueError(f"unknown expectation {expect!r}")


def choose(inbound: Inbound, choices: Sequence[Option]) -> Option | None:
    """A tapped id; else typed text equal to a title (trimmed, case-folded); else the number of an
    option as channels that degrade buttons to numbered text show them ("2" for the second)."""
    if inbound.reply_id is not None:
        for option in choices:
            if option.id == inbound.reply_id:
                return option
    typed = " ".join((inbound.text or "").split()).casefold()
    if not typed:
        return None
    for option in choices:
        if " ".join(option.title.split()).casefold() == typed:
            return option
    if typed.isdigit() and 1 <= int(typed) <= len(choices):
        return choices[int(typed) - 1]
    return None
