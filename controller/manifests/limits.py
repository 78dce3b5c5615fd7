"""What each channel can show (../shared/fixtures/README.md), and how adapters degrade the rest."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelLimits:
    text: int  # characters of a text body
    buttons: int  # reply buttons (WhatsApp) or quick replies (Meta pages) shown as such
    button_title: int | None  # None: the channel takes long titles
    lists: bool  # has native list messages
    list_rows: int = 0
    list_sections: int = 0
    row_title: int = 0
    row_description: int = 0
    list_button: int = 0
    degrade_buttons: str = "numbered text"  # what the adapter does with more buttons than `buttons`
    degrade_list: str = "numbered text"


LIMITS: dict[str, ChannelLimits] = {
    "whatsapp": ChannelLimits(
        text=4096,
        buttons=3,
        button_title=20,
        lists=True,
        list_rows=10,
        list_sections=10,
        row_title=24,
        row_description=72,
        list_button=20,
        degrade_buttons="a list message (up to 10 rows), numbered text beyond that",
    ),
    "messenger": ChannelLimits(text=2000, buttons=13, button_title=20, lists=False,
                               degrade_list="quick replies (up to 13 rows), numbered text beyond that"),
    "instagram": ChannelLimits(text=1000, buttons=13, button_title=20, lists=False,
                               degrade_list="quick replies (up to 13 rows), numbered text beyond that"),
    "viber": ChannelLimits(text=7000, buttons=24, button_title=None, lists=False,
                           degrade_list="keyboard buttons (up to 24 rows), numbered text beyond that"),
}

VIBER_SENDER_NAME = 28
