"""The relay's answers to what lower apps announce (they may not import the relay)."""

from __future__ import annotations

from typing import Any

from relay.services.escalations import handoffs_mark_receiver_not_notified


def on_receiver_not_notified(sender: Any, *, handoff_ids: list[int], **_: Any) -> None:
    handoffs_mark_receiver_not_notified(handoff_ids=handoff_ids)
